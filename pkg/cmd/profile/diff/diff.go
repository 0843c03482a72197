// Package diff implements `nest profile diff`.
package diff

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/profile/target"
	"github.com/nestcluster/nest/pkg/profile"
)

// ErrDrift is returned (exit status 1) when the cluster differs from the
// profile.
var ErrDrift = errors.New("the cluster differs from the profile")

type flags struct {
	cluster string
	set     []string
	output  string
}

// NewCommand returns `nest profile diff`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	f := &flags{}
	c := &cobra.Command{
		Use:   "diff DIR --cluster NAME",
		Short: "Show how a virtual cluster differs from a profile",
		Long: `Compare a virtual cluster with what applying the profile in DIR would make,
changing nothing: per layer, the objects missing, changed (fields the
profile sets that have other values, found by a server-side dry-run apply)
or left over from an earlier version. Exits non-zero when anything drifted.`,
		Example: `  nest profile diff examples/profiles/cicd --cluster dev
  nest profile diff examples/profiles/cicd --cluster dev -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			logger := globals.Logger(streams)
			p, overrides, cfg, err := target.Load(c.Context(), args[0], f.cluster, f.output, f.set, logger)
			if err != nil {
				return err
			}
			res, err := profile.Diff(c.Context(), cfg, p, overrides, profile.WithLogger(logger))
			if err != nil {
				return err
			}
			if err := printResult(streams, f.output, res); err != nil {
				return err
			}
			if res.Drifted() {
				return ErrDrift
			}
			return nil
		},
	}
	c.Flags().StringVar(&f.cluster, "cluster", "", "virtual cluster to compare (required)")
	c.Flags().StringArrayVar(&f.set, "set", nil, "override a profile variable: VAR=VALUE (repeatable)")
	c.Flags().StringVarP(&f.output, "output", "o", "table", "output format: table or json")
	_ = c.MarkFlagRequired("cluster")
	return c
}

func printResult(streams cmd.IOStreams, output string, res *profile.Result) error {
	if done, err := target.WriteResult(streams.Out, output, res, false); done || err != nil {
		return err
	}
	first := true
	for _, l := range res.Layers {
		for _, d := range l.Drift {
			if first {
				fmt.Fprintln(streams.Out)
				first = false
			}
			line := fmt.Sprintf("%s: %s %s", l.Name, d.Object, d.Reason)
			if len(d.Fields) > 0 {
				line += " (" + strings.Join(d.Fields, ", ") + ")"
			}
			if d.Message != "" {
				line += ": " + d.Message
			}
			fmt.Fprintln(streams.Out, line)
		}
	}
	return nil
}
