// Package vmetrics serves a virtual cluster's metrics API (metrics.k8s.io,
// what `kubectl top` reads) from the host's: a control-plane hook that runs
// pkg/metricsapi on loopback, aggregated into the virtual apiserver. A
// virtual pod's figures are its host copy's (the host's pods.metrics.k8s.io
// in the cluster's host namespace, the only host metrics its credentials
// may read), under its virtual name and namespace; a virtual node's are
// the sum of the cluster's own pods bound to it (never other tenants'
// load, and no read of the host's node metrics). See docs/metrics.md.
package vmetrics

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/metricsapi"
	"github.com/nestcluster/nest/pkg/names"
)

// Where the metrics API is registered in the virtual cluster. The syncer
// keeps this Service virtual (an ExternalName to the control plane's own
// loopback means nothing on the host).
const (
	Namespace = "kube-system"
	Service   = "nest-metrics"
)

// Source gives a virtual cluster's figures from its host's.
type Source struct {
	// Name of the virtual cluster and its host namespace.
	Name, HostNamespace string
	Virtual             kubernetes.Interface
	// Host reads the host's metrics API with the cluster's host credentials.
	Host metricsclient.Interface
}

var _ metricsapi.Source = (*Source)(nil)

// hostPods returns the host's pod metrics of the cluster's host namespace,
// by host pod name.
func (s *Source) hostPods(ctx context.Context) (map[string]metricsv1beta1.PodMetrics, error) {
	list, err := s.Host.MetricsV1beta1().PodMetricses(s.HostNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: names.LabelVirtualCluster + "=" + names.LabelValue(s.Name),
	})
	switch {
	case apierrors.IsNotFound(err):
		return nil, &metricsapi.StatusError{Code: http.StatusServiceUnavailable,
			Err: fmt.Errorf("the host serves no metrics API (metrics.k8s.io): install metrics-server on the host: %w", err)}
	case apierrors.IsForbidden(err):
		return nil, &metricsapi.StatusError{Code: http.StatusServiceUnavailable,
			Err: fmt.Errorf("this virtual cluster's host credentials may not read pods.metrics.k8s.io in %s (a cluster made before Nest granted it: `nest create` grants it): %w", s.HostNamespace, err)}
	case err != nil:
		return nil, &metricsapi.StatusError{Code: http.StatusServiceUnavailable, Err: fmt.Errorf("read the host's pod metrics in %s: %w", s.HostNamespace, err)}
	}
	out := make(map[string]metricsv1beta1.PodMetrics, len(list.Items))
	for _, m := range list.Items {
		out[m.Name] = m
	}
	return out, nil
}

// virtualPods lists the virtual pods of namespace ("" for all) that match
// selector, from the apiserver's cache.
func (s *Source) virtualPods(ctx context.Context, namespace string, selector labels.Selector) ([]corev1.Pod, error) {
	list, err := s.Virtual.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String(), ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("list virtual pods: %w", err)
	}
	return list.Items, nil
}

// Pods implements metricsapi.Source: each virtual pod whose host copy has
// metrics, with its host copy's figures.
func (s *Source) Pods(ctx context.Context, namespace string, selector labels.Selector) ([]metricsv1beta1.PodMetrics, error) {
	pods, err := s.virtualPods(ctx, namespace, selector)
	if err != nil {
		return nil, err
	}
	host, err := s.hostPods(ctx)
	if err != nil {
		return nil, err
	}
	var out []metricsv1beta1.PodMetrics
	for _, p := range pods {
		h, ok := host[names.HostName(s.Name, p.Namespace, p.Name)]
		if !ok {
			continue
		}
		out = append(out, metricsv1beta1.PodMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, CreationTimestamp: h.CreationTimestamp},
			Timestamp:  h.Timestamp, Window: h.Window, Containers: h.Containers,
		})
	}
	return out, nil
}

// Nodes implements metricsapi.Source: the virtual nodes Nest made (those
// the cluster shows, under their virtual names: fake ones in the fake node
// mode), each with the sum of the cluster's pods bound to it.
func (s *Source) Nodes(ctx context.Context, selector labels.Selector) ([]metricsv1beta1.NodeMetrics, error) {
	nodes, err := s.Virtual.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector.String(), ResourceVersion: "0"})
	if err != nil {
		return nil, fmt.Errorf("list virtual nodes: %w", err)
	}
	pods, err := s.virtualPods(ctx, "", labels.Everything())
	if err != nil {
		return nil, err
	}
	host, err := s.hostPods(ctx)
	if err != nil {
		return nil, err
	}
	type sum struct {
		usage corev1.ResourceList
		last  metricsv1beta1.PodMetrics
	}
	sums := map[string]*sum{}
	for _, p := range pods {
		h, ok := host[names.HostName(s.Name, p.Namespace, p.Name)]
		if !ok || p.Spec.NodeName == "" {
			continue
		}
		acc := sums[p.Spec.NodeName]
		if acc == nil {
			acc = &sum{}
			sums[p.Spec.NodeName] = acc
		}
		for _, c := range h.Containers {
			acc.usage = metricsapi.AddUsage(acc.usage, c.Usage)
		}
		if acc.last.Timestamp.Before(&h.Timestamp) {
			acc.last = h
		}
	}
	now := metav1.Now().Rfc3339Copy()
	var out []metricsv1beta1.NodeMetrics
	for _, n := range nodes.Items {
		if n.Labels[names.LabelManagedBy] != names.ManagedByValue {
			continue // not a node the syncer shows
		}
		m := metricsv1beta1.NodeMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: now},
			Timestamp:  now, Usage: metricsapi.AddUsage(nil, nil),
		}
		if acc := sums[n.Name]; acc != nil {
			m.Usage, m.Timestamp, m.Window = metricsapi.AddUsage(acc.usage, nil), acc.last.Timestamp, acc.last.Window
		}
		out = append(out, m)
	}
	return out, nil
}

// Hook serves the virtual cluster's metrics API next to its control plane;
// nothing without a host. A failure is logged, never fatal: the cluster
// works without `kubectl top`.
func Hook() controlplane.Hook {
	return func(ctx context.Context, env controlplane.HookEnv) error {
		if !env.HasHost() {
			return nil
		}
		if err := run(ctx, env); err != nil {
			env.Logger.Warn("The metrics API is off", "err", err)
		}
		return nil
	}
}

func run(ctx context.Context, env controlplane.HookEnv) error {
	hostCfg, err := env.HostRESTConfig()
	if err != nil {
		return fmt.Errorf("host client: %w", err)
	}
	host, err := metricsclient.NewForConfig(kube.Tune(hostCfg))
	if err != nil {
		return fmt.Errorf("host metrics client: %w", err)
	}
	virtualCfg, err := kube.RESTConfig(env.VirtualConfig, "")
	if err != nil {
		return fmt.Errorf("virtual apiserver address: %w", err)
	}
	apis, err := aggregator.NewForConfig(virtualCfg)
	if err != nil {
		return fmt.Errorf("virtual APIService client: %w", err)
	}
	return metricsapi.Run(ctx, metricsapi.RunConfig{
		Addr:   "127.0.0.1:0",
		Source: &Source{Name: env.Name, HostNamespace: env.HostNamespace, Virtual: env.Virtual, Host: host},
		Client: env.Virtual, APIs: apis,
		FrontProxyCAFile: env.PKI.FrontProxyCACert(), AllowedNames: []string{"front-proxy-client"},
		Namespace: Namespace, Service: Service, Logger: env.Logger.With("component", "metrics"),
	})
}
