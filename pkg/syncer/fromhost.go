package syncer

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/names"
)

// Storage classes and ingress classes of the host are copied into the
// virtual cluster, read-only (sync.fromHost.<kind>.enabled, off by
// default: the syncer then needs to read them on the host, a cluster-scoped
// grant, see pkg/hostaccess). A tenant then sees the classes its claims and
// ingresses may name (their names go down unchanged). The copy has the
// host object's name, labels, annotations (so the default-class annotations
// too) and spec, plus the label nest.dev/managed-by=nest. A virtual object
// of the name of a host class is the host's: the tenant's edits and
// deletes are reverted; a copy whose host class went is deleted; classes
// the tenant made under other names are left alone. Host classes that are
// Nest's copies of virtual clusters' classes (labelled
// nest.dev/managed-by=nest) are other tenants' and never copied up.

// Queue kinds of the copies up: "fromhost-" and the config kind.
const (
	kindStorageClassUp  = "fromhost-storageclasses"
	kindIngressClassUp  = "fromhost-ingressclasses"
	kindPriorityClassUp = "fromhost-priorityclasses"
)

// fromHostKinds maps the queue kinds of the copies up to their config kinds.
var fromHostQueueKinds = map[string]string{
	kindStorageClassUp:  "storageclasses",
	kindIngressClassUp:  "ingressclasses",
	kindPriorityClassUp: "priorityclasses",
}

// fromHostInformers sets up the informers of the enabled kinds on both
// sides. host must be a factory without the ownership label filter: the
// host's classes are not Nest's.
func (s *Syncer) fromHostInformers(virtual, host informers.SharedInformerFactory) []informerHandler {
	var handlers []informerHandler
	if s.enabled(kindStorageClassUp) {
		v, h := virtual.Storage().V1().StorageClasses(), host.Storage().V1().StorageClasses()
		s.virtualStorageClasses, s.hostStorageClasses = v.Lister(), h.Lister()
		handlers = append(handlers,
			informerHandler{v.Informer(), s.enqueueByName(kindStorageClassUp)},
			informerHandler{h.Informer(), s.enqueueByName(kindStorageClassUp)})
	}
	if s.enabled(kindIngressClassUp) {
		v, h := virtual.Networking().V1().IngressClasses(), host.Networking().V1().IngressClasses()
		s.virtualIngressClasses, s.hostIngressClasses = v.Lister(), h.Lister()
		handlers = append(handlers,
			informerHandler{v.Informer(), s.enqueueByName(kindIngressClassUp)},
			informerHandler{h.Informer(), s.enqueueByName(kindIngressClassUp)})
	}
	if s.enabled(kindPriorityClassUp) {
		v, h := virtual.Scheduling().V1().PriorityClasses(), host.Scheduling().V1().PriorityClasses()
		s.virtualPriorityClassesUp, s.hostPriorityClassesUp = v.Lister(), h.Lister()
		handlers = append(handlers,
			informerHandler{v.Informer(), s.enqueueByName(kindPriorityClassUp)},
			informerHandler{h.Informer(), s.enqueueByName(kindPriorityClassUp)})
	}
	return handlers
}

// enqueueByName queues a cluster-scoped object by its name.
func (s *Syncer) enqueueByName(kind string) func(any) {
	return func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			s.queue.Add(queueKey(kind, key))
		}
	}
}

// fromHostListers are the listers of the classes copied up; nil while off.
type fromHostListers struct {
	virtualStorageClasses, hostStorageClasses       storagelisters.StorageClassLister
	virtualIngressClasses, hostIngressClasses       networkinglisters.IngressClassLister
	virtualPriorityClassesUp, hostPriorityClassesUp schedulinglisters.PriorityClassLister
}

// mirrorOf is what syncMirror needs of one kind.
type mirrorOf[T metav1.Object] struct {
	kind    string
	host    T
	hasHost bool
	virtual T
	hasVirt bool
	client  interface {
		Create(context.Context, T, metav1.CreateOptions) (T, error)
		Update(context.Context, T, metav1.UpdateOptions) (T, error)
		Delete(context.Context, string, metav1.DeleteOptions) error
	}
	want func() T // the virtual copy of the host object
	// current reports whether the virtual object equals want.
	current func(v, want T) bool
	// update returns v changed to want, or false when it must be replaced.
	update func(v, want T) (T, bool)
}

