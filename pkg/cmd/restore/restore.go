// Package restore implements `nest restore`.
package restore

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest restore`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var from string
	var stop bool
	var runtime, valsPath string
	f := &cmd.ClusterFlags{}
	c := &cobra.Command{
		Use:   "restore NAME --from FILE",
		Short: "Replace a virtual cluster's objects with a snapshot's, or make a new cluster from one",
		Long: `Restore a snapshot made by 'nest snapshot' and start the cluster.

If NAME exists, all its objects are replaced by the snapshot's. It must be
stopped (or pass --stop). Its previous objects are kept until the restored
cluster is ready, and put back if it does not start.

If NAME does not exist, it is created as 'nest create' would (the create
flags below apply to it; an existing cluster keeps its settings), with the
snapshot's objects instead of an empty datastore, which must be empty. It
gets certificates and a service-account key of its own, so the
service-account tokens stored in secrets are issued again.

See docs/snapshot.md for what a snapshot holds and leaves out.

The file's format version and checksum are checked before anything is
touched.

With --runtime pod the new cluster runs as the nest chart on the host (see
'nest create --runtime pod'). The snapshot goes to its pod in Secrets of
its host namespace: parts of 768 KiB and a manifest, up to 512 MiB in all
(a larger file is refused before anything is made). The pod's control
plane checks every part and the whole before it touches its datastore,
loads the snapshot before its apiserver starts and deletes the Secrets
once it is ready. An existing pod-runtime cluster is restored over the
same way: its pod is stopped (--stop) and started again, and keeps its
previous objects in its volume until the restored ones serve; if the pod
refuses the restore or does not confirm it, the Secrets are deleted and
the restarted pod puts the previous objects back.`,
		Example: `  # Roll a cluster back
  nest restore dev --from dev-20261125T221500Z.snapshot --stop

  # Clone a cluster under a new name
  nest restore dev-copy --from dev-20261125T221500Z.snapshot

  # A pod-runtime cluster from a snapshot of any cluster
  nest restore dev-pod --from dev.snapshot --runtime pod --chart-values values.yaml

  # Roll a pod-runtime cluster back
  nest restore dev-pod --from dev-pod.snapshot --stop`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			create, err := f.Options()
			if err != nil {
				return err
			}
			create.Runtime = runtime
			if create.ChartValues, err = cmd.ReadChartValues(valsPath); err != nil {
				return err
			}
			p, err := lifecycle.OpenDefault(lifecycle.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			vc, err := p.Restore(c.Context(), args[0], from, lifecycle.RestoreOptions{Create: create, Stop: stop})
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Virtual cluster %q is restored from %s and %s at %s.\n", vc.Name, from, vc.State, vc.Endpoint)
			return nil
		},
	}
	c.Flags().StringVar(&from, "from", "", "snapshot file to restore (required)")
	_ = c.MarkFlagRequired("from")
	c.Flags().BoolVar(&stop, "stop", false, "stop the cluster first if it is running")
	c.Flags().StringVar(&runtime, "runtime", "", "runtime of a new cluster: process (the default) or pod (the nest chart on the host)")
	c.Flags().StringVar(&valsPath, "chart-values", "", "YAML file of nest chart values for a new --runtime pod cluster")
	f.AddTo(c.Flags())
	return c
}
