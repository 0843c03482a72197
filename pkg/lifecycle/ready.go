package lifecycle

import (
	"context"

	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
)

// apiserverReady asks the virtual apiserver's /readyz; with usable, it
// leaves out the slow bootstrap checks (see controlplane.SlowBootstrapChecks).
func apiserverReady(ctx context.Context, layout controlplane.Layout, usable bool) error {
	client, err := kube.Clientset(layout.AdminKubeconfig())
	if err != nil {
		return err
	}
	if usable {
		return kube.Readyz(ctx, client, controlplane.SlowBootstrapChecks...)
	}
	return kube.Readyz(ctx, client)
}