// isNestCopy reports whether a host object is one that Nest copied down from
// a virtual cluster (this one or another): never copied up.
func isNestCopy(h metav1.Object) bool {
	return h.GetLabels()[names.LabelManagedBy] == names.ManagedByValue
}

// mirrorMeta is the metadata of the virtual copy of a host object.
func mirrorMeta(h metav1.Object) metav1.ObjectMeta {
	labels := maps.Clone(h.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[names.LabelManagedBy] = names.ManagedByValue
	return metav1.ObjectMeta{Name: h.GetName(), Labels: labels, Annotations: maps.Clone(h.GetAnnotations())}
}

// sameMeta reports whether a virtual copy carries the labels and
// annotations it should.
func sameMeta(v, want metav1.Object) bool {
	return maps.Equal(v.GetLabels(), want.GetLabels()) && maps.Equal(v.GetAnnotations(), want.GetAnnotations())
}

// syncMirror converges the virtual copy of one host object.
func syncMirror[T metav1.Object](ctx context.Context, s *Syncer, m mirrorOf[T], name string) error {
	if m.hasHost && isNestCopy(m.host) {
		m.hasHost = false // a virtual cluster's copy down: another tenant's, not the host's
	}
	if !m.hasHost {
		if !m.hasVirt || m.virtual.GetLabels()[names.LabelManagedBy] != names.ManagedByValue {
			return nil // a tenant's own
		}
		uid := m.virtual.GetUID()
		err := m.client.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		return ignoreGone(err, fmt.Sprintf("delete the virtual %s %s (gone from the host)", m.kind, name))
	}
	want := m.want()
	if !m.hasVirt {
		_, err := m.client.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // not in the cache yet: its event brings us back
		}
		return wrap(err, fmt.Sprintf("copy host %s %s into the virtual cluster", m.kind, name))
	}
	if m.current(m.virtual, want) {
		return nil
	}
	updated, ok := m.update(m.virtual, want)
	if ok {
		_, err := m.client.Update(ctx, updated, metav1.UpdateOptions{})
		if !apierrors.IsInvalid(err) {
			return ignoreGone(err, fmt.Sprintf("put back virtual %s %s", m.kind, name))
		}
	}
	// Immutable fields differ: replace it (its delete event brings it back).
	uid := m.virtual.GetUID()
	err := m.client.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	return ignoreGone(err, fmt.Sprintf("replace virtual %s %s", m.kind, name))
}

// storageClassCopy is the virtual copy of a host storage class.
func storageClassCopy(h *storagev1.StorageClass) *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta: mirrorMeta(h), Provisioner: h.Provisioner, Parameters: maps.Clone(h.Parameters),
		ReclaimPolicy: h.ReclaimPolicy, MountOptions: append([]string(nil), h.MountOptions...),
		AllowVolumeExpansion: h.AllowVolumeExpansion, VolumeBindingMode: h.VolumeBindingMode,
		AllowedTopologies: append([]corev1.TopologySelectorTerm(nil), h.AllowedTopologies...),
	}
}

func (s *Syncer) syncStorageClassUp(ctx context.Context, name string) error {
	h, haveH, err := found(s.hostStorageClasses.Get(name))
	if err != nil {
		return err
	}
	v, haveV, err := found(s.virtualStorageClasses.Get(name))
	if err != nil {
		return err
	}
	return syncMirror(ctx, s, mirrorOf[*storagev1.StorageClass]{
		kind: "storage class", host: h, hasHost: haveH, virtual: v, hasVirt: haveV,
		client: s.virtual.StorageV1().StorageClasses(),
		want:   func() *storagev1.StorageClass { return storageClassCopy(h) },
		current: func(v, want *storagev1.StorageClass) bool {
			return sameMeta(v, want) && v.Provisioner == want.Provisioner && maps.Equal(v.Parameters, want.Parameters) &&
				equality.Semantic.DeepEqual(v.ReclaimPolicy, want.ReclaimPolicy) && equality.Semantic.DeepEqual(v.MountOptions, want.MountOptions) &&
				equality.Semantic.DeepEqual(v.AllowVolumeExpansion, want.AllowVolumeExpansion) &&
				equality.Semantic.DeepEqual(v.VolumeBindingMode, want.VolumeBindingMode) &&
				equality.Semantic.DeepEqual(v.AllowedTopologies, want.AllowedTopologies)
		},
		update: func(v, want *storagev1.StorageClass) (*storagev1.StorageClass, bool) {
			updated := want.DeepCopy()
			updated.ObjectMeta = *v.ObjectMeta.DeepCopy()
			updated.Labels, updated.Annotations = want.Labels, want.Annotations
			// Everything but the metadata and allowVolumeExpansion is immutable.
			return updated, true
		},
	}, name)
}

