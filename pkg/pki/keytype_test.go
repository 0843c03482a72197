package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// keyFormat is how a test writes a key file, as tools other than Nest (or
// Nest before) did.
type keyFormat int

const (
	rsaPKCS1 keyFormat = iota // "RSA PRIVATE KEY", what Nest wrote for sa.key
	rsaPKCS8                  // "PRIVATE KEY" holding an RSA key (openssl genpkey)
	ecSEC1                    // "EC PRIVATE KEY", what Nest writes
	ecPKCS8                   // "PRIVATE KEY" holding an EC key
)

func (f keyFormat) String() string {
	return [...]string{"RSA PKCS#1", "RSA PKCS#8", "EC SEC 1", "EC PKCS#8"}[f]
}

// writeTestKey writes a new key of format f to path and returns it.
func writeTestKey(t *testing.T, path string, f keyFormat) crypto.Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	switch f {
	case rsaPKCS1, rsaPKCS8:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	switch f {
	case rsaPKCS1:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))}
	case ecSEC1:
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	default:
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), keyMode); err != nil {
		t.Fatal(err)
	}
	return key
}

// keyType names a public key's algorithm and size, as the tests compare it.
func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", pub)
}

// keyFiles are the base names of every key file of a bundle made with
// testOptions, with the certificate each one belongs to ("" for sa.key).
var keyFiles = map[string]string{
	"ca.key": "ca.crt", "front-proxy-ca.key": "front-proxy-ca.crt",
	"apiserver.key": "apiserver.crt", "front-proxy-client.key": "front-proxy-client.crt",
	"admin.key": "admin.crt", "kube-controller-manager.key": "kube-controller-manager.crt",
	"kube-scheduler.key": "kube-scheduler.crt", "apiserver-kubelet-client.key": "apiserver-kubelet-client.crt",
	"sa.key": "",
}

