package syncer

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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

// isReferenced reports whether a live virtual pod in ns refers to the object.
func (s *Syncer) isReferenced(kind refKind, ns, name string) (bool, error) {
	pods, err := s.virtualPods.Pods(ns).List(labels.Everything())
	if err != nil {
		return false, err
	}
	for _, p := range pods {
		if p.DeletionTimestamp == nil && podRefs(p)[kind][name] {
			return true, nil
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

// ownsObject reports whether host metadata marks this syncer's copy of ns/name.
func (s *Syncer) ownsObject(m metav1.ObjectMeta, ns, name string) bool {
	return m.Labels[names.LabelManagedBy] == names.ManagedByValue &&
		m.Labels[names.LabelVirtualCluster] == names.LabelValue(s.vc) &&
		m.Annotations[annotationVirtualNS] == ns && m.Annotations[names.AnnotationVirtualName] == name
}

func (s *Syncer) syncConfigMap(ctx context.Context, ns, name, hname string, referenced bool) error {
	v, err := s.virtualConfigMaps.ConfigMaps(ns).Get(name)
	if apierrors.IsNotFound(err) {
		v = nil
	} else if err != nil {
		return err
	}
	h, err := s.hostConfigMaps.Get(hname)
	if apierrors.IsNotFound(err) {
		h = nil
	} else if err != nil {
		return err
	}
	client := s.host.CoreV1().ConfigMaps(s.hostNamespace)
	if v == nil || !referenced {
		if h == nil {
			return nil
		}
		return ignoreGone(client.Delete(ctx, hname, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &h.UID}}), "delete host configmap "+hname)
	}
	want := &corev1.ConfigMap{ObjectMeta: s.hostMeta(ns, name, "ConfigMap", v.UID, hname), Data: v.Data, BinaryData: v.BinaryData, Immutable: v.Immutable}
	if h == nil {
		_, err := client.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return s.checkForeign(ctx, func() (metav1.ObjectMeta, error) {
				o, err := client.Get(ctx, hname, metav1.GetOptions{})
				if err != nil {
					return metav1.ObjectMeta{}, err
				}
				return o.ObjectMeta, nil
			}, ns, name, "configmap")
		}
		return wrap(err, "create host configmap "+hname)
	}
	if equality.Semantic.DeepEqual(h.Data, want.Data) && equality.Semantic.DeepEqual(h.BinaryData, want.BinaryData) &&
		h.Annotations[names.AnnotationVirtualUID] == string(v.UID) {
		return nil
	}
	updated := h.DeepCopy()
	updated.Data, updated.BinaryData, updated.Immutable = want.Data, want.BinaryData, want.Immutable
	maps.Copy(updated.Annotations, want.Annotations)
	_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsInvalid(err) { // an immutable copy: replace it
		return ignoreGone(client.Delete(ctx, hname, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &h.UID}}), "replace host configmap "+hname)
	}
	return wrap(err, "update host configmap "+hname)
}

func (s *Syncer) syncSecret(ctx context.Context, ns, name, hname string, referenced bool) error {
	v, err := s.virtualSecrets.Secrets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		v = nil
	} else if err != nil {
		return err
	}
	h, err := s.hostSecrets.Get(hname)
	if apierrors.IsNotFound(err) {
		h = nil
	} else if err != nil {
		return err
	}
	client := s.host.CoreV1().Secrets(s.hostNamespace)
	if v == nil || !referenced {
		if h == nil {
			return nil
		}
		return ignoreGone(client.Delete(ctx, hname, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &h.UID}}), "delete host secret "+hname)
	}
	// A virtual service-account token secret becomes Opaque on the host:
	// kept as a token type, with its annotations, the host's token
	// controller would fill it with a token of the host.
	typ := v.Type
	if typ == corev1.SecretTypeServiceAccountToken {
		typ = corev1.SecretTypeOpaque
	}
	want := &corev1.Secret{ObjectMeta: s.hostMeta(ns, name, "Secret", v.UID, hname), Data: v.Data, Type: typ, Immutable: v.Immutable}
	if h == nil {
		_, err := client.Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return s.checkForeign(ctx, func() (metav1.ObjectMeta, error) {
				o, err := client.Get(ctx, hname, metav1.GetOptions{})
				if err != nil {
					return metav1.ObjectMeta{}, err
				}
				return o.ObjectMeta, nil
			}, ns, name, "secret")
		}
		return wrap(err, "create host secret "+hname)
	}
	if equality.Semantic.DeepEqual(h.Data, want.Data) && h.Type == want.Type && h.Annotations[names.AnnotationVirtualUID] == string(v.UID) {
		return nil
	}
	if h.Type != want.Type { // the type of a secret cannot change: replace it
		return ignoreGone(client.Delete(ctx, hname, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &h.UID}}), "replace host secret "+hname)
	}
	updated := h.DeepCopy()
	updated.Data, updated.Immutable = want.Data, want.Immutable
	maps.Copy(updated.Annotations, want.Annotations)
	_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsInvalid(err) {
		return ignoreGone(client.Delete(ctx, hname, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &h.UID}}), "replace host secret "+hname)
	}
	return wrap(err, "update host secret "+hname)
}

// checkForeign handles a name taken on the host by an object the informer
// does not see: ours-not-yet-seen is fine; anything else is left alone
// and logged (there is no single virtual object to warn on).
func (s *Syncer) checkForeign(_ context.Context, get func() (metav1.ObjectMeta, error), ns, name, kind string) error {
	m, err := get()
	if err != nil {
		return ignoreGone(err, "read host "+kind+" "+name)
	}
	if !s.ownsObject(m, ns, name) {
		s.log.Warn("Host object not managed by Nest has the translated name; left alone", "kind", kind, "virtual", ns+"/"+name, "host", m.Name)
	}
	return nil
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
