package syncer

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/config"
)

// readHostNodes gives a syncer the host's nodes, as setUpHostNodes does
// when the cluster reads them.
func readHostNodes(t *testing.T, s *Syncer, nodes ...*corev1.Node) {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{indexVirtualNodeName: func(obj any) ([]string, error) {
		return []string{s.virtualNodeName(obj.(*corev1.Node).Name)}, nil
	}})
	for _, n := range nodes {
		if err := idx.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	s.hostNodes, s.hostNodeIndex = corelisters.NewNodeLister(idx), idx
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
		readNodes bool   // false: no grant
		wantName  string // "" checks the anonymised form
		wantReal  bool
	}{
		{"real", config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeReal}, true, "worker-7", true},
		{"real without the grant shows generated data", config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeReal}, false, "worker-7", false},
		{"fake", config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeFake}, false, "", false},
		{"fake, every host node shown", config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeFake, All: true}, true, "", false},
		{"nodes not synced from the host are fake", config.FromHostSync{Enabled: ptrTo(false), Mode: config.NodeModeReal}, false, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Syncer{vc: "dev", kubelet: kubelet, rules: config.Sync{FromHost: map[string]config.FromHostSync{"nodes": tt.nodes}}}
			if tt.readNodes {
				readHostNodes(t, s, host)
			}
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
				// Where pods may go is the host node's, when it is known.
				if wantTaints := tt.readNodes; (len(n.Spec.Taints) == 1) != wantTaints {
					t.Errorf("taints = %v, want the host node's: %v", n.Spec.Taints, wantTaints)
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

func TestShownNodes(t *testing.T) {
	t.Parallel()
	node := func(name string, l map[string]string) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
	}
	a, b := node("worker-a", map[string]string{"pool": "tenants"}), node("worker-b", map[string]string{"pool": "system"})
	tests := []struct {
		name      string
		mode      config.NodeMode
		shown     labels.Selector // nil: only the nodes of the cluster's pods
		wantShown map[string]bool // by host node
	}{
		{"only the nodes of pods", config.NodeModeReal, nil, map[string]bool{"worker-a": false, "worker-b": false}},
		{"every node, real", config.NodeModeReal, labels.Everything(), map[string]bool{"worker-a": true, "worker-b": true}},
		{"every node, fake", config.NodeModeFake, labels.Everything(), map[string]bool{"worker-a": true, "worker-b": true}},
		{"the nodes of a label", config.NodeModeFake, labels.SelectorFromSet(labels.Set{"pool": "tenants"}), map[string]bool{"worker-a": true, "worker-b": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Syncer{vc: "dev", rules: config.Sync{FromHost: map[string]config.FromHostSync{"nodes": {Enabled: ptrTo(true), Mode: tt.mode}}}}
			readHostNodes(t, s, a, b)
			s.shownNodes = tt.shown
			for host, want := range tt.wantShown {
				if got := s.shown(s.virtualNodeName(host)); got != want {
					t.Errorf("shown(%s) = %v, want %v", host, got, want)
				}
			}
			if s.shown("worker-z") || s.shown("vnode-0123456789") {
				t.Error("a node the host does not have is shown")
			}
		})
	}
}

func TestTranslateNodeNames(t *testing.T) {
	t.Parallel()
	host := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker-7", Labels: map[string]string{labelHostname: "w7.example"}}}
	onName := func(values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: values}}}
	}
	onHostname := func(values ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: labelHostname, Operator: corev1.NodeSelectorOpIn, Values: values}}}
	}
	required := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	fake := (&Syncer{vc: "dev", rules: config.Sync{FromHost: map[string]config.FromHostSync{"nodes": {Enabled: ptrTo(true), Mode: config.NodeModeFake}}}}).virtualNodeName("worker-7")
	tests := []struct {
		name      string
		mode      config.NodeMode
		readNodes bool
		nodeName  string
		spec      corev1.PodSpec
		want      corev1.PodSpec
	}{
		{
			name: "a daemon set pod, real", mode: config.NodeModeReal, readNodes: true,
			spec: corev1.PodSpec{Affinity: required(onName("worker-7"))},
			want: corev1.PodSpec{Affinity: required(onName("worker-7"))},
		},
		{
			name: "a daemon set pod, fake", mode: config.NodeModeFake, readNodes: true,
			spec: corev1.PodSpec{Affinity: required(onName(fake))},
			want: corev1.PodSpec{Affinity: required(onName("worker-7"))},
		},
		{
			name: "a daemon set pod, fake, host nodes not read (a node of the cluster's pods)", mode: config.NodeModeFake,
			spec: corev1.PodSpec{Affinity: required(onName(fake))},
			want: corev1.PodSpec{Affinity: required(onName("worker-7"))},
		},
		{
			name: "a host name label, fake", mode: config.NodeModeFake, readNodes: true,
			spec: corev1.PodSpec{NodeSelector: map[string]string{labelHostname: fake, "disk": "ssd"}, Affinity: required(onHostname(fake, "vnode-unknown"))},
			want: corev1.PodSpec{NodeSelector: map[string]string{labelHostname: "w7.example", "disk": "ssd"}, Affinity: required(onHostname("w7.example", "vnode-unknown"))},
		},
		{
			name: "a host name label, real, stays", mode: config.NodeModeReal, readNodes: true,
			spec: corev1.PodSpec{NodeSelector: map[string]string{labelHostname: "w7.example"}},
			want: corev1.PodSpec{NodeSelector: map[string]string{labelHostname: "w7.example"}},
		},
		{
			name: "a pod made on a node, fake", mode: config.NodeModeFake, readNodes: true, nodeName: fake,
			want: corev1.PodSpec{Affinity: required(onName("worker-7"))},
		},
		{
			name: "a pod made on a node, with its own affinity terms", mode: config.NodeModeReal, readNodes: true, nodeName: "worker-7",
			spec: corev1.PodSpec{Affinity: required(onHostname("a"), onHostname("b"))},
			want: corev1.PodSpec{Affinity: required(
				corev1.NodeSelectorTerm{MatchExpressions: onHostname("a").MatchExpressions, MatchFields: onName("worker-7").MatchFields},
				corev1.NodeSelectorTerm{MatchExpressions: onHostname("b").MatchExpressions, MatchFields: onName("worker-7").MatchFields},
			)},
		},
		{
			name: "a pod made on a node the host does not have", mode: config.NodeModeReal, readNodes: true, nodeName: "tenant-node",
			want: corev1.PodSpec{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Syncer{vc: "dev", rules: config.Sync{FromHost: map[string]config.FromHostSync{"nodes": {Enabled: ptrTo(true), Mode: tt.mode}}}}
			if tt.readNodes {
				readHostNodes(t, s, host)
			} else {
				s.virtualNodeName("worker-7") // a host copy seen on it
			}
			spec := tt.spec.DeepCopy()
			s.translateNodeNames(tt.nodeName, spec)
			if !equality.Semantic.DeepEqual(*spec, tt.want) {
				t.Errorf("translateNodeNames() = %+v\nwant %+v", spec, tt.want)
			}
		})
	}
}
