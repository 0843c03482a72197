// Package up implements `nest host up`.
package up

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/localhost"
)

type flags struct {
	nodes        int
	datastore    string
	timeout      time.Duration
	dryRun       bool
	simulateExec bool
	simulatePF   bool
}

// NewCommand returns `nest host up`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &flags{}
	c := &cobra.Command{
		Use:   "up",
		Short: "Start the local host cluster, or the parts of it that are not running",
		Example: `  # Start the local host with 3 simulated nodes
  nest host up

  # Keep the host's data in kine+SQLite instead of etcd, with 10 nodes
  nest host up --datastore kine --nodes 10

  # Show the processes it would start
  nest host up --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts := []localhost.Option{localhost.WithLogger(globals.Logger(streams))}
			if f.dryRun {
				opts = append(opts, localhost.WithRunner(exec.DryRun{Out: streams.Out}))
			}
			h, err := localhost.OpenDefault(opts...)
			if err != nil {
				return err
			}
			res, err := h.Up(c.Context(), localhost.Options{Nodes: f.nodes, Datastore: f.datastore, Timeout: f.timeout, SimulateExec: f.simulateExec, SimulatePortForward: f.simulatePF})
			if err != nil {
				return err
			}
			if f.dryRun {
				return nil
			}
			if len(res.Started) == 0 {
				fmt.Fprintln(streams.Out, "The local host is already up.")
			} else {
				fmt.Fprintf(streams.Out, "The local host is up (%d simulated nodes Ready).\n", res.Status.NodesReady)
			}
			fmt.Fprintf(streams.Out, "Use it with:\n  kubectl --kubeconfig %s get nodes\n", h.KubeconfigPath())
			return nil
		},
	}
	c.Flags().IntVar(&f.nodes, "nodes", 0, fmt.Sprintf("number of simulated nodes (default %d, or what the host has)", localhost.DefaultNodes))
	c.Flags().StringVar(&f.datastore, "datastore", "", "datastore of a new host: etcd (default) or kine (SQLite)")
	c.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "how long to wait for each component to become healthy")
	c.Flags().BoolVar(&f.simulateExec, "simulate-exec", false, "let kwok answer kubectl exec by running the command on this machine (tests and demos only: tenants of virtual clusters on this host can then run commands here)")
	c.Flags().BoolVar(&f.simulatePF, "simulate-port-forward", false, "install KWOK's PortForward CRD and let kwok read those objects: a PortForward named after a pod sends port-forwards to it to a local address or a command (tests and demos only: whoever may create them can make kwok connect anywhere from this machine or run commands here)")
	c.Flags().BoolVar(&f.dryRun, "dry-run", false, "print the processes that would start, start nothing")
	return c
}
