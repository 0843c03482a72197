package pki

import (
	"crypto/x509"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func testOptions() Options {
	return Options{
		ExtraIPs:      []net.IP{net.ParseIP("192.168.1.10")},
		ExtraDNSNames: []string{"nest.example.test"},
		ClientCerts:   DefaultClientCerts(),
	}
}

// newBundle runs Ensure in a fresh temp dir.
func newBundle(t *testing.T, opts Options) *Bundle {
	t.Helper()
	b, err := Ensure(filepath.Join(t.TempDir(), "pki"), opts)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return b
}

// snapshot returns the content of every file in dir by base name.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

// changedFiles lists base names whose content differs between snapshots.
func changedFiles(before, after map[string]string) []string {
	var changed []string
	for name := range after {
		if before[name] != after[name] {
			changed = append(changed, name)
		}
	}
	for name := range before {
		if _, ok := after[name]; !ok {
			changed = append(changed, name)
		}
	}
	slices.Sort(changed)
	return changed
}

func changeNames(changes []Change) []string {
	var names []string
	for _, c := range changes {
		names = append(names, filepath.Base(c.Path))
	}
	slices.Sort(names)
	return names
}

func mustCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	cert, err := readCert(path)
	if err != nil || cert == nil {
		t.Fatalf("read cert %s: %v", path, err)
	}
	return cert
}

func mustAuthority(t *testing.T, certPath, keyPath string) *authority {
	t.Helper()
	p, err := loadPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	return &authority{cert: p.cert, key: p.key}
}

func TestEnsureFreshDirVerifies(t *testing.T) {
	t.Parallel()
	b := newBundle(t, testOptions())

	tests := []struct {
		name      string
		cert, ca  string
		usage     x509.ExtKeyUsage
		wrong     x509.ExtKeyUsage
		wantCN    string
		wantOrgs  []string
		wantHosts []string
	}{
		{
			name: "apiserver serving", cert: b.APIServerCert(), ca: b.CACert(),
			usage: x509.ExtKeyUsageServerAuth, wrong: x509.ExtKeyUsageClientAuth, wantCN: "kube-apiserver",
			wantHosts: []string{"127.0.0.1", "10.96.0.1", "192.168.1.10", "localhost", "kubernetes",
				"kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "nest.example.test"},
		},
		{
			name: "front-proxy client", cert: b.FrontProxyClientCert(), ca: b.FrontProxyCACert(),
			usage: x509.ExtKeyUsageClientAuth, wrong: x509.ExtKeyUsageServerAuth, wantCN: "front-proxy-client",
		},
		{
			name: "admin", cert: b.AdminCert(), ca: b.CACert(),
			usage: x509.ExtKeyUsageClientAuth, wrong: x509.ExtKeyUsageServerAuth,
			wantCN: "nest-admin", wantOrgs: []string{"system:masters"},
		},
		{
			name: "controller-manager", cert: b.ClientCert("kube-controller-manager"), ca: b.CACert(),
			usage: x509.ExtKeyUsageClientAuth, wrong: x509.ExtKeyUsageServerAuth, wantCN: "system:kube-controller-manager",
		},
		{
			name: "scheduler", cert: b.ClientCert("kube-scheduler"), ca: b.CACert(),
			usage: x509.ExtKeyUsageClientAuth, wrong: x509.ExtKeyUsageServerAuth, wantCN: "system:kube-scheduler",
		},
		{
			name: "apiserver-kubelet-client", cert: b.ClientCert("apiserver-kubelet-client"), ca: b.CACert(),
			usage: x509.ExtKeyUsageClientAuth, wrong: x509.ExtKeyUsageServerAuth,
			wantCN: "kube-apiserver-kubelet-client", wantOrgs: []string{"system:masters"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			leaf, ca := mustCert(t, tt.cert), mustCert(t, tt.ca)
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tt.usage}}); err != nil {
				t.Errorf("verify with usage %v: %v", tt.usage, err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{tt.wrong}}); err == nil {
				t.Errorf("verify with wrong usage %v succeeded", tt.wrong)
			}
			if leaf.Subject.CommonName != tt.wantCN || !sameSet(leaf.Subject.Organization, tt.wantOrgs) {
				t.Errorf("subject = CN=%s O=%v, want CN=%s O=%v", leaf.Subject.CommonName, leaf.Subject.Organization, tt.wantCN, tt.wantOrgs)
			}
			for _, host := range tt.wantHosts {
				if err := leaf.VerifyHostname(host); err != nil {
					t.Errorf("SAN %s: %v", host, err)
				}
			}
			if got := leaf.NotAfter.Sub(leaf.NotBefore); got < LeafValidity || got > LeafValidity+time.Hour {
				t.Errorf("leaf validity = %s, want about %s", got, LeafValidity)
			}
			if got := ca.NotAfter.Sub(ca.NotBefore); got < CAValidity || got > CAValidity+time.Hour {
				t.Errorf("CA validity = %s, want about %s", got, CAValidity)
			}
		})
	}

	t.Run("service account key pair", func(t *testing.T) {
		t.Parallel()
		key, err := readKey(b.ServiceAccountKey())
		if err != nil {
			t.Fatal(err)
		}
		pub, err := readPublicKey(b.ServiceAccountPub())
		if err != nil {
			t.Fatal(err)
		}
		if !publicKeysEqual(pub, key.Public()) {
			t.Error("sa.pub does not match sa.key")
		}
		data, _ := os.ReadFile(b.ServiceAccountKey())
		if !strings.Contains(string(data), "EC PRIVATE KEY") {
			t.Error("sa.key is not an ECDSA key")
		}
	})

	t.Run("changes list every file", func(t *testing.T) {
		t.Parallel()
		want := slices.Sorted(maps.Keys(snapshot(t, b.Dir)))
		if got := changeNames(b.Changes); !slices.Equal(got, want) {
			t.Errorf("Changes = %v, want %v", got, want)
		}
	})
}

