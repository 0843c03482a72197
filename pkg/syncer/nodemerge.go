package syncer

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/nestcluster/nest/pkg/names"
)

// What a tenant adds to a virtual node stays. A virtual node of Nest's
// shows its host node (or generated data, in fake mode), and the syncer
// keeps it so; but a tenant may add to it, as to any node: the conformance
// tests put an extended resource in a node's status capacity, labels and
// taints on its metadata, and a scheduler in the virtual cluster
// (controlPlane.scheduler) decides by them. The rule, per item (a label by
// key, a taint by key and effect, a resource of status.capacity and
// status.allocatable by name):
//
//   - what the host node has is the host's: its value wins, and a tenant's
//     change or removal of it is undone on the next sync;
//   - what the host node does not have and the tenant added is kept, with
//     the tenant's value, until the tenant removes it;
//   - what the syncer copied from the host earlier and the host no longer
//     has is removed;
//   - taints of the node.kubernetes.io domain (not-ready, unreachable,
//     unschedulable, the pressure taints) are never the tenant's: the node
//     lifecycle controller keeps them from the node's conditions, and here
//     the host's does. The virtual apiserver's admission adds not-ready to
//     every new node, which no controller of the virtual cluster would
//     remove.
//
// To tell the last two apart the syncer records, on each virtual node, what
// it copied from the host (annotationHostOwned); an item not recorded there
// is the tenant's. A node without the record (made by an earlier Nest)
// counts as all the host's, so nothing of it is kept.
//
// A tenant's extended resource (a name with a domain other than
// kubernetes.io) in status.capacity is also allocatable, with the
// capacity's value unless the tenant set one: what a kubelet does with the
// extended resources added to its node's capacity; removed from capacity, it
// leaves allocatable too.

// annotationHostOwned records what of a virtual node came from its host
// node (hostOwned as JSON).
const annotationHostOwned = names.Domain + "/host-owned"

// hostOwned names the items of a virtual node the syncer copied from the host.
type hostOwned struct {
	Labels    []string `json:"labels,omitempty"`
	Taints    []string `json:"taints,omitempty"` // key:effect
	Resources []string `json:"resources,omitempty"`
}

func taintKey(t corev1.Taint) string { return t.Key + ":" + string(t.Effect) }

// recordHostOwned writes into want, the node as the host makes it, the
// record of its items.
func recordHostOwned(want *corev1.Node) {
	owned := hostOwned{Labels: slices.Sorted(maps.Keys(want.Labels))}
	for _, t := range want.Spec.Taints {
		owned.Taints = append(owned.Taints, taintKey(t))
	}
	resources := sets.New[string]()
	for name := range want.Status.Capacity {
		resources.Insert(string(name))
	}
	for name := range want.Status.Allocatable {
		resources.Insert(string(name))
	}
	owned.Resources = sets.List(resources)
	data, _ := json.Marshal(owned) // strings only: cannot fail
	if want.Annotations == nil {
		want.Annotations = map[string]string{}
	}
	want.Annotations[annotationHostOwned] = string(data)
}

// hostOwnedOf reads a virtual node's record; ok is false when it has none
// (or an unreadable one).
func hostOwnedOf(node *corev1.Node) (owned hostOwned, ok bool) {
	data, found := node.Annotations[annotationHostOwned]
	if !found || json.Unmarshal([]byte(data), &owned) != nil {
		return hostOwned{}, false
	}
	return owned, true
}

// keepTenantAdditions adds to want (the node as the host makes it, its
// record written) what the tenant added to the current virtual node.
func keepTenantAdditions(current, want *corev1.Node) {
	owned, ok := hostOwnedOf(current)
	if !ok {
		return // all the host's
	}
	hostLabels, hostTaints, hostResources := sets.New(owned.Labels...), sets.New(owned.Taints...), sets.New(owned.Resources...)

	for k, v := range current.Labels {
		if _, host := want.Labels[k]; !host && !hostLabels.Has(k) {
			if want.Labels == nil {
				want.Labels = map[string]string{}
			}
			want.Labels[k] = v
		}
	}

	wantTaints := sets.New[string]()
	for _, t := range want.Spec.Taints {
		wantTaints.Insert(taintKey(t))
	}
	for _, t := range current.Spec.Taints {
		if k := taintKey(t); !wantTaints.Has(k) && !hostTaints.Has(k) && !isNodeControllerTaint(t) {
			want.Spec.Taints = append(slices.Clone(want.Spec.Taints), t)
			wantTaints.Insert(k)
		}
	}

	tenant := func(name corev1.ResourceName) bool {
		_, inCap := want.Status.Capacity[name]
		_, inAlloc := want.Status.Allocatable[name]
		return !inCap && !inAlloc && !hostResources.Has(string(name))
	}
	var capacity, allocatable corev1.ResourceList
	for name, q := range current.Status.Capacity {
		if !tenant(name) {
			continue
		}
		if capacity == nil {
			capacity, allocatable = want.Status.Capacity.DeepCopy(), want.Status.Allocatable.DeepCopy()
			if capacity == nil {
				capacity = corev1.ResourceList{}
			}
			if allocatable == nil {
				allocatable = corev1.ResourceList{}
			}
		}
		capacity[name] = q
		if a, set := current.Status.Allocatable[name]; set {
			allocatable[name] = a
		} else if isExtendedResource(name) {
			allocatable[name] = q
		}
	}
	for name, q := range current.Status.Allocatable {
		if _, inCap := current.Status.Capacity[name]; inCap || !tenant(name) || isExtendedResource(name) {
			continue // done above, the host's, or gone with its capacity
		}
		if allocatable == nil {
			capacity, allocatable = want.Status.Capacity.DeepCopy(), want.Status.Allocatable.DeepCopy()
			if allocatable == nil {
				allocatable = corev1.ResourceList{}
			}
		}
		allocatable[name] = q
	}
	if allocatable != nil {
		want.Status.Capacity, want.Status.Allocatable = capacity, allocatable
	}
}

// isNodeControllerTaint reports whether a taint is one that Kubernetes
// keeps from a node's conditions (its key in the node.kubernetes.io domain).
func isNodeControllerTaint(t corev1.Taint) bool {
	return strings.HasPrefix(t.Key, "node.kubernetes.io/")
}

// isExtendedResource reports whether a resource name is an extended
// resource: one with a domain, other than kubernetes.io's (as
// k8s.io/kubernetes/pkg/apis/core/v1/helper.IsExtendedResourceName).
func isExtendedResource(name corev1.ResourceName) bool {
	n := string(name)
	domain, _, found := strings.Cut(n, "/")
	if !found || domain == "kubernetes.io" || strings.HasSuffix(domain, ".kubernetes.io") {
		return false
	}
	return !strings.HasPrefix(n, corev1.DefaultResourceRequestsPrefix)
}
