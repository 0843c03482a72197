// Package certs implements `nest certs check|rotate`.
package certs

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/pki"
)

// NewCommand returns `nest certs`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	c := &cobra.Command{
		Use:   "certs",
		Short: "Show or rotate the certificates of a virtual cluster",
		Long: `A virtual cluster's control plane has a cluster CA and a front-proxy CA
(10 years) and leaf certificates (the apiserver's serving certificate, the
client certificates of the admin kubeconfig, the controllers and the
apiserver's kubelet client, the syncer's kubelet endpoint), one year by
default (controlPlane.certificates.validity in nest.yaml).

Leaf certificates renew themselves once two thirds of their lifetime have
passed, while the control plane runs and at each start, with the same CA
and keys, without a restart: the apiserver reloads its files and the
control plane's own clients follow. CAs are not rotated.`,
		Args: cobra.NoArgs,
	}
	c.AddCommand(newCheck(streams, globals), newRotate(streams, globals))
	return c
}

func newCheck(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "check NAME",
		Short: "Show when each certificate of a virtual cluster expires and renews",
		Example: `  nest certs check dev
  nest certs check dev -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := lifecycle.OpenDefault(lifecycle.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			certs, err := p.Certificates(c.Context(), args[0])
			if err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(certs)
			case "table":
				return printTable(streams, certs, time.Now())
			default:
				return fmt.Errorf("--output must be table or json, got %q", output)
			}
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return c
}

func printTable(streams cmd.IOStreams, certs []pki.CertInfo, now time.Time) error {
	w := tabwriter.NewWriter(streams.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CERTIFICATE\tKIND\tEXPIRES\tRESIDUAL\tRENEWS\tSUBJECT")
	for _, c := range certs {
		kind, renews := "leaf", c.RenewAt.UTC().Format(time.RFC3339)
		if c.IsCA {
			kind, renews = "CA", "never (not rotated)"
		}
		residual := "expired"
		if c.NotAfter.After(now) {
			residual = duration.HumanDuration(c.NotAfter.Sub(now))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, kind, c.NotAfter.UTC().Format(time.RFC3339), residual, renews, c.Subject)
	}
	return w.Flush()
}

func newRotate(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate NAME",
		Short: "Re-issue every leaf certificate of a virtual cluster now",
		Long: `Re-issue every leaf certificate of a virtual cluster now, with the same CA
and keys, and rewrite its kubeconfigs. A running control plane keeps
running: the apiserver reloads its serving certificate and the control
plane's own clients reload theirs. A kubeconfig merged by 'nest connect'
before keeps working until its old certificate expires; run 'nest connect
NAME' again to refresh it.`,
		Example: `  nest certs rotate dev
  nest certs check dev`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := lifecycle.OpenDefault(lifecycle.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			changes, err := p.RotateCertificates(c.Context(), args[0])
			if err != nil {
				return err
			}
			n := 0
			for _, ch := range changes {
				if ch.Reason != "created" {
					n++
				}
			}
			fmt.Fprintf(streams.Out, "Rotated %d certificates of %q; `nest connect %s` refreshes merged kubeconfigs.\n", n, args[0], args[0])
			return nil
		},
	}
}