func TestEnsureSecondRunChangesNothing(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	b := newBundle(t, opts)
	before := snapshot(t, b.Dir)

	again, err := Ensure(b.Dir, opts)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if again.Changed() {
		t.Errorf("second Ensure reported changes: %v", again.Changes)
	}
	if changed := changedFiles(before, snapshot(t, b.Dir)); len(changed) > 0 {
		t.Errorf("second Ensure changed files %v", changed)
	}
}

func TestEnsureReissues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// mutate changes the directory and/or options after the first Ensure.
		mutate func(t *testing.T, b *Bundle, opts *Options)
		want   []string
	}{
		{
			name: "added DNS SAN reissues only serving cert",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				opts.ExtraDNSNames = append(opts.ExtraDNSNames, "new.example.test")
			},
			want: []string{"apiserver.crt"},
		},
		{
			name: "added IP SAN reissues only serving cert",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				opts.ExtraIPs = append(opts.ExtraIPs, net.ParseIP("fd00::10"))
			},
			want: []string{"apiserver.crt"},
		},
		{
			name: "removed SAN keeps serving cert",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				opts.ExtraDNSNames = nil
			},
		},
		{
			name: "serving cert past two thirds of its lifetime",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				ca := mustAuthority(t, b.CACert(), b.CAKey())
				key, err := readKey(b.APIServerKey())
				if err != nil {
					t.Fatal(err)
				}
				ips, dns := opts.APIServerSANs()
				// Issued 250 days ago, so it has 115 days (less than a third) left.
				cert, err := ca.issue(key, leafSpec{commonName: "kube-apiserver", usage: x509.ExtKeyUsageServerAuth, ips: ips, dnsNames: dns},
					time.Now().Add(-250*24*time.Hour), LeafValidity)
				if err != nil {
					t.Fatal(err)
				}
				if err := writeCert(b.APIServerCert(), cert); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"apiserver.crt"},
		},
		{
			name: "client cert signed by the wrong CA",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				ca := mustAuthority(t, b.CACert(), b.CAKey())
				key, err := readKey(b.FrontProxyClientKey())
				if err != nil {
					t.Fatal(err)
				}
				cert, err := ca.issue(key, clientSpec("front-proxy-client", nil), time.Now(), LeafValidity)
				if err != nil {
					t.Fatal(err)
				}
				if err := writeCert(b.FrontProxyClientCert(), cert); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"front-proxy-client.crt"},
		},
		{
			name: "client subject changed",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				opts.ClientCerts[1].Organizations = []string{"nest:schedulers"}
			},
			want: []string{"kube-scheduler.crt"},
		},
		{
			name: "missing cert with existing key",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				if err := os.Remove(b.AdminCert()); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"admin.crt"},
		},
		{
			name: "missing leaf key creates key and cert",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				if err := os.Remove(b.ClientKey("kube-scheduler")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"kube-scheduler.crt", "kube-scheduler.key"},
		},
		{
			name: "missing service-account public key",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				if err := os.Remove(b.ServiceAccountPub()); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"sa.pub"},
		},
		{
			name: "new client cert added",
			mutate: func(t *testing.T, b *Bundle, opts *Options) {
				opts.ClientCerts = append(opts.ClientCerts, ClientCert{Name: "nest-syncer", CommonName: "nest:syncer"})
			},
			want: []string{"nest-syncer.crt", "nest-syncer.key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			b := newBundle(t, opts)
			before := snapshot(t, b.Dir)
			tt.mutate(t, b, &opts)
			mutated := snapshot(t, b.Dir)

			again, err := Ensure(b.Dir, opts)
			if err != nil {
				t.Fatalf("Ensure after mutation: %v", err)
			}
			after := snapshot(t, b.Dir)
			if got := changedFiles(mutated, after); !slices.Equal(got, tt.want) {
				t.Errorf("files rewritten = %v, want %v", got, tt.want)
			}
			if got := changeNames(again.Changes); !slices.Equal(got, tt.want) {
				t.Errorf("Changes = %v, want %v", got, tt.want)
			}
			// Keys that existed before must be byte-identical.
			for name, data := range before {
				if strings.HasSuffix(name, ".key") && mutated[name] != "" && after[name] != data {
					t.Errorf("existing key %s was regenerated", name)
				}
			}
			// The result must now be stable.
			third, err := Ensure(b.Dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if third.Changed() {
				t.Errorf("third Ensure still changes: %v", third.Changes)
			}
		})
	}
}

