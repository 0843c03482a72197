// Package logout implements `nest logout`.
package logout

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/fleet"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// NewCommand returns `nest logout`.
func NewCommand(streams cmd.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the hub login: the lifecycle verbs use the local runtime again",
		Long: `Remove $NEST_HOME/hub.json, the login of nest login. The API key stays valid
on the hub; revoke it there if it should not be used again.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			home, err := nesthome.OpenDefault()
			if err != nil {
				return err
			}
			login, _ := fleet.LoadLogin(home.Dir())
			removed, err := fleet.RemoveLogin(home.Dir())
			if err != nil {
				return err
			}
			if !removed {
				fmt.Fprintln(streams.Out, "Not logged in to a hub.")
				return nil
			}
			if login != nil {
				fmt.Fprintf(streams.Out, "Logged out of %s.\n", login.URL)
			} else {
				fmt.Fprintln(streams.Out, "Logged out.")
			}
			return nil
		},
	}
}
