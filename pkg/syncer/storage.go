package syncer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/names"
)

// Storage classes and persistent volumes (opt-in:
// sync.toHost.storageclasses.enabled, sync.toHost.persistentvolumes.enabled)
// are cluster-scoped on both sides. A tenant's class or volume goes to the
// host as NAME-x-CLUSTER (hashed when long), so two virtual clusters never
// meet, with the ownership labels; a host object of that name that Nest did
// not make is left alone (HostNameTaken). Both need a cluster-scoped grant
// (pkg/hostaccess.ClusterRules), which lets the credentials write any object
// of the kind on the host; the syncer only ever touches its own copies.
//
// A claim naming a tenant's class or volume names its host copy, and its
// host copy is made only once that host copy is Nest's (so a foreign host
// object of the translated name is never used). A volume's host copy is
// always pre-bound to a claim of the cluster's host namespace: the claim its
// virtual claimRef names, or the virtual claim whose volumeName names it,
// or none yet (noClaim), so that the host binds it to this cluster's claims
// only. The host binds; its status (phase) comes back up, and so does the
// binding (the volume's claimRef, the claim's volumeName) when it was the
// host's doing.

// Queue kinds of the copies down.
const (
	kindStorageClass = "storageclasses"
	kindPV           = "persistentvolumes"
)

// noClaim is the claim a volume's host copy is pre-bound to while no
// virtual claim wants it: a name no host copy can have (translated names
// carry "-x-" or a hash), so the host binds the volume to nothing.
const noClaim = "nest-no-claim"

// indexClaimStorage indexes virtual claims by what they name: "sc/CLASS"
// and "pv/VOLUME".
const indexClaimStorage = "storage"

var claimIndexers = cache.Indexers{
	indexClaimStorage: func(obj any) ([]string, error) {
		c, ok := obj.(*corev1.PersistentVolumeClaim)
		if !ok {
			return nil, nil
		}
		var keys []string
		if sc := c.Spec.StorageClassName; sc != nil && *sc != "" {
			keys = append(keys, "sc/"+*sc)
		}
		if c.Spec.VolumeName != "" {
			keys = append(keys, "pv/"+c.Spec.VolumeName)
		}
		return keys, nil
	},
}

// storageListers are nil while their kinds are not synced down.
type storageListers struct {
	tenantStorageClasses, hostStorageClassCopies storagelisters.StorageClassLister
	virtualPVs, hostPVs                          corelisters.PersistentVolumeLister
	virtualPVCIndex                              cache.Indexer // by indexClaimStorage
}

// storageInformers sets up the informers of the kinds that are on, and
// indexes virtual claims by the classes and volumes they name.
func (s *Syncer) storageInformers(virtual, host informers.SharedInformerFactory) ([]informerHandler, error) {
	var handlers []informerHandler
	if s.enabled(kindPVC) {
		claims := virtual.Core().V1().PersistentVolumeClaims().Informer()
		if err := claims.AddIndexers(claimIndexers); err != nil {
			return nil, fmt.Errorf("index virtual claims: %w", err)
		}
		s.virtualPVCIndex = claims.GetIndexer()
	}
	if s.enabled(kindStorageClass) {
		v, h := virtual.Storage().V1().StorageClasses(), host.Storage().V1().StorageClasses()
		s.tenantStorageClasses, s.hostStorageClassCopies = v.Lister(), h.Lister()
		handlers = append(handlers,
			informerHandler{v.Informer(), s.enqueueByName(kindStorageClass)},
			informerHandler{h.Informer(), s.enqueueHostByName(kindStorageClass)})
	}
	if s.enabled(kindPV) {
		v, h := virtual.Core().V1().PersistentVolumes(), host.Core().V1().PersistentVolumes()
		s.virtualPVs, s.hostPVs = v.Lister(), h.Lister()
		handlers = append(handlers,
			informerHandler{v.Informer(), s.enqueueByName(kindPV)},
			informerHandler{h.Informer(), s.enqueueHostByName(kindPV)})
	}
	return handlers, nil
}

