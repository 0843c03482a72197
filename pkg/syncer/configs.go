package syncer

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nestcluster/nest/pkg/names"
)

// syncRef converges the host copy of one configmap or secret: present, and
// equal to the virtual object, while a pod that is not being deleted refers
// to it; gone otherwise. Objects no pod uses never reach the host.
func (s *Syncer) syncRef(ctx context.Context, kind refKind, ns, name string) error {
	referenced, err := s.isReferenced(kind, ns, name)
	if err != nil {
		return err
	}
	hname := s.hostObjectName(ns, name)
	switch kind {
	case refConfigMap:
		return s.syncConfigMap(ctx, ns, name, hname, referenced)
	case refSecret:
		return s.syncSecret(ctx, ns, name, hname, referenced)
	}
	return nil
}

// isReferenced reports whether a live virtual pod in ns refers to the
// object, or (secrets, when ingresses are synced) an ingress, through the
// informers' reference indexes.
func (s *Syncer) isReferenced(kind refKind, ns, name string) (bool, error) {
	if s.virtualPodIndex == nil { // pods are not synced
		return false, nil
	}
	pods, err := s.virtualPodIndex.ByIndex(indexPodRefs, refIndexKey(ns, kind, name))
	if err != nil {
		return false, err
	}
	for _, obj := range pods {
		if p, ok := obj.(*corev1.Pod); ok && p.DeletionTimestamp == nil {
			return true, nil
		}
	}
	if kind == refSecret && s.virtualIngressIndex != nil {
		ingresses, err := s.virtualIngressIndex.ByIndex(indexIngressSecrets, refIndexKey(ns, kind, name))
		if err != nil || len(ingresses) > 0 {
			return len(ingresses) > 0, err
		}
	}
	return false, nil
}

// hostMeta is the metadata of a host copy of a virtual object.
func (s *Syncer) hostMeta(ns, name, kind string, uid types.UID, hname string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:      hname,
		Namespace: s.hostNamespace,
		Labels:    names.OwnershipLabels(s.vc, ns),
		Annotations: map[string]string{
			names.AnnotationVirtualName: name,
			names.AnnotationVirtualKind: kind,
			names.AnnotationVirtualUID:  string(uid),
			annotationVirtualNS:         ns,
		},
	}
}

// ownsObject reports whether a host object is this syncer's copy of the
// virtual object ns/name.
func (s *Syncer) ownsObject(m metav1.Object, ns, name string) bool {
	l, a := m.GetLabels(), m.GetAnnotations()
	return l[names.LabelManagedBy] == names.ManagedByValue &&
		l[names.LabelVirtualCluster] == names.LabelValue(s.vc) &&
		a[annotationVirtualNS] == ns && a[names.AnnotationVirtualName] == name
}

// hostClient is the part of a typed client-go client that syncCopy uses.
type hostClient[T any] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Get(context.Context, string, metav1.GetOptions) (T, error)
	Update(context.Context, T, metav1.UpdateOptions) (T, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}

// copyOf describes the host copy of one configmap or secret for syncCopy.
type copyOf[T metav1.Object] struct {
	kind     string // for messages: "configmap", "secret"
	hostName string
	virtual  corev1.ObjectReference // told when a foreign host object has the name
	client   hostClient[T]
	host     T    // the current host copy, if exists
	exists   bool // whether host is set
	wanted   bool // a live pod uses the virtual object, and it exists
	want     func() T
	// fallback, if set, is created instead when the host refuses want as
	// invalid (services: the virtual cluster IP is taken on the host).
	fallback func(want T) T
	current  func(host, want T) bool
	// update returns the host copy carrying want's content, or false when
	// it cannot be updated in place (then it is replaced).
	update func(host, want T) (T, bool)
	// replaced, if set, is called once the copy was deleted to be replaced,
	// to make it again at once (else the next pass makes it).
	replaced func() error
}

