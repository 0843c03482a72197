// Package nest builds the root `nest` command and attaches every verb.
package nest

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/certs"
	"github.com/nestcluster/nest/pkg/cmd/component"
	"github.com/nestcluster/nest/pkg/cmd/connect"
	"github.com/nestcluster/nest/pkg/cmd/controlplane"
	"github.com/nestcluster/nest/pkg/cmd/create"
	"github.com/nestcluster/nest/pkg/cmd/delete"
	"github.com/nestcluster/nest/pkg/cmd/host"
	"github.com/nestcluster/nest/pkg/cmd/hub"
	"github.com/nestcluster/nest/pkg/cmd/list"
	"github.com/nestcluster/nest/pkg/cmd/login"
	"github.com/nestcluster/nest/pkg/cmd/logout"
	"github.com/nestcluster/nest/pkg/cmd/operator"
	"github.com/nestcluster/nest/pkg/cmd/pause"
	"github.com/nestcluster/nest/pkg/cmd/portforward"
	"github.com/nestcluster/nest/pkg/cmd/profile"
	"github.com/nestcluster/nest/pkg/cmd/restore"
	"github.com/nestcluster/nest/pkg/cmd/resume"
	"github.com/nestcluster/nest/pkg/cmd/snapshot"
	"github.com/nestcluster/nest/pkg/cmd/upgrade"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/version"
)

// NewCommand returns the root command.
func NewCommand(streams cmd.IOStreams) *cobra.Command {
	globals := &cmd.GlobalFlags{}
	root := &cobra.Command{
		Use:   "nest",
		Short: "Virtual Kubernetes clusters in namespaces of a host cluster",
		Long: `Nest runs virtual Kubernetes clusters: each one a real control plane
(kube-apiserver, controllers, datastore) living in one namespace of a host
cluster. State is kept in $NEST_HOME (default ~/.nest).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// k8s.io/component-base registers --version on pflag's global flag set,
	// which cobra merges into every root command; `nest version` is ours.
	if f := pflag.CommandLine.Lookup("version"); f != nil {
		f.Hidden = true
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.PersistentFlags().IntVarP(&globals.Verbosity, "verbosity", "v", 0, "log verbosity: 0 progress, 1 debug")
	root.PersistentFlags().BoolVarP(&globals.Quiet, "quiet", "q", false, "log only warnings and errors")
	root.AddCommand(
		create.NewCommand(streams, globals),
		list.NewCommand(streams, globals),
		connect.NewCommand(streams, globals),
		portforward.NewCommand(streams, globals),
		pause.NewCommand(streams, globals),
		resume.NewCommand(streams, globals),
		snapshot.NewCommand(streams, globals),
		restore.NewCommand(streams, globals),
		certs.NewCommand(streams, globals),
		upgrade.NewCommand(streams, globals),
		delete.NewCommand(streams, globals),
		profile.NewCommand(streams, globals),
		host.NewCommand(streams, globals),
		hub.NewCommand(streams, globals),
		operator.NewCommand(streams, globals),
		login.NewCommand(streams, globals),
		logout.NewCommand(streams),
		controlplane.NewCommand(streams, globals),
		component.NewCommand(),
		&cobra.Command{
			Use:   "version",
			Short: "Print the versions of Nest and of the Kubernetes it embeds",
			Args:  cobra.NoArgs,
			Run: func(*cobra.Command, []string) {
				fmt.Fprintf(streams.Out, "nest %s\nkubernetes %s\n", version.Version, config.SupportedKubernetesVersion)
			},
		},
	)
	return root
}
