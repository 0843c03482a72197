package lifecycle

import (
	"context"
	"fmt"
	"os"

	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/kubeconfig"
)

// writeHostAccess gives the virtual cluster its own namespace-scoped host
// credentials and writes them as a kubeconfig for its control plane.
func writeHostAccess(ctx context.Context, host kubernetes.Interface, adminKubeconfig, namespace, vc, path string, customGroups []string) error {
	token, err := hostaccess.Ensure(ctx, host, namespace, vc, customGroups...)
	if err != nil {
		return err
	}
	admin, err := kube.RESTConfig(adminKubeconfig, "")
	if err != nil {
		return err
	}
	ca := admin.CAData
	if len(ca) == 0 && admin.CAFile != "" {
		if ca, err = os.ReadFile(admin.CAFile); err != nil {
			return fmt.Errorf("host CA: %w", err)
		}
	}
	cfg := kubeconfig.Build(kubeconfig.Params{
		ContextName: "host", Server: admin.Host, CAData: ca, Token: token, Namespace: namespace,
	})
	if err := kubeconfig.Write(path, cfg); err != nil {
		return fmt.Errorf("write host credentials: %w", err)
	}
	return nil
}

// serviceReads are the host services a cluster maps in, by namespace: its
// syncer is granted read access to exactly these.
func serviceReads(cfg *config.Config) map[string][]string {
	reads := map[string][]string{}
	for _, m := range cfg.Sync.ServiceMappings.FromHost {
		if ns, name, ok := config.SplitServiceRef(m.From); ok {
			reads[ns] = append(reads[ns], name)
		}
	}
	return reads
}

// readsHostNodes reports whether a cluster reads the host's nodes (real
// node data, or every host node shown), for which its syncer is granted
// read access to them.
func readsHostNodes(cfg *config.Config) bool {
	return cfg.Sync.ReadsHostNodes()
}
