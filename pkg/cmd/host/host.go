// Package host groups the `nest host` verbs that manage the local host
// cluster.
package host

import (
	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/host/down"
	"github.com/nestcluster/nest/pkg/cmd/host/kubeconfig"
	"github.com/nestcluster/nest/pkg/cmd/host/status"
	"github.com/nestcluster/nest/pkg/cmd/host/up"
)

// NewCommand returns `nest host`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "host",
		Short: "Manage the local host cluster (real control plane, nodes simulated by KWOK)",
		Long: `The local host cluster is a real kube-apiserver, kube-controller-manager and
kube-scheduler on a real datastore, running as processes on this machine.
Its nodes are simulated by KWOK: pods are scheduled and reported Running,
but no containers run. Its metrics API (kubectl top) is simulated too: a
running container uses exactly what it requests. Virtual clusters are
created inside it by default.`,
	}
	c.AddCommand(
		up.NewCommand(streams, globals),
		down.NewCommand(streams, globals),
		status.NewCommand(streams, globals),
		kubeconfig.NewCommand(streams, globals),
	)
	return c
}