// clusterHostName is the host name of a cluster-scoped virtual object.
func (s *Syncer) clusterHostName(name string) string {
	return names.HostNameWithLimit(subdomainLimit, s.vc, "", name)
}

// clusterHostMeta is the metadata of the host copy of a cluster-scoped
// virtual object: no namespace, no virtual namespace.
func (s *Syncer) clusterHostMeta(v metav1.Object, kind, hname string) metav1.ObjectMeta {
	om := s.hostMeta("", v.GetName(), kind, v.GetUID(), hname)
	om.Namespace = ""
	delete(om.Annotations, annotationVirtualNS)
	om.Labels = s.hostLabels(v.GetLabels(), "")
	return om
}

// enqueueClaims queues the virtual claims that name a class ("sc/NAME") or
// a volume ("pv/NAME"), whose host copies wait for the class's or volume's.
func (s *Syncer) enqueueClaims(indexKey string) {
	if s.virtualPVCIndex == nil {
		return
	}
	claims, _ := s.virtualPVCIndex.ByIndex(indexClaimStorage, indexKey)
	for _, obj := range claims {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			s.queue.Add(queueKey(kindPVC, key))
		}
	}
}

// defaultClassAnnotations make a class the cluster's default; a tenant's
// default is never the host's.
var defaultClassAnnotations = []string{
	"storageclass.kubernetes.io/is-default-class",
	"storageclass.beta.kubernetes.io/is-default-class",
}

// storageClassRefusal says why a tenant's class may not go to the host, or
// "": a parameter naming a secret would have the host's provisioner read a
// secret of the host (any namespace) with its own credentials for the
// tenant.
func storageClassRefusal(v *storagev1.StorageClass) string {
	for _, k := range slices.Sorted(maps.Keys(v.Parameters)) {
		if strings.Contains(strings.ToLower(k), "secret") {
			return fmt.Sprintf("storage class parameter %q names a secret, which the host's provisioner would read with its own credentials: the class is not copied to the host", k)
		}
	}
	return ""
}

// translateStorageClass returns the host copy of a tenant's class: never
// the host's default.
func (s *Syncer) translateStorageClass(v *storagev1.StorageClass, hname string) *storagev1.StorageClass {
	h := &storagev1.StorageClass{
		ObjectMeta: s.clusterHostMeta(v, "StorageClass", hname), Provisioner: v.Provisioner, Parameters: maps.Clone(v.Parameters),
		ReclaimPolicy: v.ReclaimPolicy, MountOptions: slices.Clone(v.MountOptions), AllowVolumeExpansion: v.AllowVolumeExpansion,
		VolumeBindingMode: v.VolumeBindingMode, AllowedTopologies: slices.Clone(v.AllowedTopologies),
	}
	for _, a := range defaultClassAnnotations {
		delete(h.Labels, a) // labels could carry the key too
	}
	maps.Copy(h.Annotations, tenantAnnotations(v.Annotations, droppedStorageClassAnnotation))
	return h
}

func sameStorageClassSpec(a, b *storagev1.StorageClass) bool {
	return a.Provisioner == b.Provisioner && maps.Equal(a.Parameters, b.Parameters) &&
		equality.Semantic.DeepEqual(a.ReclaimPolicy, b.ReclaimPolicy) && equality.Semantic.DeepEqual(a.MountOptions, b.MountOptions) &&
		equality.Semantic.DeepEqual(a.AllowVolumeExpansion, b.AllowVolumeExpansion) &&
		equality.Semantic.DeepEqual(a.VolumeBindingMode, b.VolumeBindingMode) &&
		equality.Semantic.DeepEqual(a.AllowedTopologies, b.AllowedTopologies)
}

