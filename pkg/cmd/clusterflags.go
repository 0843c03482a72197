package cmd

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// ClusterFlags are the settings of a new virtual cluster, shared by the
// verbs that make one (create, and restore into a new name).
type ClusterFlags struct {
	hostKubeconfig    string
	namespace         string
	configPath        string
	kubernetesVersion string
	datastore         string
	timeout           time.Duration
}

// AddTo registers the flags on fs.
func (f *ClusterFlags) AddTo(fs *pflag.FlagSet) {
	fs.StringVar(&f.hostKubeconfig, "host-kubeconfig", "", "kubeconfig of the host cluster (default: the local host)")
	fs.StringVar(&f.namespace, "namespace", "", "namespace on the host (default nest-NAME)")
	fs.StringVar(&f.configPath, "config", "", "nest.yaml with the virtual cluster's settings")
	fs.StringVar(&f.kubernetesVersion, "kubernetes-version", "", "Kubernetes version (default and only supported: "+config.SupportedKubernetesVersion+")")
	fs.StringVar(&f.datastore, "datastore", "", "datastore endpoint, overriding nest.yaml: etcd://host:2379, https://host:2379 or postgres://user:pass@host/db (default: embedded SQLite)")
	fs.DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long to wait for the cluster to become ready")
}

// Options turns the flags into the library's options.
func (f *ClusterFlags) Options() (lifecycle.CreateOptions, error) {
	cluster, err := config.LoadOrDefault(f.configPath)
	if err != nil {
		return lifecycle.CreateOptions{}, err
	}
	if f.kubernetesVersion != "" {
		cluster.KubernetesVersion = f.kubernetesVersion
	}
	if f.datastore != "" {
		cluster.Datastore.Endpoint = f.datastore
	}
	return lifecycle.CreateOptions{
		HostKubeconfig: f.hostKubeconfig, Namespace: f.namespace, Config: cluster, Timeout: f.timeout,
	}, nil
}
