package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsureSelfSigned(t *testing.T) {
	t.Parallel()
	now := time.Now()
	localhost := leafSpec{commonName: "hub", usage: x509.ExtKeyUsageServerAuth, ips: []net.IP{net.ParseIP("127.0.0.1")}, dnsNames: []string{"localhost"}}
	more := localhost
	more.dnsNames = []string{"localhost", "hub.example.com"}
	tests := []struct {
		name      string
		second    leafSpec
		at        time.Time
		corrupt   bool
		rewritten bool
		wantErr   bool
	}{
		{"kept when valid", localhost, now, false, false, false},
		{"reissued for a new SAN", more, now, false, true, false},
		{"reissued near expiry", localhost, now.Add(LeafValidity * 3 / 4), false, true, false},
		{"corrupt cert refused", localhost, now, true, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			certPath, keyPath := filepath.Join(dir, "tls", "hub.crt"), filepath.Join(dir, "tls", "hub.key")
			if changed, err := ensureSelfSigned(certPath, keyPath, localhost, now, LeafValidity); err != nil || !changed {
				t.Fatalf("first run: %v, %v", changed, err)
			}
			keyBefore, _ := os.ReadFile(keyPath)
			if tc.corrupt {
				if err := os.WriteFile(certPath, []byte("junk"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			changed, err := ensureSelfSigned(certPath, keyPath, tc.second, tc.at, LeafValidity)
			if (err != nil) != tc.wantErr || changed != tc.rewritten {
				t.Fatalf("second run: changed %v, err %v", changed, err)
			}
			if keyAfter, _ := os.ReadFile(keyPath); string(keyAfter) != string(keyBefore) {
				t.Fatal("the key changed")
			}
			if tc.wantErr {
				return
			}
			cert, err := readCert(certPath)
			if err != nil {
				t.Fatal(err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(cert)
			for _, name := range tc.second.dnsNames {
				if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: tc.at}); err != nil {
					t.Fatalf("verify as %s: %v", name, err)
				}
			}
		})
	}
}
