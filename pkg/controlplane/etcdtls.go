package controlplane

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nestcluster/nest/pkg/config"
)

// EtcdClientTLS is the TLS configuration with which a cluster's apiserver
// reaches its external etcd, for Nest's own etcd clients (snapshot,
// restore, the admin endpoint): nil for a kine datastore or an etcd over
// plain HTTP; else the CA and client certificate given to the apiserver
// (controlPlane.apiServer.extraArgs etcd-cafile, etcd-certfile,
// etcd-keyfile).
func EtcdClientTLS(cfg *config.Config) (*tls.Config, error) {
	ep, err := config.ParseEndpoint(cfg.Datastore.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("datastore.endpoint: %w", err)
	}
	if ep.Kind != config.DatastoreEtcd || !strings.HasPrefix(ep.EtcdServers[0], "https://") {
		return nil, nil
	}
	args := cfg.ControlPlane.APIServer.ExtraArgs
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca := args["etcd-cafile"]; ca != "" {
		data, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("etcd CA: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("etcd CA %s holds no PEM certificate", ca)
		}
	}
	if cert, key := args["etcd-certfile"], args["etcd-keyfile"]; cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// datastoreProbeTimeout bounds the first request to the datastore.
const datastoreProbeTimeout = 10 * time.Second

// datastoreClient connects to the etcd v3 API of the running control
// plane's datastore (kine, or an external etcd as its apiserver does).
func datastoreClient(cluster *config.Config, endpoints []string) (*clientv3.Client, error) {
	tc, err := EtcdClientTLS(cluster)
	if err != nil {
		return nil, err
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("connect to the datastore at %v: %w", endpoints, err)
	}
	return client, nil
}
