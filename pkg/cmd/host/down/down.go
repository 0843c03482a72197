// Package down implements `nest host down`.
package down

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/localhost"
)

// NewCommand returns `nest host down`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var purge bool
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop every process of the local host cluster",
		Long: `Stop every process of the local host cluster. Its data is kept, so the next
'nest host up' brings back the same cluster; --purge deletes it too.`,
		Example: `  nest host down
  nest host down --purge   # also delete its data, certificates and logs`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			h, err := localhost.OpenDefault(localhost.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			stopped, err := h.Down(c.Context(), purge)
			if err != nil {
				return err
			}
			if len(stopped) == 0 {
				fmt.Fprintln(streams.Out, "The local host is not running.")
			} else {
				fmt.Fprintf(streams.Out, "Stopped %s.\n", strings.Join(stopped, ", "))
			}
			if purge {
				fmt.Fprintf(streams.Out, "Deleted %s.\n", h.Dir())
			}
			return nil
		},
	}
	c.Flags().BoolVar(&purge, "purge", false, "also delete the host's data, certificates, kubeconfigs and logs")
	return c
}
