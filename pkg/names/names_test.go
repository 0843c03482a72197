package names

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

func TestHostName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		virtualCluster string
		namespace      string
		objectName     string
		want           string
	}{
		{name: "short", virtualCluster: "vc1", namespace: "default", objectName: "nginx", want: "nginx-x-default-x-vc1"},
		{name: "name ending in digits", virtualCluster: "vc1", namespace: "default", objectName: "web-0", want: "web-0-x-default-x-vc1"},
		{name: "cluster-scoped", virtualCluster: "vc1", objectName: "fast", want: "fast-x-vc1"},
		{
			name: "exactly at limit", virtualCluster: "vc1", namespace: "default",
			objectName: strings.Repeat("a", 63-len("-x-default-x-vc1")),
			want:       strings.Repeat("a", 63-len("-x-default-x-vc1")) + "-x-default-x-vc1",
		},
		// Golden values: the format is persisted in host clusters, so a change
		// here orphans existing host objects.
		{
			name: "over limit is truncated and hashed", virtualCluster: "vc1", namespace: "default",
			objectName: strings.Repeat("a", 50),
			want:       strings.Repeat("a", 50) + "-x-75b9dd7923",
		},
		{name: "separator inside a part is hashed", virtualCluster: "vc1", namespace: "b-x-c", objectName: "a", want: "a-x-b-x-c-x-vc1-5321eadd7f"},
		{name: "invalid characters are hashed", virtualCluster: "VC", namespace: "default", objectName: "Web", want: "web-x-default-x-vc-e0508af760"},
		{name: "empty name is hashed", virtualCluster: "vc1", namespace: "default", want: "x-default-x-vc1-adc759c0d7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := HostName(tt.virtualCluster, tt.namespace, tt.objectName)
			if got != tt.want {
				t.Errorf("HostName(%q, %q, %q) = %q, want %q", tt.virtualCluster, tt.namespace, tt.objectName, got, tt.want)
			}
			assertLabel(t, got)
		})
	}
}

func TestHostNameHashesAmbiguousParts(t *testing.T) {
	t.Parallel()
	// Each pair would join to the same plain name; both must be hashed apart.
	tests := []struct {
		name string
		a, b [3]string // virtualCluster, namespace, name
	}{
		{name: "separator moves between name and namespace", a: [3]string{"vc", "c", "a-x-b"}, b: [3]string{"vc", "b-x-c", "a"}},
		{name: "part ending in -x", a: [3]string{"vc", "b", "a-x"}, b: [3]string{"vc", "x-b", "a"}},
		{name: "part equal to x", a: [3]string{"vc", "x", "a"}, b: [3]string{"vc", "", "a-x-x"}},
		{name: "cluster-scoped against namespaced", a: [3]string{"c", "b", "a"}, b: [3]string{"b-x-c", "", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got1 := HostName(tt.a[0], tt.a[1], tt.a[2])
			got2 := HostName(tt.b[0], tt.b[1], tt.b[2])
			if got1 == got2 {
				t.Errorf("%q and %q both map to %q", tt.a, tt.b, got1)
			}
		})
	}
}

func TestHostNameWithLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		limit          int
		virtualCluster string
		namespace      string
		objectName     string
		want           string // empty: only check validity, length and hash suffix
		wantHashed     bool
	}{
		{name: "dotted name kept in subdomain", limit: SubdomainMaxLength, virtualCluster: "vc1", namespace: "default", objectName: "kube-root-ca.crt", want: "kube-root-ca.crt-x-default-x-vc1"},
		{name: "dotted name hashed in label", limit: LabelMaxLength, virtualCluster: "vc1", namespace: "default", objectName: "kube-root-ca.crt", wantHashed: true},
		{
			name: "exactly at subdomain limit", limit: SubdomainMaxLength, virtualCluster: "vc1", namespace: "default",
			objectName: strings.Repeat("a.", 100) + strings.Repeat("b", 253-200-len("-x-default-x-vc1")),
			want:       strings.Repeat("a.", 100) + strings.Repeat("b", 253-200-len("-x-default-x-vc1")) + "-x-default-x-vc1",
		},
		{
			name: "over subdomain limit, truncation ends on a dot", limit: SubdomainMaxLength, virtualCluster: "vc1", namespace: "default",
			objectName: strings.Repeat("a.", 130) + "b",
			want:       strings.TrimSuffix(strings.Repeat("a.", 121), ".") + "-2de891899c",
		},
		{name: "empty segment", limit: SubdomainMaxLength, virtualCluster: "vc1", namespace: "default", objectName: "a..b", wantHashed: true},
		{name: "dot next to dash", limit: SubdomainMaxLength, virtualCluster: "vc1", namespace: "default", objectName: "a.-b.", wantHashed: true},
		{name: "small limit", limit: MinLimit, virtualCluster: "vc1", namespace: "default", objectName: "nginx", wantHashed: true},
		{name: "limit above subdomain maximum is capped", limit: 1000, virtualCluster: "vc1", namespace: "default", objectName: strings.Repeat("n", 300), wantHashed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := HostNameWithLimit(tt.limit, tt.virtualCluster, tt.namespace, tt.objectName)
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.wantHashed && !strings.HasSuffix(got, "-"+hashOf("host-name", tt.virtualCluster, tt.namespace, tt.objectName)) {
				t.Errorf("got %q, want a hashed name", got)
			}
			if len(got) > min(tt.limit, SubdomainMaxLength) {
				t.Errorf("got %q (%d chars), want at most %d", got, len(got), tt.limit)
			}
			if tt.limit > LabelMaxLength {
				assertSubdomain(t, got)
			} else {
				assertLabel(t, got)
			}
		})
	}
}

