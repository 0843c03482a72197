// Package resume implements `nest resume`.
package resume

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
)

// NewCommand returns `nest resume`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var timeout time.Duration
	where := &cmd.FleetFlags{}
	c := &cobra.Command{
		Use:   "resume NAME",
		Short: "Start a stopped or paused virtual cluster again, with all its objects",
		Long: `Start the control plane of a virtual cluster that is not running (after a
reboot, a crash, a kill or ` + "`nest pause`" + `) from its kept state; after a
pause, its pods go back onto the host. A running cluster is left as
it is. When logged in to a hub (nest login), the hub resumes it and this
waits until it is Ready.`,
		Example: `  nest resume dev`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			fl, err := where.Open(c.Context(), globals, streams)
			if err != nil {
				return err
			}
			vc, err := fl.Resume(c.Context(), args[0], timeout)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Virtual cluster %q is %s at %s.\n", vc.Name, vc.State, vc.Endpoint)
			return nil
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the cluster to become ready")
	where.AddTo(c.Flags())
	return c
}
