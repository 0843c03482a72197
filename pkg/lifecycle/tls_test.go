package lifecycle

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/pki"
	"github.com/nestcluster/nest/pkg/ports"
)

// startTLSEtcd runs a real etcd in the test process that serves clients
// over TLS and asks them for a certificate of the bundle's CA.
func startTLSEtcd(t *testing.T, b *pki.Bundle) string {
	t.Helper()
	client, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	cu, _ := url.Parse(fmt.Sprintf("https://127.0.0.1:%d", client))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", peer))
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.ClientTLSInfo.CertFile = b.APIServerCert()
	cfg.ClientTLSInfo.KeyFile = b.APIServerKey()
	cfg.ClientTLSInfo.TrustedCAFile = b.CACert()
	cfg.ClientTLSInfo.ClientCertAuth = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(time.Minute):
		t.Fatal("etcd did not become ready")
	}
	return cu.String()
}

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
	cfg.Datastore.Endpoint = startTLSEtcd(t, b)
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
