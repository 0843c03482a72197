package syncer

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Claims are copied down as they are made: storage is provisioned and bound
// by the host (its storage classes, its volumes), and the claim's status
// (phase, capacity, access modes, conditions) comes back up. The virtual
// cluster runs no volume controllers, only pvc-protection, which lets a
// claim go once no virtual pod uses it.

// kindPVC is the queue kind of persistent volume claims.
const kindPVC = "persistentvolumeclaims"

func (s *Syncer) syncPVC(ctx context.Context, ns, name string) error {
	v, haveV, err := found(s.virtualPVCs.PersistentVolumeClaims(ns).Get(name))
	if err != nil {
		return err
	}
	hname := s.hostObjectName(ns, name)
	h, haveH, err := found(s.hostPVCs.Get(hname))
	if err != nil {
		return err
	}
	wanted := haveV && v.DeletionTimestamp == nil
	err = syncCopy(ctx, s, copyOf[*corev1.PersistentVolumeClaim]{
		kind: "persistentvolumeclaim", hostName: hname, client: s.host.CoreV1().PersistentVolumeClaims(s.hostNamespace),
		host: h, exists: haveH, wanted: wanted, virtual: objectRef(v, "PersistentVolumeClaim"),
		want: func() *corev1.PersistentVolumeClaim { return s.translatePVC(v, hname) },
		current: func(h, want *corev1.PersistentVolumeClaim) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) &&
				equality.Semantic.DeepEqual(h.Spec.Resources, want.Spec.Resources) &&
				equality.Semantic.DeepEqual(h.Spec.VolumeAttributesClassName, want.Spec.VolumeAttributesClassName)
		},
		update: func(h, want *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, bool) {
			// Only the requested size (expansion) and the attributes class
			// may change on a claim; the rest is immutable once made.
			updated := h.DeepCopy()
			updated.Labels = want.Labels
			updated.Spec.Resources = want.Spec.Resources
			updated.Spec.VolumeAttributesClassName = want.Spec.VolumeAttributesClassName
			return updated, true
		},
	}, ns, name)
	if err != nil || !wanted || !haveH || !s.ownsObject(h, ns, name) {
		return err
	}
	if equality.Semantic.DeepEqual(v.Status, h.Status) {
		return nil
	}
	updated := v.DeepCopy()
	updated.Status = *h.Status.DeepCopy()
	_, err = s.virtual.CoreV1().PersistentVolumeClaims(ns).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreGone(err, fmt.Sprintf("copy status up to virtual claim %s/%s", ns, name))
}

// translatePVC returns the host copy of a claim: the tenant's request, to be
// met by the host's storage. A pre-bound volume name and a volume selector
// name host volumes, which a tenant may not pick, so they are dropped; a
// data source naming another claim of the namespace is translated.
func (s *Syncer) translatePVC(v *corev1.PersistentVolumeClaim, hname string) *corev1.PersistentVolumeClaim {
	meta := s.hostMeta(v.Namespace, v.Name, "PersistentVolumeClaim", v.UID, hname)
	meta.Labels = s.hostLabels(v.Labels, v.Namespace)
	spec := v.Spec.DeepCopy()
	spec.VolumeName = ""
	spec.Selector = nil
	isClaim := func(group *string, kind string) bool {
		return kind == "PersistentVolumeClaim" && (group == nil || *group == "")
	}
	if src := spec.DataSource; src != nil {
		if isClaim(src.APIGroup, src.Kind) {
			src.Name = s.hostObjectName(v.Namespace, src.Name)
		} else {
			spec.DataSource = nil
		}
	}
	if ref := spec.DataSourceRef; ref != nil {
		if isClaim(ref.APIGroup, ref.Kind) && (ref.Namespace == nil || *ref.Namespace == v.Namespace) {
			ref.Name, ref.Namespace = s.hostObjectName(v.Namespace, ref.Name), nil
		} else {
			spec.DataSourceRef = nil
		}
	}
	return &corev1.PersistentVolumeClaim{ObjectMeta: meta, Spec: *spec}
}
