package syncer

import (
	"cmp"
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/names"
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
	var class *string
	var volume string
	if wanted && !haveH {
		// A tenant's class or volume (when those go down) is named by its
		// host copy, which must be Nest's before the claim may use it; its
		// sync brings the claim back.
		var classWait, volumeWait string
		if class, classWait, err = s.hostClass(ctx, v.Spec.StorageClassName); err != nil {
			return err
		}
		if volume, volumeWait, err = s.hostVolumeName(ctx, v.Spec.VolumeName); err != nil {
			return err
		}
		if wait := cmp.Or(classWait, volumeWait); wait != "" {
			s.log.Debug("Claim waits before going to the host", "claim", ns+"/"+name, "reason", wait)
			return s.record(ctx, objectRef(v, "PersistentVolumeClaim"), corev1.EventTypeNormal, reasonClaimPending, wait)
		}
	}
	err = syncCopy(ctx, s, copyOf[*corev1.PersistentVolumeClaim]{
		kind: "persistentvolumeclaim", hostName: hname, client: s.host.CoreV1().PersistentVolumeClaims(s.hostNamespace),
		host: h, exists: haveH, wanted: wanted, virtual: objectRef(v, "PersistentVolumeClaim"),
		want: func() *corev1.PersistentVolumeClaim {
			want := s.translatePVC(v, hname)
			if !haveH { // else immutable: the current copy's are kept
				want.Spec.StorageClassName, want.Spec.VolumeName = class, volume
			}
			return want
		},
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
	if v, err = s.claimVolumeUp(ctx, v, h); err != nil {
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

// reasonClaimPending is the reason of the (Normal) event on a virtual claim
// that waits for its class or volume before going to the host.
const reasonClaimPending = "WaitingForHostCopy"

// hostClass is the class a host claim names: see hostClassName; nil stays
// nil (the host's default class).
func (s *Syncer) hostClass(ctx context.Context, class *string) (*string, string, error) {
	if class == nil {
		return nil, "", nil
	}
	hname, wait, err := s.hostClassName(ctx, *class)
	return &hname, wait, err
}

// claimVolumeUp names the tenant's volume in a virtual claim that the host
// bound to its host copy (the volume's claimRef named the claim), as a
// cluster's volume controller would. Volumes of the host stay unnamed.
func (s *Syncer) claimVolumeUp(ctx context.Context, v, h *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	if v.Spec.VolumeName != "" || h.Spec.VolumeName == "" || !s.enabled(kindPV) {
		return v, nil
	}
	pv, ok, err := found(s.hostPVs.Get(h.Spec.VolumeName))
	if err != nil || !ok {
		return v, err
	}
	virtualName := pv.Annotations[names.AnnotationVirtualName]
	if virtualName == "" || !s.ownsObject(pv, "", virtualName) {
		return v, nil
	}
	updated := v.DeepCopy()
	updated.Spec.VolumeName = virtualName
	stored, err := s.virtual.CoreV1().PersistentVolumeClaims(v.Namespace).Update(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		return v, ignoreGone(err, fmt.Sprintf("name the volume of virtual claim %s/%s", v.Namespace, v.Name))
	}
	return stored, nil
}
