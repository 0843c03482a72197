// Package snapshot implements `nest snapshot`.
package snapshot

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest snapshot`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "snapshot NAME",
		Short: "Save a consistent copy of a virtual cluster's objects to a file",
		Long: `Write every object of a virtual cluster, read from its datastore at one
revision, to a snapshot file (gzip-compressed, with a SHA-256 checksum). The
cluster may be running; a stopped one is read without starting it. Events
and the apiservers' own leases are left out.

The file holds the cluster's secrets: it is written readable by you only.
'nest restore' brings it back, into the same cluster or a new one.`,
		Example: `  nest snapshot dev
  nest snapshot dev -o /backups/dev-before-upgrade.snapshot`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if output == "" {
				output = fmt.Sprintf("%s-%s.snapshot", args[0], time.Now().UTC().Format("20060102T150405Z"))
			}
			p, err := lifecycle.OpenDefault(lifecycle.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			h, err := p.Snapshot(c.Context(), args[0], output)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Snapshot of %q written to %s (%d objects at revision %d).\n", h.Cluster, output, h.Keys, h.Revision)
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "file to write (default NAME-TIMESTAMP.snapshot in the current directory)")
	return c
}