// syncCopy converges one host copy: absent when not wanted; created, kept
// equal, or replaced when it cannot be updated in place.
func syncCopy[T metav1.Object](ctx context.Context, s *Syncer, c copyOf[T], ns, name string) error {
	hname := c.hostName
	remove := func(what string) error {
		uid := c.host.GetUID()
		err := c.client.Delete(ctx, hname, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		return ignoreGone(err, what+" host "+c.kind+" "+hname)
	}
	if !c.wanted {
		if !c.exists {
			return nil
		}
		return remove("delete")
	}
	want := c.want()
	if !c.exists {
		_, err := c.client.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsInvalid(err) && c.fallback != nil {
			_, err = c.client.Create(ctx, c.fallback(want), metav1.CreateOptions{})
		}
		if apierrors.IsAlreadyExists(err) {
			// Not in our informer: ours and not seen yet, or not Nest's.
			existing, gerr := c.client.Get(ctx, hname, metav1.GetOptions{})
			if gerr != nil {
				return ignoreGone(gerr, "read host "+c.kind+" "+hname)
			}
			if !s.ownsObject(existing, ns, name) {
				return s.refuseForeign(ctx, c.virtual, c.kind, hname)
			}
			return nil
		}
		return wrap(err, "create host "+c.kind+" "+hname)
	}
	if c.current(c.host, want) {
		return nil
	}
	replace := func() error {
		if err := remove("replace"); err != nil || c.replaced == nil {
			return err
		}
		return c.replaced()
	}
	updated, ok := c.update(c.host, want)
	if !ok {
		return replace()
	}
	maps.Copy(updated.GetAnnotations(), want.GetAnnotations())
	_, err := c.client.Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsInvalid(err) { // an immutable copy: replace it
		return replace()
	}
	return wrap(err, "update host "+c.kind+" "+hname)
}

// sameOrigin reports whether a host copy was made from this virtual object.
func sameOrigin(host, want metav1.Object) bool {
	return host.GetAnnotations()[names.AnnotationVirtualUID] == want.GetAnnotations()[names.AnnotationVirtualUID]
}

func (s *Syncer) syncConfigMap(ctx context.Context, ns, name, hname string, referenced bool) error {
	v, haveV, err := found(s.virtualConfigMaps.ConfigMaps(ns).Get(name))
	if err != nil {
		return err
	}
	h, haveH, err := found(s.hostConfigMaps.Get(hname))
	if err != nil {
		return err
	}
	return syncCopy(ctx, s, copyOf[*corev1.ConfigMap]{
		kind: "configmap", hostName: hname, client: s.host.CoreV1().ConfigMaps(s.hostNamespace),
		host: h, exists: haveH, wanted: haveV && referenced, virtual: objectRef(v, "ConfigMap"),
		want: func() *corev1.ConfigMap {
			return &corev1.ConfigMap{ObjectMeta: s.hostMeta(ns, name, "ConfigMap", v.UID, hname), Data: v.Data, BinaryData: v.BinaryData, Immutable: v.Immutable}
		},
		current: func(h, want *corev1.ConfigMap) bool {
			return sameOrigin(h, want) && equality.Semantic.DeepEqual(h.Data, want.Data) && equality.Semantic.DeepEqual(h.BinaryData, want.BinaryData)
		},
		update: func(h, want *corev1.ConfigMap) (*corev1.ConfigMap, bool) {
			updated := h.DeepCopy()
			updated.Data, updated.BinaryData, updated.Immutable = want.Data, want.BinaryData, want.Immutable
			return updated, true
		},
	}, ns, name)
}

func (s *Syncer) syncSecret(ctx context.Context, ns, name, hname string, referenced bool) error {
	v, haveV, err := found(s.virtualSecrets.Secrets(ns).Get(name))
	if err != nil {
		return err
	}
	h, haveH, err := found(s.hostSecrets.Get(hname))
	if err != nil {
		return err
	}
	return syncCopy(ctx, s, copyOf[*corev1.Secret]{
		kind: "secret", hostName: hname, client: s.host.CoreV1().Secrets(s.hostNamespace),
		host: h, exists: haveH, wanted: haveV && referenced, virtual: objectRef(v, "Secret"),
		want: func() *corev1.Secret {
			// A virtual service-account token secret becomes Opaque on the
			// host: kept as a token type, with its annotations, the host's
			// token controller would fill it with a token of the host.
			typ := v.Type
			if typ == corev1.SecretTypeServiceAccountToken {
				typ = corev1.SecretTypeOpaque
			}
			return &corev1.Secret{ObjectMeta: s.hostMeta(ns, name, "Secret", v.UID, hname), Data: v.Data, Type: typ, Immutable: v.Immutable}
		},
		current: func(h, want *corev1.Secret) bool {
			return sameOrigin(h, want) && h.Type == want.Type && equality.Semantic.DeepEqual(h.Data, want.Data)
		},
		update: func(h, want *corev1.Secret) (*corev1.Secret, bool) {
			if h.Type != want.Type { // the type of a secret cannot change
				return nil, false
			}
			updated := h.DeepCopy()
			updated.Data, updated.Immutable = want.Data, want.Immutable
			return updated, true
		},
	}, ns, name)
}

// found turns a lister's NotFound into "absent", keeping other errors.
func found[T any](obj T, err error) (T, bool, error) {
	if apierrors.IsNotFound(err) {
		var zero T
		return zero, false, nil
	}
	return obj, err == nil, err
}

func ignoreGone(err error, what string) error {
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
