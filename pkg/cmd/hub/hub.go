// Package hub groups the `nest hub` verbs that run and use the management
// plane.
package hub

import (
	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/hub/serve"
)

// NewCommand returns `nest hub`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "hub",
		Short: "Run the hub: the management plane for tenants, projects, users and access",
		Long: `The hub is an HTTPS server with a JSON API (/api/v1, described at
/api/v1/openapi.json) over a store (SQLite by default, Postgres for shared
deployments). It keeps tenants and their projects, users, teams, roles and
role bindings, API keys and an append-only audit log. See docs/hub.md.`,
	}
	c.AddCommand(serve.NewCommand(streams, globals))
	return c
}
