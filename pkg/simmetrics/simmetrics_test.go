package simmetrics

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func pod(ns, name, node string, phase corev1.PodPhase, requests ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
	for i := 0; i+1 < len(requests); i += 2 {
		c := corev1.Container{Name: "c" + string(rune('0'+i/2)), Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{}}}
		if requests[i] != "" {
			c.Resources.Requests[corev1.ResourceCPU] = resource.MustParse(requests[i])
		}
		if requests[i+1] != "" {
			c.Resources.Requests[corev1.ResourceMemory] = resource.MustParse(requests[i+1])
		}
		p.Spec.Containers = append(p.Spec.Containers, c)
	}
	return p
}

func testSource(t *testing.T) *Source {
	t.Helper()
	pods := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	nodes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, p := range []*corev1.Pod{
		pod("a", "web", "node-1", corev1.PodRunning, "100m", "64Mi", "20m", ""),
		pod("a", "idle", "node-1", corev1.PodRunning, "", ""),
		pod("a", "waiting", "", corev1.PodPending, "1", "1Gi"),
		pod("b", "done", "node-2", corev1.PodSucceeded, "1", "1Gi"),
		pod("b", "db", "node-2", corev1.PodRunning, "500m", "1Gi"),
	} {
		if err := pods.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		if err := nodes.Add(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	return &Source{PodLister: corelisters.NewPodLister(pods), NodeLister: corelisters.NewNodeLister(nodes),
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }}
}

func TestPods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, namespace string
		want            map[string][2]string // pod → total CPU, memory
	}{
		{name: "running pods use their requests", namespace: "a", want: map[string][2]string{"web": {"120m", "64Mi"}, "idle": {"0", "0"}}},
		{name: "every namespace; pending and finished pods do not show", want: map[string][2]string{"web": {"120m", "64Mi"}, "idle": {"0", "0"}, "db": {"500m", "1Gi"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := testSource(t).Pods(context.Background(), tt.namespace, labels.Everything())
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d pods, want %v", len(got), tt.want)
			}
			for _, m := range got {
				var cpu, mem resource.Quantity
				for _, c := range m.Containers {
					cpu.Add(c.Usage[corev1.ResourceCPU])
					mem.Add(c.Usage[corev1.ResourceMemory])
				}
				w := tt.want[m.Name]
				if cpu.Cmp(resource.MustParse(w[0])) != 0 || mem.Cmp(resource.MustParse(w[1])) != 0 || m.Window.Duration != Window || m.Timestamp.IsZero() {
					t.Errorf("pod %s uses %s, %s (window %s), want %v", m.Name, &cpu, &mem, m.Window.Duration, w)
				}
			}
		})
	}
}

func TestNodes(t *testing.T) {
	t.Parallel()
	got, err := testSource(t).Nodes(context.Background(), labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{"node-1": {"120m", "64Mi"}, "node-2": {"500m", "1Gi"}, "node-3": {"0", "0"}}
	if len(got) != len(want) {
		t.Errorf("got %d nodes, want %v", len(got), want)
	}
	for _, n := range got {
		cpu, mem := n.Usage[corev1.ResourceCPU], n.Usage[corev1.ResourceMemory]
		if w := want[n.Name]; cpu.Cmp(resource.MustParse(w[0])) != 0 || mem.Cmp(resource.MustParse(w[1])) != 0 {
			t.Errorf("node %s uses %s, %s, want %v", n.Name, &cpu, &mem, w)
		}
	}
}
