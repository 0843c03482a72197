// Package create implements `nest create`.
package create

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/fleet"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest create`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &cmd.ClusterFlags{}
	where := &cmd.FleetFlags{}
	var connect bool
	c := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a virtual cluster and wait until it is ready",
		Long: `Create a virtual cluster: a namespace on the host cluster (default nest-NAME),
a control plane running as a local process, and an admin kubeconfig. Returns
once kubectl can use it.

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
	c.Flags().BoolVar(&connect, "connect", false, "merge a context nest_NAME into your kubeconfig and make it current")
	return c
}
