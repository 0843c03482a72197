package lifecycle

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nestcluster/nest/pkg/components"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/exec"
)

// deleteDatastore removes what a deleted virtual cluster kept outside its
// state directory: its key prefix in an external etcd. SQLite lives in the
// state directory; a Postgres database belongs to whoever made it and is
// left alone (docs/configuration.md says so).
func (p *Provider) deleteDatastore(ctx context.Context, cfg *config.Config, name string) error {
	ep, err := config.ParseEndpoint(cfg.Datastore.Endpoint)
	if err != nil || ep.Kind != config.DatastoreEtcd {
		return err
	}
	client, err := externalEtcd(cfg, ep)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.Delete(ctx, config.EtcdPrefix(name)+"/", clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("delete %s/ from etcd: %w", config.EtcdPrefix(name), err)
	}
	return nil
}

// etcdClient connects to an etcd v3 API: an etcd, or a kine (unix://),
// over TLS if tc is not nil. It logs nothing: errors come back as values.
func etcdClient(endpoints []string, tc *tls.Config) (*clientv3.Client, error) {
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("connect to the datastore at %v: %w", endpoints, err)
	}
	return client, nil
}

// externalEtcd connects to a cluster's external etcd as its apiserver does:
// over TLS for https:// servers, with the CA and client certificate given
// to the apiserver (controlPlane.apiServer.extraArgs etcd-cafile,
// etcd-certfile, etcd-keyfile).
func externalEtcd(cfg *config.Config, ep config.Endpoint) (*clientv3.Client, error) {
	tc, err := controlplane.EtcdClientTLS(cfg)
	if err != nil {
		return nil, err
	}
	return etcdClient(ep.EtcdServers, tc)
}

// datastore is a connection to a virtual cluster's datastore through the
// etcd v3 API.
type datastore struct {
	client *clientv3.Client
	// config is the cluster's nest.yaml.
	config *config.Config
	kind   config.DatastoreKind
	// prefix of the cluster's keys (controlplane.StoragePrefix).
	prefix string
	// close disconnects and stops what was started for the connection.
	close func()
}

// openDatastore connects to the datastore of virtual cluster name, whose
// control plane does not run (the caller holds the state directory's lock):
// its external etcd, or a kine started for the job on dsn ("" is the
// cluster's own database; a restore builds a new SQLite file).
func (p *Provider) openDatastore(ctx context.Context, name, dsn string) (*datastore, error) {
	ds, ep, err := p.datastoreOf(name)
	if err != nil {
		return nil, err
	}
	if ep.Kind == config.DatastoreEtcd {
		if ds.client, err = externalEtcd(ds.config, ep); err != nil {
			return nil, err
		}
		ds.close = func() { ds.client.Close() }
		if err := ds.probe(ctx); err != nil {
			return nil, err
		}
		return ds, nil
	}
	if dsn == "" {
		if ep.Kind == config.DatastoreSQLite {
			dsn = components.SQLiteEndpoint(controlplane.SQLiteFile(ep, p.layout(name)))
		} else {
			dsn = ep.URL
		}
	}
	client, stop, err := p.startKine(ctx, p.layout(name), dsn)
	if err != nil {
		return nil, err
	}
	ds.client = client
	ds.close = func() { client.Close(); stop() }
	return ds, nil
}

// probe checks that the datastore answers, so that a datastore that is down
// fails at once: the etcd client retries reads until its context ends. It
// closes ds on failure.
func (ds *datastore) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := ds.client.Get(ctx, ds.prefix+"/health"); err != nil {
		ds.close()
		return fmt.Errorf("the %s datastore does not answer: %w", ds.kind, err)
	}
	return nil
}

// datastoreOf reads a cluster's datastore settings.
func (p *Provider) datastoreOf(name string) (*datastore, config.Endpoint, error) {
	cfg, err := config.Load(p.layout(name).ConfigPath())
	if err != nil {
		return nil, config.Endpoint{}, err
	}
	ep, err := config.ParseEndpoint(cfg.Datastore.Endpoint)
	if err != nil {
		return nil, config.Endpoint{}, fmt.Errorf("datastore.endpoint: %w", err)
	}
	return &datastore{config: cfg, kind: ep.Kind, prefix: controlplane.StoragePrefix(name, cfg), close: func() {}}, ep, nil
}

// startKine runs kine on dsn as a child process (`nest component kine`,
// the database URL in its environment, not its arguments) on a socket in
// the state directory, and waits until it serves.
func (p *Provider) startKine(ctx context.Context, layout controlplane.Layout, dsn string) (*clientv3.Client, func(), error) {
	socket, pidPath := kineFiles(layout)
	stopStaleKine(layout)
	cmd := exec.Command{
		Path:    p.nestPath,
		Args:    []string{"component", components.Kine, "--listen-address=unix://" + socket},
		Env:     []string{components.KineEndpointEnv + "=" + dsn},
		LogPath: filepath.Join(layout.RunDir(), "kine-lifecycle.log"),
	}
	pid, err := p.runner.StartDetached(cmd)
	if err != nil {
		return nil, nil, fmt.Errorf("start kine: %w", err)
	}
	stop := func() {
		if err := exec.Terminate(pid, socket, 10*time.Second); err != nil && !errors.Is(err, exec.ErrNotRunning) {
			p.logger.Warn("Could not stop kine", "pid", pid, "error", err)
		}
		_ = os.Remove(socket)
		_ = os.Remove(pidPath)
	}
	if err := exec.WritePIDFile(pidPath, pid); err != nil {
		stop()
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var client *clientv3.Client
	for {
		// Dial only once the socket exists: gRPC logs every failed dial.
		if _, err = os.Stat(socket); err == nil {
			if client == nil {
				if client, err = etcdClient([]string{"unix://" + socket}, nil); err != nil {
					stop()
					return nil, nil, err
				}
			}
			attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
			_, err = client.Get(attempt, "/registry/health")
			cancelAttempt()
			if err == nil {
				return client, stop, nil
			}
		}
		failed := ""
		if !exec.Alive(pid, socket) {
			failed = "kine exited"
		} else if ctx.Err() != nil {
			failed = "kine did not serve"
		}
		if failed != "" {
			if client != nil {
				client.Close()
			}
			stop()
			return nil, nil, fmt.Errorf("%s: %v\n%s", failed, err, exec.TailLog(cmd.LogPath, 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kineFiles are the socket and pid file of the kine startKine runs.
func kineFiles(layout controlplane.Layout) (socket, pidPath string) {
	return filepath.Join(layout.RunDir(), "kine-lifecycle.sock"), filepath.Join(layout.RunDir(), "kine-lifecycle.pid")
}

// stopStaleKine stops a kine that startKine ran for a nest process killed
// before it could stop it: it must not serve the database next to the
// control plane.
func stopStaleKine(layout controlplane.Layout) {
	socket, pidPath := kineFiles(layout)
	if pid, err := exec.ReadPIDFile(pidPath); err == nil {
		_ = exec.Terminate(pid, socket, 10*time.Second)
	}
	_ = os.Remove(pidPath)
	_ = os.Remove(socket)
}