func TestEnsureRefusesBrokenFiles(t *testing.T) {
	t.Parallel()
	corrupt := func(name string) func(t *testing.T, b *Bundle) string {
		return func(t *testing.T, b *Bundle) string {
			path := filepath.Join(b.Dir, name)
			if err := os.WriteFile(path, []byte("-----BEGIN garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
			return path
		}
	}
	tests := []struct {
		name        string
		breakFiles  func(t *testing.T, b *Bundle) string // returns the path the error must name
		wantCorrupt bool
	}{
		{name: "corrupt CA key", breakFiles: corrupt("ca.key"), wantCorrupt: true},
		{name: "corrupt CA cert", breakFiles: corrupt("ca.crt"), wantCorrupt: true},
		{name: "corrupt serving cert", breakFiles: corrupt("apiserver.crt"), wantCorrupt: true},
		{name: "corrupt client key", breakFiles: corrupt("kube-scheduler.key"), wantCorrupt: true},
		{name: "corrupt service-account key", breakFiles: corrupt("sa.key"), wantCorrupt: true},
		{name: "corrupt service-account pub", breakFiles: corrupt("sa.pub"), wantCorrupt: true},
		{
			name: "cert file holding a key",
			breakFiles: func(t *testing.T, b *Bundle) string {
				data, err := os.ReadFile(b.AdminKey())
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(b.AdminCert(), data, 0o644); err != nil {
					t.Fatal(err)
				}
				return b.AdminCert()
			},
			wantCorrupt: true,
		},
		{
			name: "corrupt file while others are missing",
			breakFiles: func(t *testing.T, b *Bundle) string {
				if err := os.Remove(b.AdminCert()); err != nil {
					t.Fatal(err)
				}
				return corrupt("front-proxy-client.key")(t, b)
			},
			wantCorrupt: true,
		},
		{
			name: "CA key missing",
			breakFiles: func(t *testing.T, b *Bundle) string {
				if err := os.Remove(b.CAKey()); err != nil {
					t.Fatal(err)
				}
				return b.CAKey()
			},
		},
		{
			name: "CA cert and key mismatch",
			breakFiles: func(t *testing.T, b *Bundle) string {
				data, err := os.ReadFile(b.FrontProxyCAKey())
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(b.CAKey(), data, 0o600); err != nil {
					t.Fatal(err)
				}
				return b.CAKey()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := testOptions()
			b := newBundle(t, opts)
			path := tt.breakFiles(t, b)
			before := snapshot(t, b.Dir)

			_, err := Ensure(b.Dir, opts)
			if err == nil {
				t.Fatal("Ensure succeeded, want error")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name %s", err, path)
			}
			var corruptErr *CorruptFileError
			if got := errors.As(err, &corruptErr); got != tt.wantCorrupt {
				t.Errorf("errors.As(CorruptFileError) = %v, want %v (err: %v)", got, tt.wantCorrupt, err)
			}
			if tt.wantCorrupt && !strings.Contains(err.Error(), "delete it") {
				t.Errorf("error %q does not suggest a fix", err)
			}
			if changed := changedFiles(before, snapshot(t, b.Dir)); len(changed) > 0 {
				t.Errorf("Ensure rewrote %v despite the error", changed)
			}
		})
	}
}

func TestEnsureFileModes(t *testing.T) {
	t.Parallel()
	b := newBundle(t, testOptions())
	info, err := os.Stat(b.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != dirMode {
		t.Errorf("dir mode = %o, want %o", got, dirMode)
	}
	for name := range snapshot(t, b.Dir) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			info, err := os.Stat(filepath.Join(b.Dir, name))
			if err != nil {
				t.Fatal(err)
			}
			want := certMode
			if strings.HasSuffix(name, ".key") {
				want = keyMode
			}
			if got := info.Mode().Perm(); got != want {
				t.Errorf("mode = %o, want %o", got, want)
			}
		})
	}
}

