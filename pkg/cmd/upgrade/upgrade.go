// Package upgrade implements `nest upgrade`.
package upgrade

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// NewCommand returns `nest upgrade`.
func NewCommand(streams cmd.IOStreams, globals *cmd.GlobalFlags) *cobra.Command {
	var (
		kubernetesVersion, nestBinary string
		timeout                       time.Duration
		imageTag, valsPath            string
	)
	c := &cobra.Command{
		Use:   "upgrade NAME",
		Short: "Run a virtual cluster with another nest binary or Kubernetes version, keeping its data",
		Long: `Move a virtual cluster to another nest binary (--nest-binary, by default this
one) and the Kubernetes version that binary embeds. Each nest build embeds
exactly one Kubernetes version (this one: ` + config.SupportedKubernetesVersion + `), so
--kubernetes-version only checks that the target binary runs it; a version
no binary at hand embeds is refused before anything is touched.

The upgrade snapshots the cluster (kept in its state directory under
backups/), stops it, records the new binary and version, and starts it
again with all its objects, its CA and keys, its endpoint and kubeconfig, so
clients keep working once it is ready. If it does not become ready, the
snapshot is restored and the cluster runs its previous binary again. A
stopped or paused cluster is upgraded and stays stopped. Upgrading to what
the cluster already runs does nothing. 'nest list' shows each cluster's
nest and Kubernetes versions.

A pod-runtime cluster (nest create --runtime pod) is upgraded through its
Helm release instead: --image-tag and --chart-values are applied over its
current values (helm upgrade --reuse-values --wait), after a snapshot taken
through the control plane's admin endpoint (kept under backups/ too); if the
upgraded pod does not become ready, the release is rolled back to its
previous revision (helm rollback --wait). See docs/upgrade.md.`,
		Example: `  nest upgrade dev                               # to this nest binary
  nest upgrade dev --nest-binary /opt/nest-1.2/nest
  nest upgrade dev --kubernetes-version ` + config.SupportedKubernetesVersion + `
  nest upgrade dev-pod --image-tag v0.2.0        # a pod-runtime cluster`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			p, err := lifecycle.OpenDefault(lifecycle.WithLogger(globals.Logger(streams)))
			if err != nil {
				return err
			}
			values, err := cmd.ReadChartValues(valsPath)
			if err != nil {
				return err
			}
			if imageTag != "" {
				if values == nil {
					values = map[string]any{}
				}
				img, _ := values["image"].(map[string]any)
				if img == nil {
					img = map[string]any{}
				}
				img["tag"] = imageTag
				values["image"] = img
			}
			res, err := p.Upgrade(c.Context(), args[0], lifecycle.UpgradeOptions{
				KubernetesVersion: kubernetesVersion, NestBinary: nestBinary, Timeout: timeout, ChartValues: values,
			})
			if errors.Is(err, lifecycle.ErrNoUpgrade) {
				fmt.Fprintf(streams.Out, "Nothing to do: %v.\n", err)
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(streams.Out, "Virtual cluster %q upgraded from nest %s (Kubernetes %s) to nest %s (Kubernetes %s); state %s.\nSnapshot taken before: %s\n",
				args[0], res.From.Nest, res.From.Kubernetes, res.To.Nest, res.To.Kubernetes, res.Cluster.State, res.Snapshot)
			return nil
		},
	}
	c.Flags().StringVar(&kubernetesVersion, "kubernetes-version", "", "Kubernetes version wanted; must be the one the target nest binary embeds")
	c.Flags().StringVar(&nestBinary, "nest-binary", "", "nest binary to run the control plane with (default: this one)")
	c.Flags().StringVar(&imageTag, "image-tag", "", "pod runtime: the nest image tag to run (chart value image.tag)")
	c.Flags().StringVar(&valsPath, "chart-values", "", "pod runtime: YAML file of chart values applied over the release's current ones")
	c.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the upgraded cluster to be ready")
	return c
}