func (s *Syncer) syncStorageClass(ctx context.Context, name string) error {
	defer s.enqueueClaims("sc/" + name)
	v, haveV, err := found(s.tenantStorageClasses.Get(name))
	if err != nil {
		return err
	}
	hname := s.clusterHostName(name)
	h, haveH, err := found(s.hostStorageClassCopies.Get(hname))
	if err != nil {
		return err
	}
	wanted := haveV && v.DeletionTimestamp == nil
	ref := objectRefKind(v, "StorageClass", "storage.k8s.io/v1")
	if wanted {
		if reason := storageClassRefusal(v); reason != "" {
			if err := s.warn(ctx, ref, "IsolationPolicy", reason); err != nil {
				return err
			}
			wanted = false
		}
	}
	return syncCopy(ctx, s, copyOf[*storagev1.StorageClass]{
		kind: "storageclass", hostName: hname, client: s.host.StorageV1().StorageClasses(),
		host: h, exists: haveH, wanted: wanted, virtual: ref,
		want: func() *storagev1.StorageClass { return s.translateStorageClass(v, hname) },
		current: func(h, want *storagev1.StorageClass) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && sameStorageClassSpec(h, want) &&
				maps.Equal(tenantAnnotations(h.Annotations, droppedStorageClassAnnotation), tenantAnnotations(want.Annotations, droppedStorageClassAnnotation))
		},
		update: func(h, want *storagev1.StorageClass) (*storagev1.StorageClass, bool) {
			if h.Provisioner != want.Provisioner || !maps.Equal(h.Parameters, want.Parameters) ||
				!equality.Semantic.DeepEqual(h.ReclaimPolicy, want.ReclaimPolicy) ||
				!equality.Semantic.DeepEqual(h.VolumeBindingMode, want.VolumeBindingMode) {
				return nil, false // immutable: replace it
			}
			updated := h.DeepCopy()
			updated.Labels, updated.MountOptions, updated.AllowVolumeExpansion = want.Labels, want.MountOptions, want.AllowVolumeExpansion
			updated.Annotations = withTenantAnnotations(h.Annotations, want.Annotations, droppedStorageClassAnnotation)
			updated.AllowedTopologies = want.AllowedTopologies
			return updated, true
		},
	}, "", name)
}

// hostClassName is the class a host claim or volume names for a virtual
// class name: with storage classes synced down, the host copy of the
// tenant's class (the virtual class is asked of the apiserver when the
// cache does not show it yet); else the name unchanged (a host class,
// known by name or copied up). wait says why a claim must not go to the
// host yet (see classWait), "" when it may.
func (s *Syncer) hostClassName(ctx context.Context, name string) (hname, wait string, err error) {
	if name == "" || !s.enabled(kindStorageClass) {
		return name, "", nil
	}
	_, tenantHas, err := found(s.tenantStorageClasses.Get(name))
	if err == nil && !tenantHas {
		_, tenantHas, err = found(s.virtual.StorageV1().StorageClasses().Get(ctx, name, metav1.GetOptions{}))
	}
	if err != nil {
		return name, "", wrap(err, "read virtual storage class "+name)
	}
	hname = s.clusterHostName(name)
	copy, haveCopy, err := found(s.hostStorageClassCopies.Get(hname))
	if err != nil {
		return hname, "", err
	}
	if !haveCopy {
		copy = nil
	}
	return hname, s.classWait(name, tenantHas, copy), nil
}

// classWait says why a claim naming the tenant's class name (storage
// classes synced down) must wait, or "": the class must exist in the
// virtual cluster (a claim made before its class would otherwise reach the
// host naming a host class of that name, or none) and its host copy (nil
// when missing) must exist and be Nest's. The class's sync brings the
// waiting claims back (enqueueClaims).
func (s *Syncer) classWait(name string, tenantHas bool, copy *storagev1.StorageClass) string {
	hname := s.clusterHostName(name)
	switch {
	case !tenantHas:
		return fmt.Sprintf("waits for storage class %q: the virtual cluster has no such class yet (storage classes are synced to the host: the claim goes once the class and its host copy %s exist)", name, hname)
	case copy == nil:
		return fmt.Sprintf("waits for storage class %q: its host copy %s is not made yet", name, hname)
	case !s.ownsObject(copy, "", name):
		return fmt.Sprintf("waits for storage class %q: host storage class %s exists and is not managed by Nest", name, hname)
	}
	return ""
}