func TestExpiresSoon(t *testing.T) {
	t.Parallel()
	b := newBundle(t, testOptions())
	leaves := []string{b.APIServerCert(), b.FrontProxyClientCert(), b.AdminCert(),
		b.ClientCert("kube-controller-manager"), b.ClientCert("kube-scheduler"), b.ClientCert("apiserver-kubelet-client")}

	tests := []struct {
		name   string
		within time.Duration
		want   []string
	}{
		{name: "nothing within 30 days", within: 30 * 24 * time.Hour},
		{name: "leaves within 2 years", within: 2 * LeafValidity, want: leaves},
		{name: "everything within 11 years", within: 11 * LeafValidity, want: b.CertPaths()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := b.ExpiresSoon(tt.within)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ExpiresSoon(%s) = %v, want %v", tt.within, got, tt.want)
			}
		})
	}
}

func TestEnsureClientCert(t *testing.T) {
	t.Parallel()
	b := newBundle(t, Options{})
	spec := ClientCert{Name: "kube-proxy", CommonName: "system:kube-proxy", Organizations: []string{"system:node-proxier"}}
	b.Changes = nil
	if err := b.EnsureClientCert(spec); err != nil {
		t.Fatal(err)
	}
	if got, want := changeNames(b.Changes), []string{"kube-proxy.crt", "kube-proxy.key"}; !slices.Equal(got, want) {
		t.Errorf("Changes = %v, want %v", got, want)
	}
	if !slices.Contains(b.ClientCertNames, "kube-proxy") {
		t.Errorf("ClientCertNames = %v, want kube-proxy", b.ClientCertNames)
	}
	b.Changes = nil
	if err := b.EnsureClientCert(spec); err != nil {
		t.Fatal(err)
	}
	if b.Changed() {
		t.Errorf("second EnsureClientCert changed %v", b.Changes)
	}
	if n := len(b.ClientCertNames); n != 1 {
		t.Errorf("ClientCertNames = %v, want one entry", b.ClientCertNames)
	}
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		certs   []ClientCert
		wantErr string
	}{
		{name: "defaults are valid", certs: DefaultClientCerts()},
		{name: "reserved name", certs: []ClientCert{{Name: "admin", CommonName: "x"}}, wantErr: "reserved"},
		{name: "path in name", certs: []ClientCert{{Name: "../evil", CommonName: "x"}}, wantErr: "must be"},
		{name: "duplicate", certs: []ClientCert{{Name: "a", CommonName: "x"}, {Name: "a", CommonName: "y"}}, wantErr: "twice"},
		{name: "missing common name", certs: []ClientCert{{Name: "a"}}, wantErr: "CommonName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Options{ClientCerts: tt.certs}.validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("validate error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
