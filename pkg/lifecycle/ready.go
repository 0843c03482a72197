package lifecycle

import (
	"context"
	"fmt"

	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
)

// apiserverReady asks the virtual apiserver's /readyz.
func apiserverReady(ctx context.Context, layout controlplane.Layout) error {
	client, err := kube.Clientset(layout.AdminKubeconfig())
	if err != nil {
		return err
	}
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return err
	}
	if string(body) != "ok" {
		return fmt.Errorf("readyz: %s", body)
	}
	return nil
}
