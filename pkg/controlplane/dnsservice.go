package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DNSServiceIP returns the cluster IP of the host Service name in the host
// namespace: the chart's Service in front of the control plane's DNS
// server, whose address host pods are pointed at (--dns-service). The
// chart creates the Service before the pod; a Service that is missing or
// has no cluster IP yet is waited for until ctx ends.
func DNSServiceIP(ctx context.Context, env HookEnv, name string, log *slog.Logger) (string, error) {
	if !env.HasHost() {
		return "", fmt.Errorf("--dns-service %s: no host given", name)
	}
	cfg, err := env.HostRESTConfig()
	if err != nil {
		return "", fmt.Errorf("--dns-service %s: host client: %w", name, err)
	}
	host, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("--dns-service %s: host client: %w", name, err)
	}
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		svc, err := host.CoreV1().Services(env.HostNamespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil && net.ParseIP(svc.Spec.ClusterIP) != nil:
			return svc.Spec.ClusterIP, nil
		case err == nil && svc.Spec.ClusterIP == "None":
			return "", fmt.Errorf("--dns-service %s/%s is headless: it needs a cluster IP", env.HostNamespace, name)
		case err == nil:
			err = fmt.Errorf("it has no cluster IP yet")
		case !apierrors.IsNotFound(err):
			return "", fmt.Errorf("--dns-service %s/%s: %w", env.HostNamespace, name, err)
		}
		log.Warn("Waiting for the DNS Service", "service", env.HostNamespace+"/"+name, "error", err)
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("--dns-service %s/%s: %w", env.HostNamespace, name, err)
		case <-time.After(delay):
		}
	}
}
