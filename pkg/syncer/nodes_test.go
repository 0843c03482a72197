package syncer

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/config"
)

func nodeLister(t *testing.T, nodes ...*corev1.Node) corelisters.NodeLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range nodes {
		if err := idx.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewNodeLister(idx)
}

func TestVirtualNodes(t *testing.T) {
	t.Parallel()
	beat := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}
	host := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-7", Labels: map[string]string{"kubernetes.io/hostname": "worker-7", "zone": "eu-1"}, Annotations: map[string]string{"secret": "x"}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}}, ProviderID: "cloud://i-123"},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: beat}},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "worker-7"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.7"},
				{Type: corev1.NodeInternalDNS, Address: "worker-7.internal"}, {Type: corev1.NodeExternalIP, Address: "203.0.113.7"},
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, // as on KWOK's nodes: the same as the kubelet endpoint
			},
			NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.34.4", OSImage: "Debian 13", Architecture: "arm64", OperatingSystem: "linux"},
		},
	}
	kubelet := &kubeletEndpoint{address: "127.0.0.1", port: 40123}
	tests := []struct {
		name      string
		nodes     config.FromHostSync
		hostNodes corelisters.NodeLister // nil: no grant
		wantName  string                 // "" checks the anonymised form
		wantReal  bool
	}{
		{"real", config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeReal}, nodeLister(t, host), "worker-7", true},
		{"real without the grant shows generated data", config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeReal}, nil, "worker-7", false},
		{"fake", config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeFake}, nil, "", false},
		{"nodes not synced from the host are fake", config.FromHostSync{Enabled: ptrTo(false), Mode: config.NodeModeReal}, nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Syncer{vc: "dev", kubelet: kubelet, hostNodes: tt.hostNodes,
				rules: config.Sync{FromHost: map[string]config.FromHostSync{"nodes": tt.nodes}}}
			name := s.virtualNodeName("worker-7")
			if tt.wantName != "" && name != tt.wantName {
				t.Fatalf("virtualNodeName() = %q, want %q", name, tt.wantName)
			}
			if tt.wantName == "" && (!strings.HasPrefix(name, "vnode-") || strings.Contains(name, "worker") || name != s.virtualNodeName("worker-7")) {
				t.Fatalf("virtualNodeName() = %q: want a stable name that does not tell the host node's", name)
			}
			n := s.wantNode(name)
			if n.Labels["nest.dev/managed-by"] != "nest" {
				t.Errorf("labels %v lack nest.dev/managed-by", n.Labels)
			}
			if a := n.Status.Addresses; len(a) == 0 || a[0] != (corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}) || n.Status.DaemonEndpoints.KubeletEndpoint.Port != 40123 {
				t.Errorf("addresses %v, kubelet port %d: want the syncer's kubelet API first", a, n.Status.DaemonEndpoints.KubeletEndpoint.Port)
			}
			if !tt.wantReal {
				if n.Annotations[annotationNodeMode] != "fake" || !equality.Semantic.DeepEqual(n.Status.Capacity, fakeNodeCapacity) || len(n.Status.Addresses) != 1 || n.Labels["zone"] != "" || n.Status.NodeInfo.OSImage != "" {
					t.Errorf("node = %+v: want generated data only", n)
				}
				return
			}
			want := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.7"}, {Type: corev1.NodeExternalIP, Address: "203.0.113.7"}}
			switch {
			case n.Annotations[annotationNodeMode] != "real" || n.Annotations["secret"] != "":
				t.Errorf("annotations = %v", n.Annotations)
			case n.Labels["zone"] != "eu-1" || n.Labels["kubernetes.io/hostname"] != "worker-7":
				t.Errorf("labels = %v, want the host node's", n.Labels)
			case !equality.Semantic.DeepEqual(n.Status.Capacity, capacity) || !equality.Semantic.DeepEqual(n.Status.Allocatable, capacity):
				t.Errorf("capacity %v, allocatable %v", n.Status.Capacity, n.Status.Allocatable)
			case n.Status.NodeInfo != host.Status.NodeInfo || !equality.Semantic.DeepEqual(n.Status.Conditions, host.Status.Conditions):
				t.Errorf("node info %+v, conditions %+v", n.Status.NodeInfo, n.Status.Conditions)
			case !equality.Semantic.DeepEqual(n.Status.Addresses, want):
				t.Errorf("addresses = %v, want %v (Hostname and InternalDNS would win over the kubelet endpoint)", n.Status.Addresses, want)
			case len(n.Spec.Taints) != 1 || n.Spec.ProviderID != "":
				t.Errorf("spec = %+v, want the taints and nothing else", n.Spec)
			}
		})
	}
	other := &Syncer{vc: "prod", rules: config.Sync{FromHost: map[string]config.FromHostSync{"nodes": {Enabled: ptrTo(true), Mode: config.NodeModeFake}}}}
	dev := &Syncer{vc: "dev", rules: other.rules}
	if other.virtualNodeName("worker-7") == dev.virtualNodeName("worker-7") {
		t.Error("two clusters give a host node the same fake name: they could be correlated")
	}
}

func TestMergeConditions(t *testing.T) {
	t.Parallel()
	old := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	later := metav1.NewTime(old.Add(time.Minute))
	ready := func(status corev1.ConditionStatus, at metav1.Time) corev1.NodeCondition {
		return corev1.NodeCondition{Type: corev1.NodeReady, Status: status, Reason: "R", LastHeartbeatTime: at, LastTransitionTime: at}
	}
	tests := []struct {
		name          string
		current, want []corev1.NodeCondition
		expect        []corev1.NodeCondition
	}{
		{"a heartbeat alone changes nothing", []corev1.NodeCondition{ready("True", old)}, []corev1.NodeCondition{ready("True", later)}, []corev1.NodeCondition{ready("True", old)}},
		{"a new status is taken", []corev1.NodeCondition{ready("True", old)}, []corev1.NodeCondition{ready("False", later)}, []corev1.NodeCondition{ready("False", later)}},
		{"gone conditions go", []corev1.NodeCondition{ready("True", old), {Type: corev1.NodeMemoryPressure, Status: "False"}}, []corev1.NodeCondition{ready("True", later)}, []corev1.NodeCondition{ready("True", old)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mergeConditions(tt.current, tt.want); !equality.Semantic.DeepEqual(got, tt.expect) {
				t.Errorf("mergeConditions() = %+v, want %+v", got, tt.expect)
			}
		})
	}
}