// TestKeyTypes covers which keys a bundle gets and keeps: every new key is
// ECDSA P-256; keys already on disk (RSA from an older Nest or put there by
// hand, in PKCS#1, PKCS#8 or SEC 1 PEM) are read and kept, also through
// renewals and forced rotations, which re-issue certificates with the key
// they had, so a key never changes type.
func TestKeyTypes(t *testing.T) {
	t.Parallel()
	const ec = "ECDSA P-256"
	tests := []struct {
		name string
		// seed writes key files (base name → format) into the empty
		// directory before the first Ensure.
		seed map[string]keyFormat
		// want is the type of every key after the first Ensure; keys not
		// listed are ECDSA P-256.
		want map[string]string
	}{
		{name: "fresh bundle"},
		{
			name: "service-account key of an older Nest",
			seed: map[string]keyFormat{"sa.key": rsaPKCS1},
			want: map[string]string{"sa.key": "RSA 2048"},
		},
		{
			name: "service-account key in PKCS#8",
			seed: map[string]keyFormat{"sa.key": rsaPKCS8},
			want: map[string]string{"sa.key": "RSA 2048"},
		},
		{
			name: "RSA CAs sign new ECDSA leaves",
			seed: map[string]keyFormat{"ca.key": rsaPKCS1, "front-proxy-ca.key": rsaPKCS8},
			want: map[string]string{"ca.key": "RSA 2048", "front-proxy-ca.key": "RSA 2048"},
		},
		{
			name: "RSA leaves under an ECDSA CA",
			seed: map[string]keyFormat{"apiserver.key": rsaPKCS1, "admin.key": rsaPKCS8, "kube-scheduler.key": rsaPKCS1},
			want: map[string]string{"apiserver.key": "RSA 2048", "admin.key": "RSA 2048", "kube-scheduler.key": "RSA 2048"},
		},
		{
			name: "EC keys in PKCS#8",
			seed: map[string]keyFormat{"ca.key": ecPKCS8, "admin.key": ecPKCS8, "sa.key": ecPKCS8},
		},
		{
			name: "every key RSA",
			seed: func() map[string]keyFormat {
				m := map[string]keyFormat{}
				for name := range keyFiles {
					m[name] = rsaPKCS1
				}
				return m
			}(),
			want: func() map[string]string {
				m := map[string]string{}
				for name := range keyFiles {
					m[name] = "RSA 2048"
				}
				return m
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "pki")
			for name, f := range tt.seed {
				writeTestKey(t, filepath.Join(dir, name), f)
			}
			opts := testOptions()
			t0 := time.Now()
			b, err := ensure(dir, opts, t0)
			if err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			seeded := snapshot(t, dir)
			for _, c := range b.Changes {
				if _, ok := tt.seed[filepath.Base(c.Path)]; ok {
					t.Errorf("seeded key %s was rewritten", c.Path)
				}
			}
			check := func(t *testing.T, when string, now time.Time) {
				t.Helper()
				for name, certName := range keyFiles {
					key, err := readKey(filepath.Join(dir, name))
					if err != nil || key == nil {
						t.Fatalf("%s: read %s: %v", when, name, err)
					}
					want := tt.want[name]
					if want == "" {
						want = ec
					}
					if got := keyType(key.Public()); got != want {
						t.Errorf("%s: %s is %s, want %s", when, name, got, want)
					}
					if certName == "" {
						pub, err := readPublicKey(b.ServiceAccountPub())
						if err != nil || !publicKeysEqual(pub, key.Public()) {
							t.Errorf("%s: sa.pub does not match sa.key (%v)", when, err)
						}
						continue
					}
					cert := mustCert(t, filepath.Join(dir, certName))
					if !publicKeysEqual(cert.PublicKey, key.Public()) {
						t.Errorf("%s: %s does not match %s", when, certName, name)
					}
					_, isRSA := key.(*rsa.PrivateKey)
					if got := cert.KeyUsage&x509.KeyUsageKeyEncipherment != 0; !cert.IsCA && got != isRSA {
						t.Errorf("%s: %s key encipherment usage = %v, want %v (only for RSA keys)", when, certName, got, isRSA)
					}
				}
				// Every leaf verifies under its CA, whatever either's key.
				for _, leaf := range []struct{ cert, ca string }{
					{"apiserver.crt", "ca.crt"}, {"admin.crt", "ca.crt"}, {"kube-scheduler.crt", "ca.crt"},
					{"front-proxy-client.crt", "front-proxy-ca.crt"},
				} {
					roots := x509.NewCertPool()
					roots.AddCert(mustCert(t, filepath.Join(dir, leaf.ca)))
					if _, err := mustCert(t, filepath.Join(dir, leaf.cert)).Verify(x509.VerifyOptions{
						Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
					}); err != nil {
						t.Errorf("%s: %s under %s: %v", when, leaf.cert, leaf.ca, err)
					}
				}
			}
			check(t, "created", t0)

			// A second start changes nothing; a renewal (two thirds of the
			// lifetime passed) and a forced rotation re-issue the leaf
			// certificates and keep every key, byte for byte.
			for _, step := range []struct {
				name  string
				at    time.Duration
				force bool
				want  int // certificates re-issued
			}{
				{name: "second start", at: time.Hour},
				{name: "renewal", at: 250 * 24 * time.Hour, want: 6},
				{name: "forced rotation", at: 251 * 24 * time.Hour, force: true, want: 6},
			} {
				o := opts
				o.Force = step.force
				b, err = ensure(dir, o, t0.Add(step.at))
				if err != nil {
					t.Fatalf("%s: %v", step.name, err)
				}
				if len(b.Changes) != step.want {
					t.Errorf("%s: %d files written, want %d certificates: %v", step.name, len(b.Changes), step.want, b.Changes)
				}
				for _, c := range b.Changes {
					if !strings.HasSuffix(c.Path, ".crt") || strings.Contains(c.Path, "ca.crt") {
						t.Errorf("%s: wrote %s (%s), want leaf certificates only", step.name, c.Path, c.Reason)
					}
				}
				after := snapshot(t, dir)
				for name := range keyFiles {
					if after[name] != seeded[name] {
						t.Errorf("%s: key %s changed", step.name, name)
					}
				}
				check(t, step.name, t0.Add(step.at))
			}
		})
	}
}

// TestMissingKeyOfRSABundleIsECDSA: a key deleted from a bundle of RSA keys
// comes back as ECDSA P-256, its certificate signed by the RSA CA.
func TestMissingKeyOfRSABundleIsECDSA(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	for _, name := range []string{"ca.key", "admin.key", "sa.key"} {
		writeTestKey(t, filepath.Join(dir, name), rsaPKCS1)
	}
	opts := testOptions()
	b, err := Ensure(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"admin.key", "admin.crt", "sa.key", "sa.pub"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err = Ensure(dir, opts); err != nil {
		t.Fatal(err)
	}
	if got, want := changeNames(b.Changes), []string{"admin.crt", "admin.key", "sa.key", "sa.pub"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Changes = %v, want %v", got, want)
	}
	for _, name := range []string{"admin.key", "sa.key"} {
		key, err := readKey(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := keyType(key.Public()); got != "ECDSA P-256" {
			t.Errorf("%s is %s, want ECDSA P-256", name, got)
		}
	}
	roots := x509.NewCertPool()
	roots.AddCert(mustCert(t, b.CACert()))
	if _, err := mustCert(t, b.AdminCert()).Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("new admin cert under the RSA CA: %v", err)
	}
}
