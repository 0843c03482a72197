// Package hubtest starts a real hub (pkg/hub/server, SQLite in a temporary
// directory, its self-signed TLS certificate) for the tests of the hub's
// clients: the Go client, the Terraform provider, the CLI.
package hubtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/server"
)

// Hub is a running hub.
type Hub struct {
	// URL is https://127.0.0.1:PORT.
	URL string
	// CACert is the PEM of the hub's self-signed serving certificate.
	CACert []byte
	// AdminKey is the API key of the bootstrap admin (hub-admin globally).
	AdminKey string
	// DataDir holds the database and the certificate.
	DataDir string
}

// Option tunes the hub's configuration (its reconciler's intervals, say).
type Option func(*server.Config)

// Start runs a hub in dir until stop is called. Tests use Run, which stops
// the hub when the test ends; Start serves TestMain, which has no *testing.T.
func Start(dir string, opts ...Option) (hub *Hub, stop func() error, err error) {
	key := auth.NewKey()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	cfg := server.Config{Addr: "127.0.0.1:0", DataDir: dir, BootstrapKey: key,
		ShutdownTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&cfg)
	}
	cfg.Ready = func(addr string) { ready <- addr }
	go func() { done <- server.Run(ctx, cfg) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		return nil, nil, err
	}
	pem, err := os.ReadFile(filepath.Join(dir, "tls", "hub.crt"))
	if err != nil {
		cancel()
		<-done
		return nil, nil, err
	}
	stop = func() error {
		cancel()
		return <-done
	}
	return &Hub{URL: "https://" + addr, CACert: pem, AdminKey: key, DataDir: dir}, stop, nil
}

// Run starts a hub in a temporary directory and stops it when t ends.
func Run(t testing.TB, opts ...Option) *Hub {
	t.Helper()
	h, stop, err := Start(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("start a hub: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("the hub stopped with: %v", err)
		}
	})
	return h
}

// UnreachableHost is a host kubeconfig whose server does not listen.
const UnreachableHost = `apiVersion: v1
kind: Config
clusters:
- name: h
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: t}
contexts:
- name: h
  context: {cluster: h, user: u}
current-context: h
`
