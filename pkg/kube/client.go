// Package kube is Nest's one client factory: every Kubernetes client in the
// project (for the local host, a host cluster, or a virtual cluster) is made
// here from a kubeconfig, with the same rate limits and user agent.
package kube

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// UserAgent identifies Nest's requests in apiserver logs and audit.
const UserAgent = "nest"

// RESTConfig loads a kubeconfig file. context "" uses its current context.
func RESTConfig(kubeconfigPath, context string) (*rest.Config, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfigPath}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", kubeconfigPath, err)
	}
	return Tune(cfg), nil
}

// Tune sets the settings every Nest client shares. Nest's clients run
// controllers and bulk operations, so client-side throttling is raised well
// above client-go's 5 qps default; the apiserver's priority and fairness
// protects it.
func Tune(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = 200
	cfg.Burst = 400
	cfg.UserAgent = UserAgent
	return cfg
}

// Clientset returns a typed clientset for the kubeconfig file.
func Clientset(kubeconfigPath string) (kubernetes.Interface, error) {
	cfg, err := RESTConfig(kubeconfigPath, "")
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// WaitReady polls the apiserver's /readyz until it answers ok or ctx ends.
func WaitReady(ctx context.Context, client kubernetes.Interface, interval time.Duration) error {
	var lastErr error
	for {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		if err != nil {
			lastErr = err
		} else {
			lastErr = fmt.Errorf("readyz answered %q", body)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("apiserver not ready: %w (last: %v)", ctx.Err(), lastErr)
		case <-time.After(interval):
		}
	}
}
