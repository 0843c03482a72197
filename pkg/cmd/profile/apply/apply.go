// Package apply implements `nest profile apply`.
package apply

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/profile/target"
	"github.com/nestcluster/nest/pkg/profile"
)

type flags struct {
	cluster string
	set     []string
	force   bool
	timeout time.Duration
	output  string
}

// NewCommand returns `nest profile apply`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &flags{}
	c := &cobra.Command{
		Use:   "apply DIR --cluster NAME",
		Short: "Apply a profile to a virtual cluster",
		Long: `Apply the profile in DIR (a directory with profile.yaml, or a profile file)
to a virtual cluster: layers in order, CRDs Established before the objects
that need them, server-side apply by the field manager nest-profile; Helm
layers installed or upgraded. Objects that an earlier apply made and the
profile no longer has are pruned. Exits non-zero when a layer failed.`,
		Example: `  nest profile apply examples/profiles/cicd --cluster dev
  nest profile apply examples/profiles/cicd --cluster dev --set DASHBOARD_TITLE="Team builds"`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			logger := globals.Logger(streams)
			p, overrides, cfg, err := target.Load(c.Context(), args[0], f.cluster, f.output, f.set, logger)
			if err != nil {
				return err
			}
			res, applyErr := profile.Apply(c.Context(), cfg, p, overrides,
				profile.WithLogger(logger), profile.WithForceConflicts(f.force), profile.WithTimeout(f.timeout))
			if res != nil {
				if err := printResult(streams, f.output, res); err != nil {
					return err
				}
			}
			return applyErr
		},
	}
	c.Flags().StringVar(&f.cluster, "cluster", "", "virtual cluster to apply the profile to (required)")
	c.Flags().StringArrayVar(&f.set, "set", nil, "override a profile variable: VAR=VALUE (repeatable)")
	c.Flags().BoolVar(&f.force, "force-conflicts", false, "take over fields that another field manager owns")
	c.Flags().DurationVar(&f.timeout, "timeout", 2*time.Minute, "bound of each wait (CRDs Established, Helm operations)")
	c.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	_ = c.MarkFlagRequired("cluster")
	return c
}

func printResult(streams cmd.IOStreams, output string, res *profile.Result) error {
	if done, err := target.WriteResult(streams.Out, output, res, true); done || err != nil {
		return err
	}
	changed := false
	for _, l := range res.Layers {
		for _, o := range l.Objects {
			if o.Action == profile.ActionUnchanged {
				continue
			}
			if !changed {
				fmt.Fprintln(streams.Out)
				changed = true
			}
			line := fmt.Sprintf("%s: %s %s", l.Name, o.Object, o.Action)
			if o.Error != "" {
				line += ": " + o.Error
			}
			fmt.Fprintln(streams.Out, line)
		}
	}
	return nil
}
