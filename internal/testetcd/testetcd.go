// Package testetcd runs a real etcd inside a test process (etcd's own
// embed package), for tests of code that talks to etcd: never a fake.
package testetcd

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"github.com/nestcluster/nest/pkg/ports"
)

// TLS makes the etcd serve clients over TLS with a serving certificate and
// key, and ask them for a certificate signed by CA.
type TLS struct {
	CA, Cert, Key string
}

// Start runs an etcd until the test ends and returns its client URL
// (https:// when tls is not nil).
func Start(t testing.TB, tls *TLS) string {
	t.Helper()
	client, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if tls != nil {
		scheme = "https"
	}
	cu, _ := url.Parse(fmt.Sprintf("%s://127.0.0.1:%d", scheme, client))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", peer))
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	if tls != nil {
		cfg.ClientTLSInfo.CertFile = tls.Cert
		cfg.ClientTLSInfo.KeyFile = tls.Key
		cfg.ClientTLSInfo.TrustedCAFile = tls.CA
		cfg.ClientTLSInfo.ClientCertAuth = true
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("etcd failed: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("etcd did not become ready")
	}
	return cu.String()
}
