// Package delete implements `nest delete`.
package delete

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/fleet"
)

// NewCommand returns `nest delete`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	where := &cmd.FleetFlags{}
	c := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete virtual clusters and every host object they made",
		Long: `Stop each virtual cluster, delete its host namespace (only if Nest made it),
remove its state and its nest_NAME context. Deleting a cluster that does not
exist succeeds. When logged in to a hub (nest login), the hub deletes them
and this waits until they are gone.`,
		Example: `  nest delete dev
  nest delete ci-1 ci-2 ci-3`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			fl, err := where.Open(c.Context(), globals, streams)
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				err := fl.Delete(c.Context(), name)
				switch {
				case errors.Is(err, fleet.ErrNotFound):
					fmt.Fprintf(streams.Out, "Virtual cluster %q does not exist.\n", name)
				case err != nil:
					errs = append(errs, err)
				default:
					fmt.Fprintf(streams.Out, "Virtual cluster %q deleted.\n", name)
				}
			}
			return errors.Join(errs...)
		},
	}
	where.AddTo(c.Flags())
	return c
}
