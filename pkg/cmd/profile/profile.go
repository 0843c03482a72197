// Package profile groups the `nest profile` verbs that apply cluster
// profiles to virtual clusters and show their drift.
package profile

import (
	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/profile/apply"
	"github.com/nestcluster/nest/pkg/cmd/profile/diff"
)

// NewCommand returns `nest profile`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "profile",
		Short: "Apply cluster profiles (manifests and Helm charts) to virtual clusters, show drift",
		Long: `A cluster profile is a versioned, ordered list of layers: plain manifests
and Helm charts with values, with ${VAR} variables that each cluster may
override. A profile directory holds profile.yaml and the files it names
(see docs/profiles.md and examples/profiles/cicd).`,
	}
	c.AddCommand(
		apply.NewCommand(streams, globals),
		diff.NewCommand(streams, globals),
	)
	return c
}
