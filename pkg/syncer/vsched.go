package syncer

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/nestcluster/nest/pkg/names"
)

// With the virtual scheduler (controlPlane.scheduler.enabled), the virtual
// cluster's own kube-scheduler binds its pods to virtual nodes, by the
// cluster's priorities, and preempts within the cluster. The syncer then:
//
//   - copies a pod to the host only once it is bound (spec.nodeName): a
//     copy made before would be placed by the host's scheduler, and the
//     virtual pod bound to where it landed, racing the virtual scheduler's
//     own bind. A pod is scheduled once, in the virtual cluster;
//   - pins the host copy to the host node its virtual node stands for, as
//     for any bound pod (translateNodeNames: a required node affinity on
//     the node's name), and only that: the pod's node selector, node and
//     pod (anti-)affinity and topology spread constraints were the virtual
//     scheduler's to satisfy, against the virtual nodes, whose labels may
//     be the tenant's (nodemerge.go), which no host node has. The host's
//     scheduler cannot pick another node; it only confirms that the copy
//     fits there, by the host's taints (tolerations stay) and resources,
//     which a tenant's changes to its virtual node do not lift;
//   - removes the victims' host copies when the scheduler deletes them
//     (gracefully, with the DisruptionTarget condition it set, which the
//     status sync keeps: keepVirtualConditions).
//
// A resource the virtual node advertises and its host node does not (an
// extended resource the tenant added to the virtual node, nodemerge.go) is
// only the virtual cluster's to account for: the virtual scheduler did.
// The host copy's containers do not request it, as no host node could
// give it (the host scheduler would leave the copy Pending for ever); the
// names left out are listed in annotationVirtualOnlyResources.

// annotationVirtualOnlyResources lists, on a host copy, the resources its
// virtual pod requests that only its virtual node has.
const annotationVirtualOnlyResources = names.Domain + "/virtual-only-resources"

// waitsForVirtualScheduler reports whether a virtual pod waits for the
// virtual scheduler before it goes to the host.
func (s *Syncer) waitsForVirtualScheduler(vpod *corev1.Pod) bool {
	return s.virtualScheduler && vpod.Spec.NodeName == ""
}

// placedByVirtualScheduler reports whether a virtual pod was bound by the
// virtual scheduler, or by hand in a cluster that runs it, to a virtual
// node standing for a host node; if so, it clears the constraints the
// virtual scheduler satisfied from the host copy's spec.
func (s *Syncer) placedByVirtualScheduler(nodeName string, spec *corev1.PodSpec) bool {
	if !s.virtualScheduler || nodeName == "" {
		return false
	}
	if _, _, ok := s.hostNodeName(nodeName); !ok {
		return false
	}
	spec.NodeSelector, spec.Affinity, spec.TopologySpreadConstraints = nil, nil, nil
	return true
}

// dropVirtualOnlyResources removes from a host copy's requests and limits
// the resources that the virtual node its pod is bound to has and the host
// node it stands for does not.
func (s *Syncer) dropVirtualOnlyResources(nodeName string, h *corev1.Pod) {
	if nodeName == "" {
		return
	}
	host := s.hostNodeOf(nodeName)
	if host == nil || s.virtualNodes == nil {
		return // the host's nodes are not read: nothing to compare with
	}
	vnode, ok, err := found(s.virtualNodes.Get(nodeName))
	if !ok || err != nil {
		return
	}
	virtualOnly := func(name corev1.ResourceName) bool {
		_, onHost := host.Status.Allocatable[name]
		_, onVirtual := vnode.Status.Allocatable[name]
		return onVirtual && !onHost && isExtendedResource(name)
	}
	dropped := sets.New[string]()
	drop := func(r *corev1.ResourceRequirements) {
		for _, list := range []corev1.ResourceList{r.Requests, r.Limits} {
			for name := range list {
				if virtualOnly(name) {
					delete(list, name)
					dropped.Insert(string(name))
				}
			}
		}
	}
	spec := &h.Spec
	for _, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range list {
			drop(&list[i].Resources)
		}
	}
	if spec.Resources != nil {
		drop(spec.Resources)
	}
	if dropped.Len() > 0 {
		h.Annotations[annotationVirtualOnlyResources] = strings.Join(sets.List(dropped), ",")
	}
}

// keepVirtualConditions keeps in a status made from the host copy's the
// virtual pod's conditions that only the virtual cluster sets: the
// DisruptionTarget of a pod its scheduler preempts (or its eviction API
// evicts).
func keepVirtualConditions(status *corev1.PodStatus, vpod *corev1.Pod) {
	for _, c := range vpod.Status.Conditions {
		if c.Type != corev1.DisruptionTarget {
			continue
		}
		if !slices.ContainsFunc(status.Conditions, func(h corev1.PodCondition) bool { return h.Type == c.Type }) {
			status.Conditions = append(status.Conditions, c)
		}
	}
}
