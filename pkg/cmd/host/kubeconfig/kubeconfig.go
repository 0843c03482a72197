// Package kubeconfig implements `nest host kubeconfig`.
package kubeconfig

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/localhost"
)

// NewCommand returns `nest host kubeconfig`.
func NewCommand(streams cmd.IOStreams, _ *cmd.GlobalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "kubeconfig",
		Short:   "Print the path of the local host's admin kubeconfig",
		Example: `  kubectl --kubeconfig "$(nest host kubeconfig)" get nodes`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			h, err := localhost.OpenDefault()
			if err != nil {
				return err
			}
			if _, err := os.Stat(h.KubeconfigPath()); err != nil {
				return localhost.ErrNotUp
			}
			fmt.Fprintln(streams.Out, h.KubeconfigPath())
			return nil
		},
	}
}
