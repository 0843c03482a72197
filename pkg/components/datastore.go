package components

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/k3s-io/kine/pkg/endpoint"
	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
)

// KineConfig returns kine's settings for serving endpoint (a database URL,
// e.g. sqlite:///path/state.db?_journal=WAL) on listen (tcp://host:port or
// unix:///path). kine rejects zero values for its batch and compaction
// settings, so these are its documented defaults.
func KineConfig(endpointURL, listen string) endpoint.Config {
	return endpoint.Config{
		Listener:            listen,
		Endpoint:            endpointURL,
		NotifyInterval:      5 * time.Second,
		EmulatedETCDVersion: "3.5.13",
		CompactInterval:     5 * time.Minute,
		CompactTimeout:      5 * time.Second,
		CompactMinRetain:    1000,
		CompactBatchSize:    1000,
		PollBatchSize:       500,
	}
}

// StartKine serves cfg until ctx ends and returns the etcd endpoint to give
// kube-apiserver.
func StartKine(ctx context.Context, cfg endpoint.Config) (string, error) {
	etcd, err := endpoint.Listen(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("start kine on %s: %w", cfg.Listener, err)
	}
	if len(etcd.Endpoints) == 0 {
		return "", fmt.Errorf("kine on %s returned no endpoint", cfg.Listener)
	}
	return etcd.Endpoints[0], nil
}

// KineEndpointEnv names the environment variable RunKine reads the database
// URL from when --endpoint is not given: a Postgres URL may hold a
// password, which must not show in the process list.
const KineEndpointEnv = "NEST_KINE_ENDPOINT"

// RunKine runs kine as an etcd-compatible server: --endpoint DB_URL (or
// $NEST_KINE_ENDPOINT) --listen-address ADDR.
func RunKine(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet(Kine, pflag.ContinueOnError)
	endpointURL := fs.String("endpoint", "", "database URL, e.g. sqlite:///var/lib/nest/state.db (default $"+KineEndpointEnv+")")
	listen := fs.String("listen-address", "", "address to serve etcd's gRPC API on, e.g. tcp://127.0.0.1:2379")
	if err := parseFlags(Kine, map[string]*pflag.FlagSet{"": fs}, args); err != nil {
		return err
	}
	if *endpointURL == "" {
		*endpointURL = os.Getenv(KineEndpointEnv)
	}
	if *endpointURL == "" || *listen == "" {
		return fmt.Errorf("kine needs --endpoint (or $%s) and --listen-address", KineEndpointEnv)
	}
	if _, err := StartKine(ctx, KineConfig(*endpointURL, *listen)); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// RunEtcd runs an embedded single-member etcd: --data-dir DIR --listen-client-url URL --listen-peer-url URL.
func RunEtcd(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet(Etcd, pflag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "directory for etcd's data")
	clientURL := fs.String("listen-client-url", "", "client URL, e.g. http://127.0.0.1:2379")
	peerURL := fs.String("listen-peer-url", "", "peer URL, e.g. http://127.0.0.1:2380")
	if err := parseFlags(Etcd, map[string]*pflag.FlagSet{"": fs}, args); err != nil {
		return err
	}
	if *dataDir == "" || *clientURL == "" || *peerURL == "" {
		return fmt.Errorf("etcd needs --data-dir, --listen-client-url and --listen-peer-url")
	}
	cu, err := url.Parse(*clientURL)
	if err != nil {
		return fmt.Errorf("etcd --listen-client-url: %w", err)
	}
	pu, err := url.Parse(*peerURL)
	if err != nil {
		return fmt.Errorf("etcd --listen-peer-url: %w", err)
	}
	cfg := embed.NewConfig()
	cfg.Name = "nest"
	cfg.Dir = *dataDir
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "warn"
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start etcd in %s: %w", *dataDir, err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		return fmt.Errorf("etcd failed before ready: %w", err)
	case <-ctx.Done():
		return nil
	}
	select {
	case err := <-e.Err():
		return fmt.Errorf("etcd failed: %w", err)
	case <-ctx.Done():
		return nil
	}
}

// SQLiteEndpoint is kine's endpoint for a SQLite file at path: WAL journal,
// immediate write transactions and a long busy timeout (kine's defaults),
// plus synchronous=NORMAL, which in WAL mode stays crash-safe (a power loss
// may lose the last transactions, never corrupt the file) and saves an fsync
// per commit.
func SQLiteEndpoint(path string) string {
	return "sqlite://" + path + "?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate&_synchronous=NORMAL"
}
