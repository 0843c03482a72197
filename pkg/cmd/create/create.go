// Package create implements `nest create`.
package create

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

type flags struct {
	hostKubeconfig    string
	namespace         string
	configPath        string
	kubernetesVersion string
	datastore         string
	connect           bool
	timeout           time.Duration
}

// NewCommand returns `nest create`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &flags{}
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a virtual cluster and wait until it is ready",
		Long: `Create a virtual cluster: a namespace on the host cluster (default nest-NAME),
a control plane running as a local process, and an admin kubeconfig. Returns
once kubectl can use it.`,
		Example: `  # On the local host (start it with 'nest host up')
  nest create dev

  # Merge a context nest_dev into ~/.kube/config and switch to it
  nest create dev --connect

  # Keep its objects in an external etcd (under /nest/ci/registry)
  nest create ci --datastore etcd://10.0.0.5:2379

  # On another host cluster, with a config file
  nest create ci-42 --host-kubeconfig ~/.kube/host.yaml --namespace team-a-ci-42 --config nest.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cluster, err := config.LoadOrDefault(f.configPath)
			if err != nil {
				return err
			}
			if f.kubernetesVersion != "" {
				cluster.KubernetesVersion = f.kubernetesVersion
			}
			if f.datastore != "" {
				cluster.Datastore.Endpoint = f.datastore
			}
			p, err := lifecycle.OpenDefault(lifecycle.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			vc, err := p.Create(c.Context(), args[0], lifecycle.CreateOptions{
				HostKubeconfig: f.hostKubeconfig, Namespace: f.namespace, Config: cluster, Timeout: f.timeout,
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Virtual cluster %q is ready (host namespace %s).\n", vc.Name, vc.HostNamespace)
			if f.connect {
				backup, err := p.Connect(c.Context(), vc.Name, "")
				if err != nil {
					return err
				}
				fmt.Fprintf(streams.Out, "Context %s is now current in your kubeconfig", lifecycle.ContextName(vc.Name))
				if backup != "" {
					fmt.Fprintf(streams.Out, " (previous file saved as %s)", backup)
				}
				fmt.Fprintln(streams.Out, ".\n  kubectl get namespaces")
				return nil
			}
			fmt.Fprintf(streams.Out, "Use it with:\n  kubectl --kubeconfig %s get namespaces\n", vc.Kubeconfig)
			return nil
		},
	}
	c.Flags().StringVar(&f.hostKubeconfig, "host-kubeconfig", "", "kubeconfig of the host cluster (default: the local host)")
	c.Flags().StringVar(&f.namespace, "namespace", "", "namespace on the host (default nest-NAME)")
	c.Flags().StringVar(&f.configPath, "config", "", "nest.yaml with the virtual cluster's settings")
	c.Flags().StringVar(&f.kubernetesVersion, "kubernetes-version", "", "Kubernetes version (default and only supported: "+config.SupportedKubernetesVersion+")")
	c.Flags().StringVar(&f.datastore, "datastore", "", "datastore endpoint, overriding nest.yaml: etcd://host:2379, https://host:2379 or postgres://user:pass@host/db (default: embedded SQLite)")
	c.Flags().BoolVar(&f.connect, "connect", false, "merge a context nest_NAME into your kubeconfig and make it current")
	c.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long to wait for the cluster to become ready")
	return c
}
