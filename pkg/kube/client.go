// Package kube is Nest's one client factory: every Kubernetes client in the
// project (for the local host, a host cluster, or a virtual cluster) is made
// here from a kubeconfig, with the same rate limits and user agent.
package kube

import (
	"context"
	"fmt"
	"os"
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
	// Each distinct API warning (a deprecated kind such as v1 Endpoints,
	// which Nest still serves tenants) is worth one line, not one per call.
	cfg.WarningHandler = rest.NewWarningWriter(os.Stderr, rest.WarningWriterOptions{Deduplicate: true})
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

// InClusterClientset returns a typed clientset with the credentials of the
// pod this process runs in (its service account token, which the kubelet
// renews and client-go re-reads).
func InClusterClientset() (kubernetes.Interface, error) {
	cfg, err := InClusterConfig()
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// InClusterConfig is the REST config of the pod's own service account.
func InClusterConfig() (*rest.Config, error) {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("in-cluster host credentials: %w", err)
	}
	return Tune(cfg), nil
}

// Readyz asks the apiserver's /readyz, leaving out the named checks
// (e.g. "poststarthook/rbac/bootstrap-roles"), and returns nil when ok.
func Readyz(ctx context.Context, client kubernetes.Interface, exclude ...string) error {
	req := client.Discovery().RESTClient().Get().AbsPath("/readyz")
	for _, e := range exclude {
		req = req.Param("exclude", e)
	}
	body, err := req.DoRaw(ctx)
	if err != nil {
		return err
	}
	if string(body) != "ok" {
		return fmt.Errorf("readyz answered %q", body)
	}
	return nil
}

// WaitReady polls Readyz until it answers ok or ctx ends.
func WaitReady(ctx context.Context, client kubernetes.Interface, interval time.Duration, exclude ...string) error {
	for {
		err := Readyz(ctx, client, exclude...)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("apiserver not ready: %w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}
