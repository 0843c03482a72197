// Package list implements `nest list`.
package list

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest list`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var output string
	where := &cmd.FleetFlags{}
	c := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List virtual clusters and their state",
		Long: `List the local virtual clusters or, when logged in to a hub (nest login),
the virtual clusters of the login's project (or --tenant/--project).`,
		Example: `  nest list
  nest list -o json
  nest list --project web
  nest list --local`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fl, err := where.Open(c.Context(), globals, streams)
			if err != nil {
				return err
			}
			clusters, err := fl.List(c.Context())
			if err != nil {
				return err
			}
			if clusters == nil {
				clusters = []lifecycle.Cluster{}
			}
			switch output {
			case "json":
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(clusters)
			case "yaml":
				data, err := yaml.Marshal(clusters)
				if err != nil {
					return err
				}
				_, err = streams.Out.Write(data)
				return err
			case "table":
				return printTable(streams, clusters)
			default:
				return fmt.Errorf("--output must be table, json or yaml, got %q", output)
			}
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output format: table, json or yaml")
	where.AddTo(c.Flags())
	return c
}

func printTable(streams cmd.IOStreams, clusters []lifecycle.Cluster) error {
	if len(clusters) == 0 {
		fmt.Fprintln(streams.ErrOut, "No virtual clusters. Create one with: nest create NAME")
		return nil
	}
	w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSTATUS\tVERSION\tNEST\tRUNTIME\tHOST NAMESPACE\tENDPOINT\tAGE\tHOST")
	for _, c := range clusters {
		nest := c.NestVersion
		if nest == "" {
			nest = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.State, c.KubernetesVersion, nest, c.Runtime,
			c.HostNamespace, c.Endpoint, duration.HumanDuration(time.Since(c.Created)), c.Host)
	}
	return w.Flush()
}