func TestHostNameWithLimitPanicsBelowMinimum(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("want a panic for a limit below MinLimit")
		}
	}()
	HostNameWithLimit(MinLimit-1, "vc", "ns", "name")
}

func TestHostNamespace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		virtualCluster string
		want           string
	}{
		{name: "short", virtualCluster: "team-a", want: "nest-team-a"},
		{name: "exactly at limit", virtualCluster: strings.Repeat("v", 58), want: "nest-" + strings.Repeat("v", 58)},
		{name: "over limit", virtualCluster: strings.Repeat("v", 60), want: "nest-" + strings.Repeat("v", 47) + "-1de4eae726"},
		{name: "empty", virtualCluster: "", want: "nest-" + hashOf("host-namespace", "")},
		{name: "looks hashed", virtualCluster: "a-0123456789", want: "nest-a-0123456789-" + hashOf("host-namespace", "a-0123456789")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := HostNamespace(tt.virtualCluster)
			if got != tt.want {
				t.Errorf("HostNamespace(%q) = %q, want %q", tt.virtualCluster, got, tt.want)
			}
			assertLabel(t, got)
		})
	}
}

func TestLabelValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{name: "empty", value: "", want: ""},
		{name: "valid", value: "My_value.1", want: "My_value.1"},
		{name: "exactly at limit", value: strings.Repeat("l", 63), want: strings.Repeat("l", 63)},
		{name: "over limit", value: strings.Repeat("l", 70), want: strings.Repeat("l", 52) + "-0d581c2e4c"},
		{name: "nothing readable", value: "___", want: "x-cb094747b5"},
		{name: "invalid characters", value: "a/b", want: "a-b-" + hashOf("label-value", "a/b")},
		{name: "looks hashed", value: "a-0123456789", want: "a-0123456789-" + hashOf("label-value", "a-0123456789")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := LabelValue(tt.value)
			if got != tt.want {
				t.Errorf("LabelValue(%q) = %q, want %q", tt.value, got, tt.want)
			}
			if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
				t.Errorf("LabelValue(%q) = %q is not a valid label value: %v", tt.value, got, errs)
			}
		})
	}
}

func TestOwnershipLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		virtualCluster string
		namespace      string
		want           map[string]string
	}{
		{
			name: "namespaced", virtualCluster: "vc1", namespace: "default",
			want: map[string]string{LabelManagedBy: ManagedByValue, LabelVirtualCluster: "vc1", LabelVirtualNamespace: "default"},
		},
		{
			name: "cluster-scoped", virtualCluster: "vc1",
			want: map[string]string{LabelManagedBy: ManagedByValue, LabelVirtualCluster: "vc1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := OwnershipLabels(tt.virtualCluster, tt.namespace)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHostNameValidForRandomInputs checks the output format for arbitrary,
// mostly invalid, inputs at every limit.
func TestHostNameValidForRandomInputs(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcxyz019-.-._AZ/ é"
	for range 20000 {
		vc := randomString(rng, alphabet, 70)
		ns := randomString(rng, alphabet, 70)
		name := randomString(rng, alphabet, 300)
		limit := MinLimit + rng.IntN(SubdomainMaxLength-MinLimit+1)
		assertHostName(t, limit, vc, ns, name)
		assertLabel(t, HostNamespace(vc))
		if got := LabelValue(name); len(validation.IsValidLabelValue(got)) > 0 {
			t.Fatalf("LabelValue(%q) = %q is invalid", name, got)
		}
	}
}

// TestHostNameDistinctNearColliding maps many triples that share long
// prefixes and differ only at the end; all must stay distinct.
func TestHostNameDistinctNearColliding(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	const alphabet = "ab9-x."
	for _, limit := range []int{LabelMaxLength, SubdomainMaxLength} {
		seen := make(map[string][3]string)
		for len(seen) < 100000 {
			triple := [3]string{
				"vc" + randomString(rng, alphabet, 3),
				strings.Repeat("n", 55) + randomString(rng, alphabet, 4),
				strings.Repeat("p", 250) + randomString(rng, alphabet, 4),
			}
			if rng.IntN(2) == 0 {
				triple[2] = triple[2][250:] // short names, to mix plain and hashed outputs
			}
			got := HostNameWithLimit(limit, triple[0], triple[1], triple[2])
			if prev, ok := seen[got]; ok && prev != triple {
				t.Fatalf("limit %d: %q and %q both map to %q", limit, prev, triple, got)
			}
			seen[got] = triple
		}
	}
}

// TestHostNameInjectiveOnSmallAlphabet tries every triple of short strings
// over the characters that make the separator, where plain names could collide.
func TestHostNameInjectiveOnSmallAlphabet(t *testing.T) {
	t.Parallel()
	var parts []string
	var grow func(prefix string)
	grow = func(prefix string) {
		parts = append(parts, prefix)
		if len(prefix) < 3 {
			for _, c := range []string{"a", "x", "-"} {
				grow(prefix + c)
			}
		}
	}
	grow("")
	seen := make(map[string][3]string, len(parts)*len(parts)*len(parts))
	for _, vc := range parts {
		for _, ns := range parts {
			for _, name := range parts {
				triple := [3]string{vc, ns, name}
				got := HostName(vc, ns, name)
				if prev, ok := seen[got]; ok {
					t.Fatalf("%q and %q both map to %q", prev, triple, got)
				}
				seen[got] = triple
			}
		}
	}
}

func FuzzHostName(f *testing.F) {
	f.Add("vc1", "default", "nginx", uint8(0))
	f.Add("vc1", "", "kube-root-ca.crt", uint8(255))
	f.Add("b-x-c", "x", "a-x", uint8(51))
	f.Add(strings.Repeat("v", 70), strings.Repeat("n", 63), strings.Repeat("a.", 150), uint8(100))
	f.Add("VC", "ns/é", "..", uint8(7))
	f.Fuzz(func(t *testing.T, vc, ns, name string, limitSeed uint8) {
		limit := MinLimit + int(limitSeed)%(SubdomainMaxLength-MinLimit+1)
		assertHostName(t, limit, vc, ns, name)
		if HostName(vc, ns, name) != HostName(vc, ns, name) {
			t.Fatal("HostName is not deterministic")
		}
		assertLabel(t, HostName(vc, ns, name))
		if got := HostNamespace(vc); got != HostNamespace(vc) {
			t.Fatal("HostNamespace is not deterministic")
		} else {
			assertLabel(t, got)
		}
		if got := LabelValue(name); len(validation.IsValidLabelValue(got)) > 0 {
			t.Fatalf("LabelValue(%q) = %q is invalid", name, got)
		}
	})
}

// assertHostName checks everything HostNameWithLimit promises for one input.
func assertHostName(t *testing.T, limit int, vc, ns, name string) {
	t.Helper()
	got := HostNameWithLimit(limit, vc, ns, name)
	if again := HostNameWithLimit(limit, vc, ns, name); again != got {
		t.Fatalf("not deterministic: %q then %q", got, again)
	}
	if len(got) > limit {
		t.Fatalf("HostNameWithLimit(%d, %q, %q, %q) = %q is longer than the limit", limit, vc, ns, name, got)
	}
	if limit > LabelMaxLength {
		assertSubdomain(t, got)
	} else {
		assertLabel(t, got)
	}
	// Never truncated or altered without the hash.
	plain := name + separator + ns + separator + vc
	if ns == "" {
		plain = name + separator + vc
	}
	if got != plain && !strings.HasSuffix(got, "-"+hashOf("host-name", vc, ns, name)) {
		t.Fatalf("HostNameWithLimit(%d, %q, %q, %q) = %q is altered but not hashed", limit, vc, ns, name, got)
	}
}

func assertLabel(t *testing.T, s string) {
	t.Helper()
	if errs := validation.IsDNS1123Label(s); len(errs) > 0 {
		t.Fatalf("%q is not a DNS-1123 label: %v", s, errs)
	}
}

func assertSubdomain(t *testing.T, s string) {
	t.Helper()
	if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
		t.Fatalf("%q is not a DNS-1123 subdomain: %v", s, errs)
	}
}

func randomString(rng *rand.Rand, alphabet string, maxLen int) string {
	b := make([]byte, rng.IntN(maxLen+1))
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}