// hostVolumeName is the volume a host claim names for its virtual claim's
// volumeName: the host copy of the tenant's volume when volumes are synced
// down (wait is "" once that copy exists and is Nest's; a volume the
// virtual cluster does not have yet is waited for), else none (a tenant may
// not pick host volumes).
func (s *Syncer) hostVolumeName(ctx context.Context, name string) (hname, wait string, err error) {
	if name == "" || !s.enabled(kindPV) {
		return "", "", nil
	}
	hname = s.clusterHostName(name)
	h, have, err := found(s.hostPVs.Get(hname))
	switch {
	case err != nil:
		return hname, "", err
	case !have:
		return hname, fmt.Sprintf("waits for persistent volume %q: its host copy %s is not made yet", name, hname), nil
	case !s.ownsObject(h, "", name):
		return hname, fmt.Sprintf("waits for persistent volume %q: host volume %s exists and is not managed by Nest", name, hname), nil
	}
	return hname, "", nil
}

// volumeRefusal says why a tenant's volume may not go to the host, or "":
// host paths (hostPath, local) unless the isolation policy lets pods use
// them, and sources naming a secret, which the host's volume plugins would
// read with their own credentials from any host namespace.
func (s *Syncer) volumeRefusal(v *corev1.PersistentVolume) string {
	src := v.Spec.PersistentVolumeSource
	if (src.HostPath != nil || src.Local != nil) && !s.isolation.allowsHostPath() {
		return fmt.Sprintf("violates this virtual cluster's isolation policy (pod security %q): a hostPath or local volume reaches the host's file system: the volume is not copied to the host", s.isolation.level.Level)
	}
	if field := volumeSecretField(src); field != "" {
		return fmt.Sprintf("volume source field %s names a secret, which the host's volume plugin would read with its own credentials: the volume is not copied to the host", field)
	}
	return ""
}

// volumeSecretField names the first field of a volume source that names a
// secret, or "".
func volumeSecretField(src corev1.PersistentVolumeSource) string {
	type ref struct {
		field string
		set   bool
	}
	var refs []ref
	if c := src.CSI; c != nil {
		refs = append(refs, ref{"csi.controllerPublishSecretRef", c.ControllerPublishSecretRef != nil},
			ref{"csi.nodeStageSecretRef", c.NodeStageSecretRef != nil}, ref{"csi.nodePublishSecretRef", c.NodePublishSecretRef != nil},
			ref{"csi.controllerExpandSecretRef", c.ControllerExpandSecretRef != nil}, ref{"csi.nodeExpandSecretRef", c.NodeExpandSecretRef != nil})
	}
	if src.ISCSI != nil {
		refs = append(refs, ref{"iscsi.secretRef", src.ISCSI.SecretRef != nil})
	}
	if src.RBD != nil {
		refs = append(refs, ref{"rbd.secretRef", src.RBD.SecretRef != nil})
	}
	if src.CephFS != nil {
		refs = append(refs, ref{"cephfs.secretRef", src.CephFS.SecretRef != nil})
	}
	if src.FlexVolume != nil {
		refs = append(refs, ref{"flexVolume.secretRef", src.FlexVolume.SecretRef != nil})
	}
	if src.ScaleIO != nil {
		refs = append(refs, ref{"scaleIO.secretRef", src.ScaleIO.SecretRef != nil})
	}
	if src.StorageOS != nil {
		refs = append(refs, ref{"storageos.secretRef", src.StorageOS.SecretRef != nil})
	}
	if src.AzureFile != nil {
		refs = append(refs, ref{"azureFile.secretName", src.AzureFile.SecretName != ""})
	}
	if src.Cinder != nil {
		refs = append(refs, ref{"cinder.secretRef", src.Cinder.SecretRef != nil})
	}
	for _, r := range refs {
		if r.set {
			return "spec." + r.field
		}
	}
	return ""
}