// ingressClassCopy is the virtual copy of a host ingress class.
func ingressClassCopy(h *networkingv1.IngressClass) *networkingv1.IngressClass {
	return &networkingv1.IngressClass{ObjectMeta: mirrorMeta(h), Spec: *h.Spec.DeepCopy()}
}

func (s *Syncer) syncIngressClassUp(ctx context.Context, name string) error {
	h, haveH, err := found(s.hostIngressClasses.Get(name))
	if err != nil {
		return err
	}
	v, haveV, err := found(s.virtualIngressClasses.Get(name))
	if err != nil {
		return err
	}
	return syncMirror(ctx, s, mirrorOf[*networkingv1.IngressClass]{
		kind: "ingress class", host: h, hasHost: haveH, virtual: v, hasVirt: haveV,
		client: s.virtual.NetworkingV1().IngressClasses(),
		want:   func() *networkingv1.IngressClass { return ingressClassCopy(h) },
		current: func(v, want *networkingv1.IngressClass) bool {
			return sameMeta(v, want) && equality.Semantic.DeepEqual(v.Spec, want.Spec)
		},
		update: func(v, want *networkingv1.IngressClass) (*networkingv1.IngressClass, bool) {
			updated := v.DeepCopy()
			updated.Labels, updated.Annotations, updated.Spec = want.Labels, want.Annotations, want.Spec
			return updated, true
		},
	}, name)
}

// priorityClassCopy is the virtual copy of a host priority class: its value,
// preemption policy and description, never the virtual cluster's global
// default (the tenant's own default stays the tenant's, and two defaults
// would be refused).
func priorityClassCopy(h *schedulingv1.PriorityClass) *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{
		ObjectMeta: mirrorMeta(h), Value: h.Value, Description: h.Description, PreemptionPolicy: h.PreemptionPolicy,
	}
}

// syncPriorityClassUp keeps the copy of a host priority class, so that the
// virtual apiserver admits pods naming it (their host copies then name the
// host class). The system-* classes are every cluster's own and are left
// alone on both sides.
func (s *Syncer) syncPriorityClassUp(ctx context.Context, name string) error {
	if isSystemPriorityClass(name) {
		return nil
	}
	h, haveH, err := found(s.hostPriorityClassesUp.Get(name))
	if err != nil {
		return err
	}
	v, haveV, err := found(s.virtualPriorityClassesUp.Get(name))
	if err != nil {
		return err
	}
	return syncMirror(ctx, s, mirrorOf[*schedulingv1.PriorityClass]{
		kind: "priority class", host: h, hasHost: haveH, virtual: v, hasVirt: haveV,
		client: s.virtual.SchedulingV1().PriorityClasses(),
		want:   func() *schedulingv1.PriorityClass { return priorityClassCopy(h) },
		current: func(v, want *schedulingv1.PriorityClass) bool {
			return sameMeta(v, want) && v.Value == want.Value && !v.GlobalDefault && v.Description == want.Description &&
				ptrEqual(v.PreemptionPolicy, want.PreemptionPolicy)
		},
		update: func(v, want *schedulingv1.PriorityClass) (*schedulingv1.PriorityClass, bool) {
			if v.Value != want.Value || !ptrEqual(v.PreemptionPolicy, want.PreemptionPolicy) {
				return nil, false // immutable: replace it
			}
			updated := v.DeepCopy()
			updated.Labels, updated.Annotations, updated.Description, updated.GlobalDefault = want.Labels, want.Annotations, want.Description, false
			return updated, true
		},
	}, name)
}

// isHostPriorityClass reports whether a pod's class is a host class copied
// up: its host copy names it unchanged.
func (s *Syncer) isHostPriorityClass(name string) bool {
	if !s.enabled(kindPriorityClassUp) || isSystemPriorityClass(name) {
		return false
	}
	h, ok, _ := found(s.hostPriorityClassesUp.Get(name))
	return ok && !isNestCopy(h)
}
