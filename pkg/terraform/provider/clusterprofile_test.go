package provider

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/nestcluster/nest/pkg/hub/store"
)

func TestSameManifests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"equal text", "a: 1\n", "a: 1\n", true},
		{"whitespace, comments, key order", "a: 1\nb: [x, y]\n---\nc: 2\n", "# c\nb:\n  - x\n  - y\na: 1\n---\n\nc: 2", true},
		{"empty documents", "---\na: 1\n---\n---\n", "a: 1\n", true},
		{"document order", "a: 1\n---\nb: 2\n", "b: 2\n---\na: 1\n", false},
		{"a document more", "a: 1\n", "a: 1\n---\nb: 2\n", false},
		{"a value", "a: 1\n", "a: 2\n", false},
		{"not YAML", "a: [", "a: [", true},
		{"not YAML differs", "a: [", "a: 1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sameManifests(tc.a, tc.b); got != tc.want {
				t.Fatalf("sameManifests(%q, %q) = %v", tc.a, tc.b, got)
			}
		})
	}
}

// TestPackageChart checks that a chart directory packs into the same
// bytes every time, into an archive Helm loads, and that a change of a
// file changes them.
func TestPackageChart(t *testing.T) {
	t.Parallel()
	src := filepath.Join("..", "..", "..", "examples", "profiles", "cicd", "charts", "dashboard")
	a, err := chartArchive(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := chartArchive(src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two packages of the same directory differ")
	}
	ch, err := loader.LoadArchive(bytes.NewReader(a))
	if err != nil || ch.Name() != "ci-dashboard" || len(ch.Templates) != 2 {
		t.Fatalf("the archive loads as %v, %v", ch, err)
	}
	// A .tgz is taken as it is.
	tgz := filepath.Join(t.TempDir(), "chart.tgz")
	if err := os.WriteFile(tgz, a, 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := chartArchive(tgz); err != nil || digest(c) != digest(a) {
		t.Fatalf("the archive read back: %v", err)
	}
	// A copy with a changed file packs otherwise.
	dir := t.TempDir()
	for _, f := range []string{"Chart.yaml", "values.yaml", "templates/deployment.yaml", "templates/service.yaml"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "values.yaml" {
			data = append(data, "extra: true\n"...)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := chartArchive(dir); err != nil || digest(c) == digest(a) {
		t.Fatalf("a changed chart packs into the same archive (%v)", err)
	}
	if _, err := chartArchive(t.TempDir()); err == nil {
		t.Fatal("an empty directory packed as a chart")
	}
}

func TestProfileRefsValue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := func(id string, version attr.Value, vars attr.Value) attr.Value {
		return types.ObjectValueMust(profileRefAttrTypes, map[string]attr.Value{"id": types.StringValue(id), "version": version, "variables": vars})
	}
	noVars, emptyVars := types.MapNull(types.StringType), types.MapValueMust(types.StringType, map[string]attr.Value{})
	tests := []struct {
		name  string
		prior []attr.Value
		hub   []store.ProfileRef
		want  []attr.Value
	}{
		{"follows the latest, no variables", nil, []store.ProfileRef{{ProfileID: "p"}},
			[]attr.Value{ref("p", types.StringNull(), noVars)}},
		{"empty variables in the configuration are kept", []attr.Value{ref("p", types.StringNull(), emptyVars)}, []store.ProfileRef{{ProfileID: "p"}},
			[]attr.Value{ref("p", types.StringNull(), emptyVars)}},
		{"pinned with variables", nil, []store.ProfileRef{{ProfileID: "p", Version: "2", Variables: map[string]string{"A": "b"}}},
			[]attr.Value{ref("p", types.StringValue("2"), types.MapValueMust(types.StringType, map[string]attr.Value{"A": types.StringValue("b")}))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prior := types.ListNull(profileRefType)
			if tc.prior != nil {
				prior = types.ListValueMust(profileRefType, tc.prior)
			}
			got := profileRefsValue(ctx, prior, tc.hub)
			want := types.ListValueMust(profileRefType, tc.want)
			if !got.Equal(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			back, err := profileRefsOf(ctx, got)
			if err != nil || !sameProfileRefs(back, tc.hub) {
				t.Fatalf("read back %v (%v), want %v", back, err, tc.hub)
			}
		})
	}
}

func TestProfilesV0ToV1(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"ids", `{"id":"vc","profiles":["a","b"]}`, `{"id":"vc","profiles":[{"id":"a","version":null,"variables":null},{"id":"b","version":null,"variables":null}]}`},
		{"empty", `{"id":"vc","profiles":[]}`, `{"id":"vc","profiles":[]}`},
		{"null", `{"id":"vc","profiles":null}`, `{"id":"vc","profiles":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := profilesV0ToV1([]byte(tc.in))
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}