// volumeClaim is the virtual claim a tenant's volume is meant for: the one
// its claimRef names, or else a live claim whose volumeName names it.
func (s *Syncer) volumeClaim(v *corev1.PersistentVolume) (ns, name string, ok bool) {
	if r := v.Spec.ClaimRef; r != nil && r.Namespace != "" && r.Name != "" {
		return r.Namespace, r.Name, true
	}
	if s.virtualPVCIndex == nil {
		return "", "", false
	}
	claims, _ := s.virtualPVCIndex.ByIndex(indexClaimStorage, "pv/"+v.Name)
	var keys []string
	for _, obj := range claims {
		if c, ok := obj.(*corev1.PersistentVolumeClaim); ok && c.DeletionTimestamp == nil {
			keys = append(keys, c.Namespace+"/"+c.Name)
		}
	}
	if len(keys) == 0 {
		return "", "", false
	}
	ns, name, _ = strings.Cut(slices.Min(keys), "/")
	return ns, name, true
}

// translatePV returns the host copy of a tenant's volume, pre-bound to the
// host claim hostClaim of the cluster's host namespace, naming the host
// class hostClass.
func (s *Syncer) translatePV(v *corev1.PersistentVolume, hname, hostClaim, hostClass string) *corev1.PersistentVolume {
	spec := v.Spec.DeepCopy()
	spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: s.hostNamespace, Name: hostClaim}
	spec.StorageClassName = hostClass
	meta := s.clusterHostMeta(v, "PersistentVolume", hname)
	maps.Copy(meta.Annotations, tenantAnnotations(v.Annotations, droppedVolumeAnnotation))
	return &corev1.PersistentVolume{ObjectMeta: meta, Spec: *spec}
}

// sameClaim reports whether two claim references name the same claim.
func sameClaim(a, b *corev1.ObjectReference) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Namespace == b.Namespace && a.Name == b.Name
}

// reclaimedOnHost reports whether a volume's host copy is gone because the
// host reclaimed it: it was bound (its status came up from there) and its
// reclaim policy deletes it with its claim. Then the virtual volume goes
// too, as the volume controller of a cluster would delete it; otherwise a
// missing copy is put back.
func reclaimedOnHost(v *corev1.PersistentVolume) bool {
	switch v.Status.Phase {
	case corev1.VolumeBound, corev1.VolumeReleased, corev1.VolumeFailed:
		return v.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete
	}
	return false
}

