// Package status implements `nest host status`.
package status

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/localhost"
)

// NewCommand returns `nest host status`.
func NewCommand(streams cmd.IOStreams, _ *cmd.GlobalFlags) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the health of each component of the local host",
		Long: `Show the health of each component of the local host. Exits non-zero when
any component is down or unhealthy; 'nest host up' restarts what is down.`,
		Example: `  nest host status
  nest host status -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return fmt.Errorf("--output must be table or json, got %q", output)
			}
			h, err := localhost.OpenDefault()
			if err != nil {
				return err
			}
			st, err := h.Status(c.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(st); err != nil {
					return err
				}
			} else {
				printTable(streams, st)
			}
			switch {
			case !st.Exists:
				return fmt.Errorf("the local host was never brought up: run `nest host up`")
			case !st.Healthy:
				return fmt.Errorf("the local host is not healthy: run `nest host up` to restart what is down")
			}
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return c
}

func printTable(streams cmd.IOStreams, st *localhost.Status) {
	if !st.Exists {
		return
	}
	fmt.Fprintf(streams.Out, "Server:     %s\nKubeconfig: %s\nDatastore:  %s\nNodes:      %d/%d Ready\n\n",
		st.Server, st.Kubeconfig, st.Datastore, st.NodesReady, st.Nodes)
	w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tPID\tSTATUS\tMESSAGE")
	for _, c := range st.Components {
		state := "down"
		switch {
		case c.Healthy:
			state = "healthy"
		case c.Running:
			state = "unhealthy"
		}
		pid := "-"
		if c.PID > 0 {
			pid = fmt.Sprint(c.PID)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", c.Name, pid, state, c.Message)
	}
	_ = w.Flush()
}
