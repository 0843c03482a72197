package syncer

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/config"
)

func TestTranslateStorageClass(t *testing.T) {
	t.Parallel()
	s := syncerWith(kindStorageClass)
	expand, wait := true, storagev1.VolumeBindingWaitForFirstConsumer
	v := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: "fast", UID: "u1", Labels: map[string]string{"tier": "ssd", "nest.dev/managed-by": "me"},
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner: "csi.example.com", Parameters: map[string]string{"type": "io2"}, AllowVolumeExpansion: &expand, VolumeBindingMode: &wait,
	}
	h := s.translateStorageClass(v, s.clusterHostName("fast"))
	tests := []struct {
		name      string
		got, want any
	}{
		{"name has the cluster", h.Name, "fast-x-dev"},
		{"cluster-scoped", h.Namespace, ""},
		{"never the host's default", h.Annotations["storageclass.kubernetes.io/is-default-class"], ""},
		{"provisioner", h.Provisioner, "csi.example.com"},
		{"parameters", h.Parameters["type"], "io2"},
		{"expansion", *h.AllowVolumeExpansion, true},
		{"binding mode", *h.VolumeBindingMode, wait},
		{"tenant labels kept, nest.dev ones Nest's", h.Labels["tier"] + "," + h.Labels["nest.dev/managed-by"], "ssd,nest"},
		{"origin", h.Annotations["nest.dev/virtual-name"] + "/" + h.Annotations["nest.dev/virtual-uid"], "fast/u1"},
		{"no virtual namespace", h.Annotations["nest.dev/virtual-namespace"] + h.Labels["nest.dev/virtual-namespace"], ""},
		{"owned by this syncer", s.ownsObject(h, "", "fast"), true},
		{"another cluster's copy is not", syncerWith(kindStorageClass).clusterHostName("fast") == (&Syncer{vc: "prod"}).clusterHostName("fast"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !equality.Semantic.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

func TestStorageClassRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params map[string]string
		want   string // substring; "" means accepted
	}{
		{"plain parameters", map[string]string{"type": "io2", "fsType": "ext4"}, ""},
		{"none", nil, ""},
		{"a provisioner secret", map[string]string{"csi.storage.k8s.io/provisioner-secret-name": "admin", "type": "x"}, `"csi.storage.k8s.io/provisioner-secret-name" names a secret`},
		{"a secret namespace", map[string]string{"csi.storage.k8s.io/node-stage-Secret-namespace": "kube-system"}, "names a secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := storageClassRefusal(&storagev1.StorageClass{Parameters: tt.params})
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Fatalf("refusal %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVolumeRefusal(t *testing.T) {
	t.Parallel()
	policy := func(level config.PodSecurityLevel, hostPath bool) *isolationPolicy {
		p, err := newIsolationPolicy(config.Isolation{PodSecurity: level, AllowHostPath: hostPath})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hostPath := corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}
	local := corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disk"}}
	nfs := corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs.example.com", Path: "/export"}}
	csiSecret := corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: "h",
		NodePublishSecretRef: &corev1.SecretReference{Namespace: "kube-system", Name: "admin"}}}
	csi := corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: "h"}}
	rbd := corev1.PersistentVolumeSource{RBD: &corev1.RBDPersistentVolumeSource{CephMonitors: []string{"m"}, RBDImage: "i", SecretRef: &corev1.SecretReference{Name: "ceph"}}}
	tests := []struct {
		name   string
		policy *isolationPolicy
		src    corev1.PersistentVolumeSource
		want   string // substring; "" means accepted
	}{
		{"nfs", policy(config.PodSecurityBaseline, false), nfs, ""},
		{"csi without secrets", policy(config.PodSecurityBaseline, false), csi, ""},
		{"hostPath at baseline", policy(config.PodSecurityBaseline, false), hostPath, "hostPath or local"},
		{"local at baseline", policy(config.PodSecurityBaseline, false), local, "hostPath or local"},
		{"hostPath allowed", policy(config.PodSecurityBaseline, true), hostPath, ""},
		{"hostPath allowed but restricted", policy(config.PodSecurityRestricted, true), hostPath, "hostPath or local"},
		{"hostPath at privileged", policy(config.PodSecurityPrivileged, false), local, ""},
		{"csi naming a secret", policy(config.PodSecurityPrivileged, false), csiSecret, "spec.csi.nodePublishSecretRef names a secret"},
		{"rbd naming a secret", policy(config.PodSecurityBaseline, false), rbd, "spec.rbd.secretRef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Syncer{vc: "dev", isolation: tt.policy}
			got := s.volumeRefusal(&corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: tt.src}})
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Fatalf("refusal %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTranslatePV(t *testing.T) {
	t.Parallel()
	claimIndex := cache.NewIndexer(cache.MetaNamespaceKeyFunc, claimIndexers)
	for _, c := range []*corev1.PersistentVolumeClaim{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "b"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "named"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "a"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "named"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "gone", DeletionTimestamp: &metav1.Time{}}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "leaving"}},
	} {
		if err := claimIndex.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	s := syncerWith(kindPV)
	s.virtualPVCIndex = claimIndex
	pv := func(name string, claimRef *corev1.ObjectReference) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, UID: "u1", Labels: map[string]string{"disk": "1"}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}, ClaimRef: claimRef,
				AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeSource: corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "/x"}},
			},
		}
	}
	claimOf := func(v *corev1.PersistentVolume) string {
		ns, name, ok := s.volumeClaim(v)
		if !ok {
			return noClaim
		}
		return s.hostObjectName(ns, name)
	}
	tests := []struct {
		name      string
		pv        *corev1.PersistentVolume
		wantClaim string
	}{
		{"claimRef translated", pv("data", &corev1.ObjectReference{Namespace: "shop", Name: "db", UID: "virtual-uid"}), "db-x-shop-x-dev"},
		{"a claim naming it (the first by name)", pv("named", nil), "a-x-shop-x-dev"},
		{"a claim being deleted does not count", pv("leaving", nil), noClaim},
		{"no claim: pre-bound to none", pv("spare", nil), noClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hname := s.clusterHostName(tt.pv.Name)
			h := s.translatePV(tt.pv, hname, claimOf(tt.pv), "manual-x-dev")
			got := []any{h.Name, h.Namespace, h.Spec.ClaimRef.Namespace, h.Spec.ClaimRef.Name, string(h.Spec.ClaimRef.UID), h.Spec.StorageClassName,
				h.Labels["disk"], h.Labels["nest.dev/virtual-cluster"], s.ownsObject(h, "", tt.pv.Name), h.Spec.NFS.Server}
			want := []any{tt.pv.Name + "-x-dev", "", "nest-dev", tt.wantClaim, "", "manual-x-dev", "1", "dev", true, "nfs"}
			if !equality.Semantic.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			if tt.pv.Spec.ClaimRef != nil && tt.pv.Spec.ClaimRef.Namespace != "shop" {
				t.Fatal("the virtual volume was changed")
			}
		})
	}
}

func TestReclaimedOnHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		phase  corev1.PersistentVolumePhase
		policy corev1.PersistentVolumeReclaimPolicy
		want   bool
	}{
		{corev1.VolumeBound, corev1.PersistentVolumeReclaimDelete, true},
		{corev1.VolumeReleased, corev1.PersistentVolumeReclaimDelete, true},
		{corev1.VolumeReleased, corev1.PersistentVolumeReclaimRetain, false},
		{corev1.VolumeAvailable, corev1.PersistentVolumeReclaimDelete, false},
		{corev1.VolumePending, corev1.PersistentVolumeReclaimDelete, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.phase)+"/"+string(tt.policy), func(t *testing.T) {
			t.Parallel()
			v := &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeReclaimPolicy: tt.policy},
				Status: corev1.PersistentVolumeStatus{Phase: tt.phase}}
			if got := reclaimedOnHost(v); got != tt.want {
				t.Fatalf("reclaimed %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPriorityClassesUp(t *testing.T) {
	t.Parallel()
	hostClasses := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, pc := range []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "batch-low"}, Value: -10},
		{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000},
	} {
		if err := hostClasses.Add(pc); err != nil {
			t.Fatal(err)
		}
	}
	up := &Syncer{vc: "dev", rules: config.Sync{FromHost: map[string]config.FromHostSync{"priorityclasses": {Enabled: ptrTo(true)}}}}
	up.hostPriorityClassesUp = schedulinglisters.NewPriorityClassLister(hostClasses)
	tests := []struct {
		name, class, want string
		s                 *Syncer
	}{
		{"a host class keeps its name", "batch-low", "batch-low", up},
		{"a tenant's own class: the host's default", "mine", "", up},
		{"a system class stays the virtual cluster's", "system-node-critical", "", up},
		{"off: the host's default", "batch-low", "", syncerWith()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: tt.class, Priority: ptrTo(int32(-10))}}
			spec := v.Spec.DeepCopy()
			tt.s.translatePriority(v, spec)
			if spec.PriorityClassName != tt.want || spec.Priority != nil {
				t.Fatalf("class %q priority %v, want class %q and no priority", spec.PriorityClassName, spec.Priority, tt.want)
			}
		})
	}

	never := corev1.PreemptNever
	h := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "batch-low", UID: "host", ResourceVersion: "3", Labels: map[string]string{"team": "infra"}},
		Value: -10, GlobalDefault: true, Description: "for batch", PreemptionPolicy: &never}
	c := priorityClassCopy(h)
	if c.Name != "batch-low" || c.Value != -10 || c.GlobalDefault || c.Description != "for batch" || *c.PreemptionPolicy != never ||
		c.Labels["nest.dev/managed-by"] != "nest" || c.Labels["team"] != "infra" || c.UID != "" || c.ResourceVersion != "" || len(h.Labels) != 1 {
		t.Fatalf("copy %+v of %+v", c, h)
	}
}

