package lifecycle

import (
	"context"

	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
)

// apiserverReady asks the virtual apiserver's /readyz, leaving out the slow
// bootstrap checks (see controlplane.SlowBootstrapChecks): it answers ok
// once a tenant can use the cluster.
func apiserverReady(ctx context.Context, layout controlplane.Layout) error {
	client, err := kube.Clientset(layout.AdminKubeconfig())
	if err != nil {
		return err
	}
	return kube.Readyz(ctx, client, controlplane.SlowBootstrapChecks...)
}