func (s *Syncer) syncPV(ctx context.Context, name string) error {
	v, haveV, err := found(s.virtualPVs.Get(name))
	if err != nil {
		return err
	}
	hname := s.clusterHostName(name)
	h, haveH, err := found(s.hostPVs.Get(hname))
	if err != nil {
		return err
	}
	if haveH {
		defer s.enqueueClaims("pv/" + name)
		if haveV && v.Spec.ClaimRef != nil {
			defer s.queue.Add(queueKey(kindPVC, v.Spec.ClaimRef.Namespace+"/"+v.Spec.ClaimRef.Name))
		}
	}
	wanted := haveV && v.DeletionTimestamp == nil
	ref := objectRef(v, "PersistentVolume")
	if wanted && !haveH && reclaimedOnHost(v) {
		uid := v.UID
		err := s.virtual.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
		return ignoreGone(err, "delete virtual volume "+name+" (reclaimed on the host)")
	}
	if wanted {
		if reason := s.volumeRefusal(v); reason != "" {
			if err := s.warn(ctx, ref, "IsolationPolicy", reason); err != nil {
				return err
			}
			wanted = false
		}
	}
	var hostClaim, hostClass string
	if wanted {
		hostClaim = noClaim
		if ns, claim, ok := s.volumeClaim(v); ok {
			hostClaim = s.hostObjectName(ns, claim)
		}
		// A volume need not wait for its class: its copy names the
		// class's host name at once, and the host binds by name.
		if hostClass, _, err = s.hostClassName(ctx, v.Spec.StorageClassName); err != nil {
			return err
		}
	}
	err = syncCopy(ctx, s, copyOf[*corev1.PersistentVolume]{
		kind: "persistentvolume", hostName: hname, client: s.host.CoreV1().PersistentVolumes(),
		host: h, exists: haveH, wanted: wanted, virtual: ref,
		want: func() *corev1.PersistentVolume { return s.translatePV(v, hname, hostClaim, hostClass) },
		current: func(h, want *corev1.PersistentVolume) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && sameClaim(h.Spec.ClaimRef, want.Spec.ClaimRef) &&
				maps.Equal(tenantAnnotations(h.Annotations, droppedVolumeAnnotation), tenantAnnotations(want.Annotations, droppedVolumeAnnotation)) &&
				equality.Semantic.DeepEqual(h.Spec.Capacity, want.Spec.Capacity) &&
				equality.Semantic.DeepEqual(h.Spec.AccessModes, want.Spec.AccessModes) &&
				h.Spec.PersistentVolumeReclaimPolicy == want.Spec.PersistentVolumeReclaimPolicy &&
				equality.Semantic.DeepEqual(h.Spec.MountOptions, want.Spec.MountOptions) &&
				h.Spec.StorageClassName == want.Spec.StorageClassName &&
				equality.Semantic.DeepEqual(h.Spec.VolumeAttributesClassName, want.Spec.VolumeAttributesClassName)
		},
		update: func(h, want *corev1.PersistentVolume) (*corev1.PersistentVolume, bool) {
			updated := h.DeepCopy()
			updated.Labels = want.Labels
			updated.Annotations = withTenantAnnotations(h.Annotations, want.Annotations, droppedVolumeAnnotation)
			if !sameClaim(h.Spec.ClaimRef, want.Spec.ClaimRef) {
				updated.Spec.ClaimRef = want.Spec.ClaimRef // else keep the UID the host's binder wrote
			}
			updated.Spec.Capacity, updated.Spec.AccessModes = want.Spec.Capacity, want.Spec.AccessModes
			updated.Spec.PersistentVolumeReclaimPolicy, updated.Spec.MountOptions = want.Spec.PersistentVolumeReclaimPolicy, want.Spec.MountOptions
			updated.Spec.StorageClassName, updated.Spec.VolumeAttributesClassName = want.Spec.StorageClassName, want.Spec.VolumeAttributesClassName
			return updated, true
		},
	}, "", name)
	if err != nil || !wanted || !haveH || !s.ownsObject(h, "", name) {
		return err
	}
	return s.volumeUp(ctx, v, h)
}

// volumeUp copies a volume's binding and status up: the claim the host
// bound it to (when the tenant named none on the volume) and its phase.
func (s *Syncer) volumeUp(ctx context.Context, v, h *corev1.PersistentVolume) error {
	if r := h.Spec.ClaimRef; v.Spec.ClaimRef == nil && r != nil && r.UID != "" && r.Namespace == s.hostNamespace && s.hostPVCs != nil {
		if hc, ok, _ := found(s.hostPVCs.Get(r.Name)); ok && hc.UID == r.UID {
			a := hc.Annotations
			if ns, name := a[annotationVirtualNS], a[names.AnnotationVirtualName]; ns != "" && name != "" && s.ownsObject(hc, ns, name) {
				updated := v.DeepCopy()
				updated.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
					Namespace: ns, Name: name, UID: types.UID(a[names.AnnotationVirtualUID])}
				stored, err := s.virtual.CoreV1().PersistentVolumes().Update(ctx, updated, metav1.UpdateOptions{})
				if err != nil {
					return ignoreGone(err, "copy the binding of virtual volume "+v.Name+" up")
				}
				v = stored
			}
		}
	}
	if equality.Semantic.DeepEqual(v.Status, h.Status) {
		return nil
	}
	updated := v.DeepCopy()
	updated.Status = *h.Status.DeepCopy()
	_, err := s.virtual.CoreV1().PersistentVolumes().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreGone(err, "copy status up to virtual volume "+v.Name)
}