// TestClaimWaitsForItsClass: with storage classes (volumes) synced down, a
// claim goes to the host only once the tenant's class (volume) exists and
// its host copy is Nest's, named by that copy; a class that is not synced
// (the kind off) is the host's, named as it is, and never waited for.
func TestClaimWaitsForItsClass(t *testing.T) {
	t.Parallel()
	indexer := func(objs ...metav1.Object) cache.Indexer {
		ix := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
		for _, o := range objs {
			if err := ix.Add(o); err != nil {
				t.Fatal(err)
			}
		}
		return ix
	}
	owner := syncerWith(kindStorageClass, kindPV)
	copyOfClass := func(name string) *storagev1.StorageClass {
		v := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "u-" + types.UID(name)}}
		return owner.translateStorageClass(v, owner.clusterHostName(name))
	}
	copyOfVolume := func(name string) *corev1.PersistentVolume {
		v := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name, UID: "u-" + types.UID(name)}}
		return owner.translatePV(v, owner.clusterHostName(name), noClaim, "")
	}
	with := func(s *Syncer) *Syncer {
		s.tenantStorageClasses = storagelisters.NewStorageClassLister(indexer(
			&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}},
			&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "slow"}},
			&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "taken"}}))
		s.hostStorageClassCopies = storagelisters.NewStorageClassLister(indexer(
			copyOfClass("fast"),
			&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "taken-x-dev"}})) // a host admin's
		s.hostPVs = corelisters.NewPersistentVolumeLister(indexer(
			copyOfVolume("disk1"),
			&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "held-x-dev"}}))
		return s
	}
	tests := []struct {
		name             string
		s                *Syncer
		class, volume    string
		wantClass        string
		wantVolume       string
		wantWait         string // substring; "" means the claim goes now
		tenantHasNoClass bool   // the claim came before its class (the cache and the apiserver miss it)
	}{
		{"classes not synced: a host class, as named", with(syncerWith()), "standard", "", "standard", "", "", false},
		{"no class: the host's default", with(syncerWith(kindStorageClass)), "", "", "", "", "", false},
		{"the tenant's class and its copy: named by the copy", with(syncerWith(kindStorageClass)), "fast", "", "fast-x-dev", "", "", false},
		{"class before its host copy", with(syncerWith(kindStorageClass)), "slow", "", "slow-x-dev", "", `host copy slow-x-dev is not made yet`, false},
		{"claim before its class", with(syncerWith(kindStorageClass)), "later", "", "later-x-dev", "", `the virtual cluster has no such class yet`, true},
		{"a host class of the translated name, not Nest's", with(syncerWith(kindStorageClass)), "taken", "", "taken-x-dev", "", `taken-x-dev exists and is not managed by Nest`, false},
		{"volumes not synced: volumeName dropped", with(syncerWith(kindStorageClass)), "fast", "disk1", "fast-x-dev", "", "", false},
		{"the tenant's volume and its copy", with(syncerWith(kindStorageClass, kindPV)), "fast", "disk1", "fast-x-dev", "disk1-x-dev", "", false},
		{"volume before its host copy", with(syncerWith(kindStorageClass, kindPV)), "fast", "disk9", "fast-x-dev", "disk9-x-dev", `persistent volume "disk9": its host copy disk9-x-dev is not made yet`, false},
		{"a host volume of the translated name, not Nest's", with(syncerWith(kindStorageClass, kindPV)), "fast", "held", "fast-x-dev", "held-x-dev", `held-x-dev exists and is not managed by Nest`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var class string
			var classWait string
			if tt.tenantHasNoClass {
				// hostClassName would ask the apiserver (test/e2e covers it).
				class, classWait = tt.s.clusterHostName(tt.class), tt.s.classWait(tt.class, false, nil)
			} else {
				var err error
				if class, classWait, err = tt.s.hostClassName(t.Context(), tt.class); err != nil {
					t.Fatal(err)
				}
			}
			volume, volumeWait, err := tt.s.hostVolumeName(t.Context(), tt.volume)
			if err != nil {
				t.Fatal(err)
			}
			wait := classWait + volumeWait
			if class != tt.wantClass || volume != tt.wantVolume {
				t.Errorf("host class %q volume %q, want %q %q", class, volume, tt.wantClass, tt.wantVolume)
			}
			if tt.wantWait == "" && wait != "" || !strings.Contains(wait, tt.wantWait) {
				t.Errorf("wait %q, want %q", wait, tt.wantWait)
			}
		})
	}
}

