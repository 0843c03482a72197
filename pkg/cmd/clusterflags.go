package cmd

import (
	"errors"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/fleet"
	"github.com/nestcluster/nest/pkg/hub/store"
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
	// On a hub.
	group string
	quota store.Resources
	wait  bool
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

// AddHubTo registers the flags that only a hub reads.
func (f *ClusterFlags) AddHubTo(fs *pflag.FlagSet) {
	fs.StringVar(&f.group, "group", "", "hub: the cluster group to place the virtual cluster on, by name or id")
	fs.StringVar(&f.quota.CPU, "quota-cpu", "", "hub: CPU quota, such as 2 or 500m (default and most: the group's)")
	fs.StringVar(&f.quota.Memory, "quota-memory", "", "hub: memory quota, such as 4Gi (default and most: the group's)")
	fs.StringVar(&f.quota.Storage, "quota-storage", "", "hub: storage quota, such as 10Gi (default and most: the group's)")
	fs.StringVar(&f.quota.Pods, "quota-pods", "", "hub: pod quota (default and most: the group's)")
	fs.BoolVar(&f.wait, "wait", false, "hub: wait until the virtual cluster is Ready (up to --timeout); the local runtime always waits")
}

// CheckFor refuses the flags the chosen fleet would ignore: the host
// flags on a hub (it places the cluster itself), the hub flags locally.
func (f *ClusterFlags) CheckFor(onHub bool) error {
	if onHub {
		if f.hostKubeconfig != "" || f.namespace != "" || f.datastore != "" {
			return errors.New("--host-kubeconfig, --namespace and --datastore are for the local runtime: the hub places the virtual cluster (give --local to create it locally)")
		}
		return nil
	}
	if f.group != "" || f.quota != (store.Resources{}) || f.wait {
		return errors.New("--group, --quota-* and --wait are for a hub: log in with nest login first (the local runtime always waits)")
	}
	return nil
}

// FleetOptions turns the flags into a fleet's create options.
func (f *ClusterFlags) FleetOptions() (fleet.CreateOptions, error) {
	local, err := f.Options()
	if err != nil {
		return fleet.CreateOptions{}, err
	}
	opts := fleet.CreateOptions{Local: local, Group: f.group, Quota: f.quota, Wait: f.wait}
	if f.configPath != "" {
		data, err := os.ReadFile(f.configPath)
		if err != nil {
			return fleet.CreateOptions{}, err
		}
		opts.ConfigText = string(data)
	}
	return opts, nil
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
