// Package delete implements `nest delete`.
package delete

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest delete`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete virtual clusters and every host object they made",
		Long: `Stop each virtual cluster, delete its host namespace (only if Nest made it),
remove its state and its nest_NAME context. Deleting a cluster that does not
exist succeeds.`,
		Example: `  nest delete dev
  nest delete ci-1 ci-2 ci-3`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := lifecycle.OpenDefault(lifecycle.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				err := p.Delete(c.Context(), name)
				switch {
				case errors.Is(err, lifecycle.ErrNotFound):
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
}
