package lifecycle

import (
	"context"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/nestcluster/nest/pkg/kubeconfig"
)

// ContextName is the kubeconfig context (and cluster and user) name under
// which a virtual cluster is merged into a user's kubeconfig.
func ContextName(name string) string { return "nest_" + name }

// Kubeconfig returns the admin kubeconfig of a virtual cluster, its
// context, cluster and user named ContextName(name).
func (p *Provider) Kubeconfig(ctx context.Context, name string) (*clientcmdapi.Config, error) {
	r, err := p.loadRecord(name)
	if err != nil {
		return nil, err
	}
	path := p.layout(name).AdminKubeconfig()
	var cfg *clientcmdapi.Config
	if r.Runtime == RuntimePod {
		path = "Secret " + r.HostNamespace + "/" + kubeconfigSecretName(name)
		cfg, err = p.podKubeconfig(ctx, r)
	} else {
		cfg, err = clientcmd.LoadFromFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig of %q: %w", name, err)
	}
	kctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("kubeconfig %s has no current context", path)
	}
	n := ContextName(name)
	out := clientcmdapi.NewConfig()
	out.Clusters[n] = cfg.Clusters[kctx.Cluster]
	out.AuthInfos[n] = cfg.AuthInfos[kctx.AuthInfo]
	out.Contexts[n] = &clientcmdapi.Context{Cluster: n, AuthInfo: n, Namespace: kctx.Namespace}
	out.CurrentContext = n
	return out, nil
}

// KubeconfigBytes is Kubeconfig serialized as YAML.
func (p *Provider) KubeconfigBytes(ctx context.Context, name string) ([]byte, error) {
	cfg, err := p.Kubeconfig(ctx, name)
	if err != nil {
		return nil, err
	}
	return clientcmd.Write(*cfg)
}

// Connect merges the virtual cluster's context into the kubeconfig at
// target ("" is the user's default) and makes it current. It returns the
// backup Nest made of the previous file, if any.
func (p *Provider) Connect(ctx context.Context, name, target string) (backup string, err error) {
	cfg, err := p.Kubeconfig(ctx, name)
	if err != nil {
		return "", err
	}
	if target == "" {
		target = kubeconfig.DefaultPath()
	}
	backup, err = kubeconfig.Merge(target, cfg, true)
	if err != nil {
		return "", fmt.Errorf("connect %q: %w", name, err)
	}
	return backup, nil
}
