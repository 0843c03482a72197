// Package component implements the hidden `nest component NAME FLAGS...`
// that runs one upstream component (kube-apiserver, kine, ...) in this
// process. The local host starts its processes this way.
package component

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/components"
)

// NewCommand returns the component command.
func NewCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "component NAME [FLAGS...]",
		Short:  "Run one Kubernetes component in this process (used by the local host)",
		Long:   "Run one component with its usual flags: " + strings.Join(components.Names(), ", ") + ".",
		Hidden: true,
		// The component parses its own flags.
		DisableFlagParsing: true,
		Args:               cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			run, ok := components.Registry()[args[0]]
			if !ok {
				return fmt.Errorf("unknown component %q: choose one of %s", args[0], strings.Join(components.Names(), ", "))
			}
			return run(c.Context(), args[1:])
		},
	}
}
