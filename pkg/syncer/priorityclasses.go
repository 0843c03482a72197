package syncer

import (
	"context"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/informers"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/names"
)

// Priority classes (opt-in: sync.toHost.priorityclasses.enabled) are
// cluster-scoped on both sides: a tenant's class goes to the host as
// NAME-x-CLUSTER (hashed when too long), with its value, preemption policy
// and description, never as the host's global default; host pods name the
// host copy of their virtual pod's class. The system-* classes are the
// virtual cluster's own: pods that use them get the host's default, as when
// the kind is off. The syncer needs a cluster-scoped grant on the host for
// this (pkg/hostaccess.ClusterRules), which lets it write any priority
// class there; it still only ever touches its own copies.

const kindPriorityClass = "priorityclasses"

// priorityClassInformers sets up the informers of priority classes.
func (s *Syncer) priorityClassInformers(virtual, host informers.SharedInformerFactory) []informerHandler {
	v, h := virtual.Scheduling().V1().PriorityClasses(), host.Scheduling().V1().PriorityClasses()
	s.virtualPriorityClasses, s.hostPriorityClasses = v.Lister(), h.Lister()
	return []informerHandler{
		{v.Informer(), s.enqueueByName(kindPriorityClass)},
		{h.Informer(), s.enqueueHostByName(kindPriorityClass)},
	}
}

// enqueueHostByName maps a cluster-scoped host copy back to its virtual
// object's name.
func (s *Syncer) enqueueHostByName(kind string) func(any) {
	return func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if m, err := meta.Accessor(obj); err == nil && m.GetAnnotations()[names.AnnotationVirtualName] != "" {
			s.queue.Add(queueKey(kind, m.GetAnnotations()[names.AnnotationVirtualName]))
		}
	}
}

// priorityClassListers are nil while priority classes are not synced.
type priorityClassListers struct {
	virtualPriorityClasses, hostPriorityClasses schedulinglisters.PriorityClassLister
}

// isSystemPriorityClass reports whether a class is one of Kubernetes' own,
// which every cluster has (and reserves the system- prefix for).
func isSystemPriorityClass(name string) bool { return strings.HasPrefix(name, "system-") }

func (s *Syncer) hostPriorityClassName(name string) string {
	return names.HostNameWithLimit(subdomainLimit, s.vc, "", name)
}

// translatePriority sets a host pod's priority class: the host copy of
// the tenant's class, the host's own class when it is one copied up, or
// none (the host's default).
func (s *Syncer) translatePriority(v *corev1.Pod, spec *corev1.PodSpec) {
	spec.Priority, spec.PreemptionPolicy = nil, nil // the host's admission sets them from the class
	spec.PriorityClassName = ""
	name := v.Spec.PriorityClassName
	switch {
	case name == "" || isSystemPriorityClass(name):
	case s.enabled(kindPriorityClass):
		spec.PriorityClassName = s.hostPriorityClassName(name)
	case s.isHostPriorityClass(name):
		spec.PriorityClassName = name
	}
}

// translatePriorityClass returns the host copy of a tenant's class.
func (s *Syncer) translatePriorityClass(v *schedulingv1.PriorityClass, hname string) *schedulingv1.PriorityClass {
	om := s.hostMeta("", v.Name, "PriorityClass", v.UID, hname)
	om.Namespace = ""
	delete(om.Annotations, annotationVirtualNS)
	om.Labels = s.hostLabels(v.Labels, "")
	return &schedulingv1.PriorityClass{
		ObjectMeta: om, Value: v.Value, GlobalDefault: false,
		Description: v.Description, PreemptionPolicy: v.PreemptionPolicy,
	}
}

func (s *Syncer) syncPriorityClass(ctx context.Context, name string) error {
	v, haveV, err := found(s.virtualPriorityClasses.Get(name))
	if err != nil {
		return err
	}
	hname := s.hostPriorityClassName(name)
	h, haveH, err := found(s.hostPriorityClasses.Get(hname))
	if err != nil {
		return err
	}
	return syncCopy(ctx, s, copyOf[*schedulingv1.PriorityClass]{
		kind: "priorityclass", hostName: hname, client: s.host.SchedulingV1().PriorityClasses(),
		host: h, exists: haveH, wanted: haveV && v.DeletionTimestamp == nil && !isSystemPriorityClass(name),
		virtual: objectRefKind(v, "PriorityClass", "scheduling.k8s.io/v1"),
		want:    func() *schedulingv1.PriorityClass { return s.translatePriorityClass(v, hname) },
		current: func(h, want *schedulingv1.PriorityClass) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && h.Value == want.Value &&
				!h.GlobalDefault && h.Description == want.Description && ptrEqual(h.PreemptionPolicy, want.PreemptionPolicy)
		},
		update: func(h, want *schedulingv1.PriorityClass) (*schedulingv1.PriorityClass, bool) {
			if h.Value != want.Value || !ptrEqual(h.PreemptionPolicy, want.PreemptionPolicy) {
				return nil, false // immutable
			}
			updated := h.DeepCopy()
			updated.Labels, updated.Description, updated.GlobalDefault = want.Labels, want.Description, false
			return updated, true
		},
	}, "", name)
}

func ptrEqual[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}
