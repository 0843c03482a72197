package pki

import (
	"strings"
	"testing"
	"time"
)

// TestRotation covers the renewal rules: a leaf is re-issued once two
// thirds of its lifetime have passed, when it outlives a shorter configured
// validity, or on a forced rotation; CAs and keys are always kept.
func TestRotation(t *testing.T) {
	t.Parallel()
	const short = 3 * time.Minute
	tests := []struct {
		name  string
		first Options // creates the bundle at t0
		at    time.Duration
		next  Options // second ensure at t0+at
		// renewed is whether every leaf (and only leaves) was re-issued.
		renewed bool
	}{
		{name: "short validity kept before two thirds", first: Options{Validity: short}, at: time.Minute, next: Options{Validity: short}},
		{name: "short validity renewed after two thirds", first: Options{Validity: short}, at: 2*time.Minute + time.Second, next: Options{Validity: short}, renewed: true},
		{name: "default validity renewed after two thirds", at: 245 * 24 * time.Hour, renewed: true},
		{name: "default validity kept after half", at: 180 * 24 * time.Hour},
		{name: "lowered validity re-issues", next: Options{Validity: short}, renewed: true},
		{name: "raised validity keeps", first: Options{Validity: short}, next: Options{Validity: time.Hour}},
		{name: "forced rotation", next: Options{Force: true}, renewed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			t0 := time.Now()
			first, next := tc.first, tc.next
			first.ClientCerts, next.ClientCerts = DefaultClientCerts(), DefaultClientCerts()
			b, err := ensure(dir, first, t0)
			if err != nil {
				t.Fatal(err)
			}
			before, err := b.Certificates()
			if err != nil {
				t.Fatal(err)
			}
			b2, err := ensure(dir, next, t0.Add(tc.at))
			if err != nil {
				t.Fatal(err)
			}
			after, err := b2.Certificates()
			if err != nil {
				t.Fatal(err)
			}
			for i := range before {
				changed := before[i].Serial != after[i].Serial
				want := tc.renewed && !before[i].IsCA
				if changed != want {
					t.Errorf("%s: re-issued = %v, want %v (changes %v)", before[i].Name, changed, want, b2.Changes)
				}
				if changed && !after[i].RenewAt.After(t0.Add(tc.at)) {
					t.Errorf("%s: renewed cert is due again at %s", after[i].Name, after[i].RenewAt)
				}
			}
			for _, c := range b2.Changes {
				if strings.HasSuffix(c.Path, ".key") {
					t.Errorf("key %s was rewritten", c.Path)
				}
			}
		})
	}
}

func TestRotationKeepsExtraSANsWhenForced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Ensure(dir, Options{ExtraDNSNames: []string{"vc.example.com"}}); err != nil {
		t.Fatal(err)
	}
	b, err := Ensure(dir, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := readCert(b.APIServerCert())
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("vc.example.com"); err != nil {
		t.Errorf("forced rotation dropped a SAN: %v", err)
	}
}

func TestValidityOption(t *testing.T) {
	t.Parallel()
	tests := []struct {
		validity time.Duration
		wantErr  bool
	}{
		{0, false},
		{MinLeafValidity, false},
		{time.Second, true},
		{CAValidity + time.Hour, true},
	}
	for _, tc := range tests {
		t.Run(tc.validity.String(), func(t *testing.T) {
			t.Parallel()
			_, err := Ensure(t.TempDir(), Options{Validity: tc.validity})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Ensure(validity %s) error = %v, want error %v", tc.validity, err, tc.wantErr)
			}
		})
	}
}

func TestNextRenewal(t *testing.T) {
	t.Parallel()
	now := time.Now()
	b, err := ensure(t.TempDir(), Options{Validity: 3 * time.Minute}, now)
	if err != nil {
		t.Fatal(err)
	}
	next, err := b.NextRenewal()
	if err != nil {
		t.Fatal(err)
	}
	if d := next.Sub(now); d < 119*time.Second || d > 121*time.Second {
		t.Errorf("next renewal %s after issue, want 2m", d)
	}
}
