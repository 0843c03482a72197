// Package connect implements `nest connect`.
package connect

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/fleet"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest connect`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var print bool
	var target string
	where := &cmd.FleetFlags{}
	c := &cobra.Command{
		Use:   "connect NAME",
		Short: "Merge a virtual cluster's context into your kubeconfig, or print its kubeconfig",
		Long: `Merge the context nest_NAME into your kubeconfig ($KUBECONFIG or
~/.kube/config) and make it current, keeping a backup of the previous file;
or, with --print, write the kubeconfig to stdout. When logged in to a hub
(nest login), the kubeconfig is downloaded from the hub (which records the
download in its audit log).`,
		Example: `  nest connect dev && kubectl get namespaces
  nest connect dev --print > dev.kubeconfig`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			fl, err := where.Open(c.Context(), globals, streams)
			if err != nil {
				return err
			}
			if print {
				cfg, err := fl.Kubeconfig(c.Context(), args[0])
				if err != nil {
					return err
				}
				data, err := clientcmd.Write(*cfg)
				if err != nil {
					return err
				}
				_, err = streams.Out.Write(data)
				return err
			}
			backup, err := fleet.Connect(c.Context(), fl, args[0], target)
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Context %s is now current.\n", lifecycle.ContextName(args[0]))
			if backup != "" {
				fmt.Fprintf(streams.Out, "Previous kubeconfig saved as %s.\n", backup)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&print, "print", false, "print the kubeconfig to stdout instead of merging it")
	c.Flags().StringVar(&target, "kubeconfig", "", "kubeconfig file to merge into (default $KUBECONFIG or ~/.kube/config)")
	where.AddTo(c.Flags())
	return c
}
