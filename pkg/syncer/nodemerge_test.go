package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestKeepTenantAdditions(t *testing.T) {
	t.Parallel()
	const fakecpu = corev1.ResourceName("example.com/fakecpu")
	q := resource.MustParse
	// node is a virtual node as the host makes it: one label, one taint,
	// cpu; with record, as the syncer last wrote it.
	node := func(record bool, edit func(n *corev1.Node)) *corev1.Node {
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{"host": "a"}},
			Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "host", Effect: corev1.TaintEffectNoSchedule}}},
			Status: corev1.NodeStatus{
				Capacity:    corev1.ResourceList{corev1.ResourceCPU: q("4")},
				Allocatable: corev1.ResourceList{corev1.ResourceCPU: q("4")},
			},
		}
		if record {
			recordHostOwned(n)
		}
		if edit != nil {
			edit(n)
		}
		return n
	}
	tests := []struct {
		name    string
		current *corev1.Node
		host    func(n *corev1.Node) // the host node's change since the last sync
		want    func(n *corev1.Node) // the expected result, from the host's node
	}{
		{name: "nothing added", current: node(true, nil)},
		{
			name: "tenant label, taint and extended resource kept; allocatable follows capacity",
			current: node(true, func(n *corev1.Node) {
				n.Labels["tenant"] = "x"
				n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "tenant", Effect: corev1.TaintEffectNoExecute})
				n.Status.Capacity[fakecpu] = q("1000")
			}),
			want: func(n *corev1.Node) {
				n.Labels["tenant"] = "x"
				n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "tenant", Effect: corev1.TaintEffectNoExecute})
				n.Status.Capacity[fakecpu] = q("1000")
				n.Status.Allocatable[fakecpu] = q("1000")
			},
		},
		{
			name: "tenant's allocatable value kept",
			current: node(true, func(n *corev1.Node) {
				n.Status.Capacity[fakecpu] = q("1000")
				n.Status.Allocatable[fakecpu] = q("800")
			}),
			want: func(n *corev1.Node) {
				n.Status.Capacity[fakecpu] = q("1000")
				n.Status.Allocatable[fakecpu] = q("800")
			},
		},
		{
			name: "extended resource removed from capacity leaves allocatable",
			current: node(true, func(n *corev1.Node) {
				n.Status.Allocatable[fakecpu] = q("1000")
			}),
		},
		{
			name: "host's items win over the tenant's changes",
			current: node(true, func(n *corev1.Node) {
				n.Labels["host"] = "changed"
				n.Spec.Taints = nil
				n.Status.Capacity[corev1.ResourceCPU] = q("100")
			}),
		},
		{
			name:    "what the host dropped is dropped",
			current: node(true, nil),
			host: func(n *corev1.Node) {
				delete(n.Labels, "host")
				n.Spec.Taints = nil
			},
		},
		{
			name: "the not-ready taint of the apiserver's admission is the host's",
			current: node(true, func(n *corev1.Node) {
				n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule})
			}),
		},
		{
			name: "a node without the record keeps nothing",
			current: node(false, func(n *corev1.Node) {
				n.Labels["tenant"] = "x"
				n.Status.Capacity[fakecpu] = q("1000")
			}),
		},
		{
			name: "the host's later label of the same key wins",
			current: node(true, func(n *corev1.Node) {
				n.Labels["shared"] = "tenant"
			}),
			host: func(n *corev1.Node) { n.Labels["shared"] = "host" },
			want: func(n *corev1.Node) { n.Labels["shared"] = "host" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hostView := func() *corev1.Node {
				n := node(false, tt.host)
				recordHostOwned(n)
				return n
			}
			got, want := hostView(), hostView()
			keepTenantAdditions(tt.current, got)
			if tt.want != nil {
				tt.want(want)
			}
			if !equality.Semantic.DeepEqual(got.Labels, want.Labels) || !equality.Semantic.DeepEqual(got.Spec, want.Spec) ||
				!equality.Semantic.DeepEqual(got.Status, want.Status) {
				t.Errorf("got labels %v, spec %+v, status %+v\nwant labels %v, spec %+v, status %+v",
					got.Labels, got.Spec, got.Status, want.Labels, want.Spec, want.Status)
			}
		})
	}
}

func TestIsExtendedResource(t *testing.T) {
	t.Parallel()
	for name, want := range map[corev1.ResourceName]bool{
		"example.com/fakecpu": true, "cpu": false, "hugepages-2Mi": false,
		"kubernetes.io/x": false, "node.kubernetes.io/x": false, "requests.example.com/x": false,
	} {
		if got := isExtendedResource(name); got != want {
			t.Errorf("isExtendedResource(%q) = %v, want %v", name, got, want)
		}
	}
}
