// Package simmetrics is the local host's metrics API (metrics.k8s.io), with
// simulated figures: the local host has no kubelets and no containers (its
// nodes are KWOK's), so nothing measures usage. Each running container is
// said to use exactly what it requests (nothing when it requests nothing),
// and a node the sum of its running pods. It runs as the local host's
// component `nest component nest-metrics` and registers itself with the
// host apiserver's aggregator (see pkg/metricsapi).
package simmetrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/nestcluster/nest/pkg/kube"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/metricsapi"
)

// Where the local host's metrics API is registered.
const (
	Namespace = "kube-system"
	Service   = "nest-metrics"
)

// Window is the sampling window the figures claim.
const Window = 30 * time.Second

// Source gives the simulated figures from the pods and nodes of a cluster.
type Source struct {
	PodLister  corelisters.PodLister
	NodeLister corelisters.NodeLister
	Now        func() time.Time
}

var _ metricsapi.Source = (*Source)(nil)

// ContainerUsage is what the simulation says a container uses: its requests
// of CPU and memory (zero for what it does not request).
func ContainerUsage(c corev1.Container) corev1.ResourceList {
	usage := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("0"), corev1.ResourceMemory: resource.MustParse("0")}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if q, ok := c.Resources.Requests[name]; ok {
			usage[name] = q.DeepCopy()
		}
	}
	return usage
}

// running pods use resources; the others (pending, finished) do not show.
func running(p *corev1.Pod) bool {
	return p.Spec.NodeName != "" && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil
}

func (s *Source) now() metav1.Time {
	if s.Now != nil {
		return metav1.NewTime(s.Now().Truncate(time.Second))
	}
	return metav1.NewTime(time.Now().Truncate(time.Second))
}

// Pods implements metricsapi.Source.
func (s *Source) Pods(_ context.Context, namespace string, selector labels.Selector) ([]metricsv1beta1.PodMetrics, error) {
	var pods []*corev1.Pod
	var err error
	if namespace == "" {
		pods, err = s.PodLister.List(selector)
	} else {
		pods, err = s.PodLister.Pods(namespace).List(selector)
	}
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	now := s.now()
	var out []metricsv1beta1.PodMetrics
	for _, p := range pods {
		if !running(p) {
			continue
		}
		m := metricsv1beta1.PodMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, CreationTimestamp: now},
			Timestamp:  now, Window: metav1.Duration{Duration: Window},
		}
		for _, c := range p.Spec.Containers {
			m.Containers = append(m.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: ContainerUsage(c)})
		}
		out = append(out, m)
	}
	return out, nil
}

// Nodes implements metricsapi.Source.
func (s *Source) Nodes(_ context.Context, selector labels.Selector) ([]metricsv1beta1.NodeMetrics, error) {
	nodes, err := s.NodeLister.List(selector)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	pods, err := s.PodLister.List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	sums := map[string]corev1.ResourceList{}
	for _, p := range pods {
		if !running(p) {
			continue
		}
		for _, c := range p.Spec.Containers {
			sums[p.Spec.NodeName] = metricsapi.AddUsage(sums[p.Spec.NodeName], ContainerUsage(c))
		}
	}
	now := s.now()
	out := make([]metricsv1beta1.NodeMetrics, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, metricsv1beta1.NodeMetrics{
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: now},
			Timestamp:  now, Window: metav1.Duration{Duration: Window},
			Usage: metricsapi.AddUsage(sums[n.Name], nil),
		})
	}
	return out, nil
}

// Run runs the local host's metrics API (`nest component nest-metrics`):
// --kubeconfig (an admin of the local host), --bind-address, --port and
// --requestheader-client-ca-file (the apiserver's front-proxy CA).
func Run(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet(Service, pflag.ContinueOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the local host (an admin)")
	bind := fs.String("bind-address", "127.0.0.1", "address to serve on")
	port := fs.Int("port", 0, "port to serve on")
	caFile := fs.String("requestheader-client-ca-file", "", "CA of the aggregator's client certificate")
	allowed := fs.StringSlice("requestheader-allowed-names", []string{"front-proxy-client"}, "common names the aggregator's client certificate may have")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", Service, err)
	}
	var errs []error
	if *kubeconfig == "" {
		errs = append(errs, errors.New("--kubeconfig is required"))
	}
	if *port <= 0 || *port > 65535 {
		errs = append(errs, fmt.Errorf("--port %d is out of range", *port))
	}
	if *caFile == "" {
		errs = append(errs, errors.New("--requestheader-client-ca-file is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s: %w", Service, err)
	}
	logger := nestlog.New(os.Stderr, 0).With("component", Service)
	cfg, err := kube.RESTConfig(*kubeconfig, "")
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("host client: %w", err)
	}
	apis, err := aggregator.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("host APIService client: %w", err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	src := &Source{PodLister: factory.Core().V1().Pods().Lister(), NodeLister: factory.Core().V1().Nodes().Lister()}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("%s: cache of %v did not sync: %w", Service, typ, context.Cause(ctx))
		}
	}
	return metricsapi.Run(ctx, metricsapi.RunConfig{
		Addr: net.JoinHostPort(*bind, strconv.Itoa(*port)), Source: src,
		Client: client, APIs: apis, FrontProxyCAFile: *caFile, AllowedNames: *allowed,
		Namespace: Namespace, Service: Service, Logger: logger,
	})
}
