package lifecycle

import (
	"context"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nestcluster/nest/pkg/config"
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
	for _, s := range ep.EtcdServers {
		if strings.HasPrefix(s, "https://") {
			p.logger.Warn("Left the virtual cluster's keys in etcd: clean-up over TLS is not implemented", "prefix", config.EtcdPrefix(name))
			return nil
		}
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: ep.EtcdServers, DialTimeout: 5 * time.Second, Logger: nopLogger()})
	if err != nil {
		return fmt.Errorf("connect to etcd %v: %w", ep.EtcdServers, err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.Delete(ctx, config.EtcdPrefix(name)+"/", clientv3.WithPrefix()); err != nil {
		return fmt.Errorf("delete %s/ from etcd: %w", config.EtcdPrefix(name), err)
	}
	return nil
}

// nopLogger keeps the etcd client quiet; errors come back as values.
func nopLogger() *zap.Logger { return zap.NewNop() }
