// Package target holds what the `nest profile` verbs share: the target
// virtual cluster's client configuration and the --set flags.
package target

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"k8s.io/client-go/rest"

	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
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
