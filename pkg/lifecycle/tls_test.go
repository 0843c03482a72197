package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nestcluster/nest/internal/testetcd"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/pki"
)

// TestEtcdOverTLS snapshots, restores (in place, with a rollback) and
// deletes a cluster whose etcd wants TLS and a client certificate, with the
// certificates given to its apiserver.
func TestEtcdOverTLS(t *testing.T) {
	t.Parallel()
	b, err := pki.Ensure(t.TempDir(), pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Datastore.Endpoint = testetcd.Start(t, &testetcd.TLS{CA: b.CACert(), Cert: b.APIServerCert(), Key: b.APIServerKey()})
	cfg.ControlPlane.APIServer.ExtraArgs = map[string]string{
		"etcd-cafile": b.CACert(), "etcd-certfile": b.AdminCert(), "etcd-keyfile": b.AdminKey(),
	}
	const name = "tls"
	p := stoppedCluster(t, name, cfg)
	ctx := context.Background()
	s, err := p.replaceData(ctx, name, snapshotOf(t, "a", "b"), false)
	if err != nil {
		t.Fatal(err)
	}
	s.commit()
	if got := configMaps(t, p, name); !equal(got, []string{"a", "b"}) {
		t.Fatalf("after the first restore: %v", got)
	}
	s, err = p.replaceData(ctx, name, snapshotOf(t, "c"), false)
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(p.layout(name).Dir, "pre-restore.snapshot")
	if _, err := os.Stat(backup); err != nil {
		t.Fatalf("previous keys not saved: %v", err)
	}
	if got := configMaps(t, p, name); !equal(got, []string{"c"}) {
		t.Fatalf("after the second restore: %v", got)
	}
	if err := s.rollback(); err != nil {
		t.Fatal(err)
	}
	if got := configMaps(t, p, name); !equal(got, []string{"a", "b"}) {
		t.Fatalf("after the rollback: %v", got)
	}
	if _, err := os.Stat(backup); !os.IsNotExist(err) {
		t.Fatalf("saved keys left after the rollback: %v", err)
	}
	if err := p.deleteDatastore(ctx, cfg, name); err != nil {
		t.Fatal(err)
	}
	if got := configMaps(t, p, name); len(got) != 0 {
		t.Fatalf("keys left after delete: %v", got)
	}

	// Without a client certificate the etcd refuses: an error, not a hang.
	delete(cfg.ControlPlane.APIServer.ExtraArgs, "etcd-certfile")
	delete(cfg.ControlPlane.APIServer.ExtraArgs, "etcd-keyfile")
	other := stoppedCluster(t, "tls-nocert", cfg)
	if _, err := other.Snapshot(ctx, "tls-nocert", filepath.Join(t.TempDir(), "x.snapshot")); err == nil {
		t.Fatal("snapshot without a client certificate succeeded")
	}
}