// TestStorageCopiesTenantAnnotations checks the tenant's annotations on
// the host copies of classes and volumes: kept, but for Nest's own, the
// default-class ones and the host volume controllers' and provisioners';
// an update replaces the tenant's part and keeps what the host wrote.
func TestStorageCopiesTenantAnnotations(t *testing.T) {
	t.Parallel()
	tenant := map[string]string{
		"team":                 "db",
		"example.com/backup":   "daily",
		"nest.dev/virtual-uid": "forged",
		"storageclass.kubernetes.io/is-default-class":           "true",
		"storageclass.beta.kubernetes.io/is-default-class":      "true",
		"pv.kubernetes.io/provisioned-by":                       "csi.example.com",
		"pv.kubernetes.io/bound-by-controller":                  "yes",
		"volume.kubernetes.io/provisioner-deletion-secret-name": "host-admin",
		"volume.beta.kubernetes.io/storage-class":               "host-gold",
	}
	s := syncerWith(kindStorageClass, kindPV)
	class := s.translateStorageClass(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast", UID: "u1", Annotations: tenant}, Provisioner: "csi.example.com"}, "fast-x-dev")
	volume := s.translatePV(&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "data", UID: "u2", Annotations: tenant}}, "data-x-dev", noClaim, "")
	hostWritten := map[string]string{"pv.kubernetes.io/bound-by-controller": "yes", "nest.dev/virtual-uid": "u2", "team": "db", "old": "gone"}
	updated := withTenantAnnotations(hostWritten, map[string]string{"nest.dev/virtual-uid": "u2", "team": "web"}, droppedVolumeAnnotation)
	tests := []struct {
		name      string
		got, want any
	}{
		{"class: tenant's kept", class.Annotations["team"] + "," + class.Annotations["example.com/backup"], "db,daily"},
		{"class: origin is Nest's, not forged", class.Annotations["nest.dev/virtual-uid"], "u1"},
		{"class: never the host's default", class.Annotations["storageclass.kubernetes.io/is-default-class"] + class.Annotations["storageclass.beta.kubernetes.io/is-default-class"], ""},
		{"class: other kubernetes.io keys are the tenant's", class.Annotations["pv.kubernetes.io/provisioned-by"], "csi.example.com"},
		{"volume: tenant's kept", volume.Annotations["team"] + "," + volume.Annotations["example.com/backup"], "db,daily"},
		{"volume: origin is Nest's, not forged", volume.Annotations["nest.dev/virtual-uid"], "u2"},
		{"volume: no provisioner or binding of the tenant's", volume.Annotations["pv.kubernetes.io/provisioned-by"] + volume.Annotations["pv.kubernetes.io/bound-by-controller"], ""},
		{"volume: no deletion secret", volume.Annotations["volume.kubernetes.io/provisioner-deletion-secret-name"], ""},
		{"volume: no legacy class", volume.Annotations["volume.beta.kubernetes.io/storage-class"], ""},
		{"update: the tenant's part replaced, the host's kept", updated, map[string]string{"pv.kubernetes.io/bound-by-controller": "yes", "nest.dev/virtual-uid": "u2", "team": "web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !equality.Semantic.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}
