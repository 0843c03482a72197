// Package create implements `nest create`.
package create

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/fleet"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest create`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &cmd.ClusterFlags{}
	where := &cmd.FleetFlags{}
	var (
		connect           bool
		runtime, valsPath string
	)
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a virtual cluster and wait until it is ready",
		Long: `Create a virtual cluster: a namespace on the host cluster (default nest-NAME),
a control plane running as a local process, and an admin kubeconfig. Returns
once kubectl can use it.

With --runtime pod, the control plane runs on the host instead, as the nest
chart's StatefulSet installed with Helm into the host namespace (release
NAME; --chart-values gives chart values such as image and persistence, see
docs/chart.md); create returns once its pod is ready. 'nest connect' then
reads the kubeconfig the control plane publishes in the Secret
NAME-nest-kubeconfig; its server is the in-cluster Service, reach it with
'kubectl port-forward'.

When logged in to a hub (nest login), the virtual cluster is asked of the
hub instead, in the login's project (or --tenant/--project), on the cluster
group --group; --wait waits until it is Ready. --local forces the local
runtime.`,
		Example: `  # On the local host (start it with 'nest host up')
  nest create dev

  # Merge a context nest_dev into ~/.kube/config and switch to it
  nest create dev --connect

  # Keep its objects in an external etcd (under /nest/ci/registry)
  nest create ci --datastore etcd://10.0.0.5:2379

  # On another host cluster, with a config file
  nest create ci-42 --host-kubeconfig ~/.kube/host.yaml --namespace team-a-ci-42 --config nest.yaml

  # As a pod on the host, installed from the embedded Helm chart
  nest create dev --runtime pod --chart-values values.yaml

  # On the hub of nest login, in project web, and wait until it is Ready
  nest create dev --project web --group local --quota-cpu 2 --wait`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts, err := f.FleetOptions()
			if err != nil {
				return err
			}
			fl, err := where.Open(c.Context(), globals, streams)
			if err != nil {
				return err
			}
			if err := f.CheckFor(fl.Where() != fleet.WhereLocal); err != nil {
				return err
			}
			if fl.Where() != fleet.WhereLocal && (runtime != "" || valsPath != "") {
				return errors.New("--runtime and --chart-values are for the local fleet: the hub places the virtual cluster")
			}
			opts.Local.Runtime = runtime
			if valsPath != "" {
				data, err := os.ReadFile(valsPath)
				if err != nil {
					return fmt.Errorf("--chart-values: %w", err)
				}
				if err := yaml.Unmarshal(data, &opts.Local.ChartValues); err != nil {
					return fmt.Errorf("--chart-values %s: %w", valsPath, err)
				}
			}
			opts.Wait = opts.Wait || connect
			vc, err := fl.Create(c.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if vc.Runtime == fleet.RuntimeHub && !opts.Wait {
				fmt.Fprintf(streams.Out, "Virtual cluster %q requested (%s); `nest list` shows when it is Ready.\n", vc.Name, fl.Where())
				return nil
			}
			fmt.Fprintf(streams.Out, "Virtual cluster %q is ready (host namespace %s).\n", vc.Name, vc.HostNamespace)
			if connect {
				backup, err := fleet.Connect(c.Context(), fl, vc.Name, "")
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
			if vc.Kubeconfig == "" {
				fmt.Fprintf(streams.Out, "Use it with:\n  nest connect %s && kubectl get namespaces\n", vc.Name)
				return nil
			}
			fmt.Fprintf(streams.Out, "Use it with:\n  kubectl --kubeconfig %s get namespaces\n", vc.Kubeconfig)
			return nil
		},
	}
	f.AddTo(c.Flags())
	f.AddHubTo(c.Flags())
	where.AddTo(c.Flags())
	c.Flags().StringVar(&runtime, "runtime", "", "where the control plane runs: process (a local process, the default) or pod (the nest chart on the host)")
	c.Flags().StringVar(&valsPath, "chart-values", "", "YAML file of nest chart values (--runtime pod only)")
	c.Flags().BoolVar(&connect, "connect", false, "merge a context nest_NAME into your kubeconfig and make it current")
	return c
}
