package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
	nestlog "github.com/nestcluster/nest/pkg/log"
)

// start runs a hub until the test ends and returns its URL.
func start(t *testing.T, cfg server.Config) (string, *http.Client, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	cfg.Addr = "127.0.0.1:0"
	cfg.Ready = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("hub did not start: %v", err)
	}
	pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "hub.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub stopped with %v", err)
		}
	}
	return "https://" + addr, client, stop
}

func get(t *testing.T, c *http.Client, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var keyPattern = regexp.MustCompile(`nest_[A-Za-z0-9_-]{43}`)

// TestRun starts a hub twice on one data directory, on each backend: the
// first start prints the admin key once, the second does not.
func TestRun(t *testing.T) {
	for _, b := range storetest.Both(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := ""
			if b.Name != storetest.SQLite.Name {
				db = b.URL(t)
			}
			// The buffers are read only after Ready or after the server stopped.
			var out, logs bytes.Buffer
			cfg := server.Config{DataDir: dir, Database: db, KeyOut: &out, Logger: nestlog.New(&logs, 1)}
			url, client, stop := start(t, cfg)
			key := keyPattern.FindString(out.String())
			if key == "" {
				t.Fatalf("no admin key printed: %q", out.String())
			}
			if code, body := get(t, client, url+"/healthz", ""); code != 200 || body != "ok\n" {
				t.Fatalf("healthz: %d %q", code, body)
			}
			if code, body := get(t, client, url+"/api/v1/whoami", key); code != 200 || !strings.Contains(body, `"name":"admin"`) {
				t.Fatalf("whoami: %d %s", code, body)
			}
			if code, _ := get(t, client, url+"/api/v1/whoami", auth.NewKey()); code != 401 {
				t.Fatalf("unknown key: %d", code)
			}
			stop()

			var out2 bytes.Buffer
			cfg.KeyOut = &out2
			url, client, stop = start(t, cfg)
			if out2.String() != "" {
				t.Fatalf("second start printed %q", out2.String())
			}
			if code, _ := get(t, client, url+"/api/v1/whoami", key); code != 200 {
				t.Fatalf("the first key no longer works: %d", code)
			}
			stop()
			if !strings.Contains(logs.String(), "principal=user:admin") {
				t.Fatalf("the request log does not name the principal:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), key[len("nest_"):]) {
				t.Fatal("the log contains the admin key")
			}
		})
	}
}

func TestBootstrapKeySources(t *testing.T) {
	t.Parallel()
	given := auth.NewKey()
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(given+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  server.Config
	}{
		{"from the environment", server.Config{BootstrapKey: given}},
		{"from a file", server.Config{BootstrapKeyFile: keyFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			tc.cfg.DataDir, tc.cfg.KeyOut = t.TempDir(), &out
			url, client, stop := start(t, tc.cfg)
			defer stop()
			if out.String() != "" {
				t.Fatalf("a given key was printed: %q", out.String())
			}
			if code, _ := get(t, client, url+"/api/v1/whoami", given); code != 200 {
				t.Fatalf("whoami with the given key: %d", code)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"no data dir", server.Config{}, "DataDir"},
		{"bad addr", server.Config{Addr: "8443"}, "--addr"},
		{"half TLS", server.Config{TLSCert: "c"}, "--tls-key"},
		{"bad bootstrap key", server.Config{BootstrapKey: "nope"}, "NEST_HUB_BOOTSTRAP_KEY"},
		{"two bootstrap keys", server.Config{BootstrapKey: "a", BootstrapKeyFile: "b"}, "not both"},
		{"bad database", server.Config{Database: "mysql://x"}, "want sqlite:PATH or postgres://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.cfg.DataDir == "" && tc.name != "no data dir" {
				tc.cfg.DataDir = t.TempDir()
			}
			err := server.Run(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(tc.cfg.BootstrapKey, "nest_") && strings.Contains(err.Error(), tc.cfg.BootstrapKey) {
				t.Fatal("the error shows the key")
			}
		})
	}
}

// TestEncryptionKey: without a key the hub generates one (0600) into its
// data directory and says so; a later start reuses it; a key given twice
// is refused.
func TestEncryptionKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs bytes.Buffer
	cfg := server.Config{DataDir: dir, Logger: nestlog.New(&logs, 1), NoReconciler: true}
	_, _, stop := start(t, cfg)
	stop()
	path := filepath.Join(dir, "encryption.key")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key %s: %v, %v", path, fi, err)
	}
	if !strings.Contains(logs.String(), "Generated the key that encrypts host credentials") {
		t.Fatalf("the log does not say the key was generated:\n%s", logs.String())
	}
	first, _ := os.ReadFile(path)
	_, _, stop = start(t, cfg)
	stop()
	if again, _ := os.ReadFile(path); !bytes.Equal(first, again) {
		t.Fatal("a second start replaced the key")
	}
	bad := cfg
	bad.EncryptionKey = strings.Repeat("ab", 32)
	bad.EncryptionKeyFile = path
	if err := server.Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("a key given twice: %v", err)
	}
}
