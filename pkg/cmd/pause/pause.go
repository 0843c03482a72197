// Package pause implements `nest pause`.
package pause

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
)

// NewCommand returns `nest pause`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	where := &cmd.FleetFlags{}
	c := &cobra.Command{
		Use:   "pause NAME",
		Short: "Stop a virtual cluster and remove its pods from the host, keeping all its state",
		Long: `Stop the control plane of a virtual cluster and delete its pods on the host,
so that it uses no host capacity. Every object in the virtual cluster is
kept, and so are its services, configmaps, secrets and volume claims on the
host. ` + "`nest resume NAME`" + ` starts it again and puts every pod back.
Pausing a paused cluster does nothing. When logged in to a hub (nest login),
the hub pauses it and this waits until it is Paused.`,
		Example: `  nest pause dev
  nest resume dev`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			fl, err := where.Open(c.Context(), globals, streams)
			if err != nil {
				return err
			}
			if err := fl.Pause(c.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Virtual cluster %q is paused; `nest resume %s` brings it back.\n", args[0], args[0])
			return nil
		},
	}
	where.AddTo(c.Flags())
	return c
}
