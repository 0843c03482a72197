package controlplane

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/nestcluster/nest/internal/testetcd"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/pki"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// TestAdminSnapshotOfEtcdOverTLS: the admin endpoint snapshots an external
// etcd that wants TLS and a client certificate, with the certificates
// given to the apiserver (controlPlane.apiServer.extraArgs); without the
// client certificate the etcd refuses: 503, not a hang.
func TestAdminSnapshotOfEtcdOverTLS(t *testing.T) {
	t.Parallel()
	b, err := pki.Ensure(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := testetcd.Start(t, &testetcd.TLS{CA: b.CACert(), Cert: b.APIServerCert(), Key: b.APIServerKey()})
	withCert := map[string]string{"etcd-cafile": b.CACert(), "etcd-certfile": b.AdminCert(), "etcd-keyfile": b.AdminKey()}
	const name = "tls"
	cfg := config.Default()
	cfg.Datastore.Endpoint = endpoint
	cfg.ControlPlane.APIServer.ExtraArgs = withCert
	prefix := StoragePrefix(name, cfg)
	client, err := datastoreClient(cfg, []string{endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, k := range []string{"/configmaps/data/a", "/configmaps/data/b", "/namespaces/data"} {
		if _, err := client.Put(context.Background(), prefix+k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		args     map[string]string
		wantKeys int // -1: 503
	}{
		{"the apiserver's CA and client certificate", withCert, 3},
		{"no client certificate", map[string]string{"etcd-cafile": b.CACert()}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			c.Datastore.Endpoint = endpoint
			c.ControlPlane.APIServer.ExtraArgs = tt.args
			a := &adminServer{name: name, cluster: c, layout: Layout{Dir: t.TempDir()}, etcd: etcdEndpoints(endpoint), prefix: prefix, log: slog.New(slog.DiscardHandler)}
			rec := httptest.NewRecorder()
			a.snapshot(rec, httptest.NewRequest(http.MethodGet, AdminSnapshotPath, nil))
			if tt.wantKeys < 0 {
				if rec.Code != http.StatusServiceUnavailable {
					t.Fatalf("status %d, want 503 (%.200s)", rec.Code, rec.Body.String())
				}
				return
			}
			r, err := snapshot.NewReader(bytes.NewReader(rec.Body.Bytes()))
			var kvs []snapshot.KV
			if err == nil {
				kvs, err = r.ReadAll()
			}
			if err != nil {
				t.Fatalf("status %d: %v (%s)", rec.Code, err, rec.Body.Bytes()[:min(200, rec.Body.Len())])
			}
			if len(kvs) != tt.wantKeys || r.Header.Cluster != name || r.Header.Datastore != string(config.DatastoreEtcd) {
				t.Errorf("snapshot: %d keys, header %+v", len(kvs), r.Header)
			}
		})
	}
}

// TestSeedEtcdOverTLS: --restore-from loads a snapshot into an external
// etcd over TLS with the apiserver's etcd certificates.
func TestSeedEtcdOverTLS(t *testing.T) {
	t.Parallel()
	b, err := pki.Ensure(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := testetcd.Start(t, &testetcd.TLS{CA: b.CACert(), Cert: b.APIServerCert(), Key: b.APIServerKey()})
	cfg := config.Default()
	cfg.Datastore.Endpoint = endpoint
	cfg.ControlPlane.APIServer.ExtraArgs = map[string]string{"etcd-cafile": b.CACert(), "etcd-certfile": b.AdminCert(), "etcd-keyfile": b.AdminKey()}
	path := filepath.Join(t.TempDir(), "seed.snapshot")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := snapshot.NewWriter(f, snapshot.Header{Cluster: "src", Datastore: string(config.DatastoreEtcd)})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"/configmaps/data/a", "/configmaps/data/b"} {
		if err := w.Add([]byte(k), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	prefix := StoragePrefix("seeded", cfg)
	seeded, h, err := seedDatastore(context.Background(), path, cfg, endpoint, prefix, slog.New(slog.DiscardHandler))
	if err != nil || !seeded || h.Cluster != "src" {
		t.Fatalf("seed: %v, %v, header %+v", seeded, err, h)
	}
	client, err := datastoreClient(cfg, []string{endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if n, err := snapshot.Count(context.Background(), client, prefix); err != nil || n != 2 {
		t.Errorf("keys under %s after seeding: %d, %v; want 2", prefix, n, err)
	}
}
