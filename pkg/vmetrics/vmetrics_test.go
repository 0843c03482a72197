package vmetrics

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsfake "k8s.io/metrics/pkg/client/clientset/versioned/fake"

	"github.com/nestcluster/nest/pkg/metricsapi"
	"github.com/nestcluster/nest/pkg/names"
)

const vc, hostNS = "dev", "nest-dev"

func virtualPod(ns, name, node string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{NodeName: node}}
}

func hostMetrics(ns, name string, cpu, mem string) *metricsv1beta1.PodMetrics {
	return &metricsv1beta1.PodMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: names.HostName(vc, ns, name), Namespace: hostNS, Labels: names.OwnershipLabels(vc, ns)},
		Containers: []metricsv1beta1.ContainerMetrics{{Name: "main", Usage: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}},
	}
}

func source() *Source {
	managed := map[string]string{names.LabelManagedBy: names.ManagedByValue}
	virtual := fake.NewClientset(
		virtualPod("shop", "web", "vnode-a"), virtualPod("shop", "worker", "vnode-a"),
		virtualPod("other", "lone", "vnode-b"), virtualPod("shop", "pending", ""),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vnode-a", Labels: managed}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vnode-b", Labels: managed}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vnode-idle", Labels: managed}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "tenants-own"}},
	)
	items := []metricsv1beta1.PodMetrics{
		*hostMetrics("shop", "web", "100m", "64Mi"), *hostMetrics("shop", "worker", "250m", "128Mi"),
		*hostMetrics("other", "lone", "50m", "32Mi"),
	}
	// The fake's tracker does not know the metrics resources: answer lists
	// as the host's metrics API does.
	host := metricsfake.NewSimpleClientset()
	host.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		list := a.(k8stesting.ListAction)
		out := &metricsv1beta1.PodMetricsList{}
		for _, m := range items {
			if m.Namespace == list.GetNamespace() && list.GetListRestrictions().Labels.Matches(labels.Set(m.Labels)) {
				out.Items = append(out.Items, m)
			}
		}
		return true, out, nil
	})
	return &Source{Name: vc, HostNamespace: hostNS, Virtual: virtual, Host: host}
}

func TestPods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, namespace, selector string
		want                      map[string]string // ns/name → CPU
	}{
		{name: "a namespace", namespace: "shop", want: map[string]string{"shop/web": "100m", "shop/worker": "250m"}},
		{name: "every namespace", want: map[string]string{"shop/web": "100m", "shop/worker": "250m", "other/lone": "50m"}},
		{name: "by label", namespace: "shop", selector: "app=worker", want: map[string]string{"shop/worker": "250m"}},
		{name: "a namespace without pods", namespace: "empty", want: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sel, err := labels.Parse(tt.selector)
			if err != nil {
				t.Fatal(err)
			}
			got, err := source().Pods(context.Background(), tt.namespace, sel)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]string{}
			for _, m := range got {
				cpu := m.Containers[0].Usage[corev1.ResourceCPU]
				seen[m.Namespace+"/"+m.Name] = cpu.String()
				if m.Labels["app"] != m.Name {
					t.Errorf("%s/%s has labels %v, want the virtual pod's", m.Namespace, m.Name, m.Labels)
				}
			}
			if len(seen) != len(tt.want) {
				t.Errorf("pods = %v, want %v", seen, tt.want)
			}
			for k, v := range tt.want {
				if seen[k] != v {
					t.Errorf("pods = %v, want %v", seen, tt.want)
				}
			}
		})
	}
}

func TestNodes(t *testing.T) {
	t.Parallel()
	got, err := source().Nodes(context.Background(), labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{"vnode-a": {"350m", "192Mi"}, "vnode-b": {"50m", "32Mi"}, "vnode-idle": {"0", "0"}}
	if len(got) != len(want) {
		t.Errorf("nodes = %v, want only the ones Nest made: %v", got, want)
	}
	for _, n := range got {
		cpu, mem := n.Usage[corev1.ResourceCPU], n.Usage[corev1.ResourceMemory]
		if w, ok := want[n.Name]; !ok || cpu.Cmp(resource.MustParse(w[0])) != 0 || mem.Cmp(resource.MustParse(w[1])) != 0 {
			t.Errorf("node %s uses %s, %s; want %v", n.Name, &cpu, &mem, want[n.Name])
		}
	}
}

func TestHostErrors(t *testing.T) {
	t.Parallel()
	gr := schema.GroupResource{Group: "metrics.k8s.io", Resource: "pods"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no metrics API on the host", apierrors.NewNotFound(gr, ""), "the host serves no metrics API"},
		{"no grant", apierrors.NewForbidden(gr, "", errors.New("no")), "may not read pods.metrics.k8s.io in nest-dev"},
		{"host down", errors.New("connection refused"), "read the host's pod metrics in nest-dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := source()
			s.Host.(*metricsfake.Clientset).PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, tt.err
			})
			_, err := s.Pods(context.Background(), "shop", labels.Everything())
			var se *metricsapi.StatusError
			if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Pods = %v, want a 503 saying %q", err, tt.want)
			}
		})
	}
}
