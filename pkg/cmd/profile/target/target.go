// Package target holds what the `nest profile` verbs share: the target
// virtual cluster's client configuration, the --set flags and the result
// table.
package target

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"k8s.io/client-go/rest"

	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/profile"
)

// RESTConfig returns the admin client configuration of a running virtual
// cluster.
func RESTConfig(ctx context.Context, cluster string, logger *slog.Logger) (*rest.Config, error) {
	if cluster == "" {
		return nil, fmt.Errorf("--cluster is required")
	}
	p, err := lifecycle.OpenDefault(lifecycle.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	vc, err := p.Get(ctx, cluster)
	if err != nil {
		return nil, fmt.Errorf("virtual cluster %s: %w", cluster, err)
	}
	if vc.State != lifecycle.StateRunning {
		return nil, fmt.Errorf("virtual cluster %s is %s: `nest resume %s` first", cluster, vc.State, cluster)
	}
	return kube.RESTConfig(vc.Kubeconfig, "")
}

// ParseSet turns --set VAR=VALUE flags into variable overrides.
func ParseSet(set []string) (map[string]string, error) {
	out := make(map[string]string, len(set))
	for _, s := range set {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want VAR=VALUE", s)
		}
		out[k] = v
	}
	return out, nil
}

// Load checks the verbs' shared flags and gathers what both need: the
// profile in dir, the --set overrides and the target cluster's client
// configuration.
func Load(ctx context.Context, dir, cluster, output string, set []string, logger *slog.Logger) (*profile.Profile, map[string]string, *rest.Config, error) {
	if output != "table" && output != "json" {
		return nil, nil, nil, fmt.Errorf("--output must be table or json, got %q", output)
	}
	overrides, err := ParseSet(set)
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := profile.Load(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := RESTConfig(ctx, cluster, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	return p, overrides, cfg, nil
}

// WriteResult writes a result as JSON (and reports done), or, for the
// table output, the per-layer table after the optional header; the verb
// then lists its own details.
func WriteResult(w io.Writer, output string, res *profile.Result, header bool) (done bool, err error) {
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return true, enc.Encode(res)
	}
	if header {
		fmt.Fprintf(w, "Profile %s version %s\n\n", res.Profile, res.Version)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tKIND\tSTATUS\tMESSAGE")
	for _, l := range res.Layers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Name, l.Kind, l.Status, l.Message)
	}
	return false, tw.Flush()
}
