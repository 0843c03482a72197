package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// waitForWarning waits for an event of reason (Warning, or Normal for the
// syncer's pending notes) on the virtual object name (cluster-scoped
// objects' events are in default).
func waitForWarning(t *testing.T, client kubernetes.Interface, name, reason string) {
	t.Helper()
	testenv.Eventually(t, time.Minute, "a "+reason+" warning on "+name, func() (bool, error) {
		evs, err := client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{FieldSelector: "reason=" + reason + ",involvedObject.name=" + name})
		return err == nil && len(evs.Items) > 0, err
	})
}

// TestSyncerStorageDown: with storage classes and persistent volumes synced
// down, a tenant's class and volumes reach the host under names of this
// cluster (never the host's default class), claims name them, the host
// binds a volume to the claim its claimRef names and to the claim naming it
// by volumeName, and the binding and phases come back up. A claim made
// before its class waits (no host claim) and then names the class's copy. Host objects of
// the translated names that Nest did not make are left alone (a warning
// event, no claim using them). Deleting the cluster removes the grant and
// the copies.
func TestSyncerStorageDown(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	// A host admin's class and volume that happen to have translated names.
	foreignSC := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "taken-x-stor"}, Provisioner: "example.com/admin"}
	foreignPV := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "held-x-stor"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:       "stor-admin",
			PersistentVolumeSource: corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "admin.example.com", Path: "/secret"}},
			ClaimRef:               &corev1.ObjectReference{Namespace: "admin", Name: "reserved"},
		},
	}
	if _, err := env.Client.StorageV1().StorageClasses().Create(ctx, foreignSC, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().PersistentVolumes().Create(ctx, foreignPV, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.StorageV1().StorageClasses().Delete(context.Background(), foreignSC.Name, metav1.DeleteOptions{})
		_ = env.Client.CoreV1().PersistentVolumes().Delete(context.Background(), foreignPV.Name, metav1.DeleteOptions{})
	})

	cfg := config.Default()
	on := true
	cfg.Sync.ToHost["storageclasses"] = config.ToHostSync{Enabled: &on}
	cfg.Sync.ToHost["persistentvolumes"] = config.ToHostSync{Enabled: &on}
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	vc, client := env.VirtualCluster(t, "stor", lifecycle.CreateOptions{Config: cfg})
	role, err := env.Client.RbacV1().ClusterRoles().Get(ctx, hostaccess.ClusterName(vc.HostNamespace), metav1.GetOptions{})
	if err != nil || len(role.Rules) != 2 {
		t.Fatalf("the cluster-scoped grant (storage classes and volumes): %v %+v", err, role)
	}

	fast := "fast"
	create := func(what string, f func() error) {
		t.Helper()
		testenv.Eventually(t, time.Minute, what+" created", func() (bool, error) {
			err := f()
			return err == nil || apierrors.IsAlreadyExists(err), err
		})
	}
	pv := func(name string, claimRef *corev1.ObjectReference) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"disk": name}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName:              fast,
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource:        corev1.PersistentVolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs.example.com", Path: "/" + name}},
				ClaimRef:                      claimRef,
			},
		}
	}
	claim := func(name, class, volume string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: &class, VolumeName: volume,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
	}
	create("the class", func() error {
		_, err := client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
			ObjectMeta:  metav1.ObjectMeta{Name: fast, Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
			Provisioner: "example.com/none", Parameters: map[string]string{"tier": "gold"},
		}, metav1.CreateOptions{})
		return err
	})
	create("volume disk1 (claimRef default/data)", func() error {
		_, err := client.CoreV1().PersistentVolumes().Create(ctx, pv("disk1", &corev1.ObjectReference{Namespace: "default", Name: "data"}), metav1.CreateOptions{})
		return err
	})
	create("volume disk2", func() error {
		_, err := client.CoreV1().PersistentVolumes().Create(ctx, pv("disk2", nil), metav1.CreateOptions{})
		return err
	})
	for _, c := range []*corev1.PersistentVolumeClaim{claim("data", fast, ""), claim("data2", fast, "disk2")} {
		create("claim "+c.Name, func() error {
			_, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, c, metav1.CreateOptions{})
			return err
		})
	}

	t.Run("the class on the host, never its default", func(t *testing.T) {
		testenv.Eventually(t, time.Minute, "host class fast-x-stor", func() (bool, error) {
			h, err := env.Client.StorageV1().StorageClasses().Get(ctx, "fast-x-stor", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return h.Provisioner == "example.com/none" && h.Parameters["tier"] == "gold" && h.Labels["nest.dev/virtual-cluster"] == "stor" &&
				h.Annotations["storageclass.kubernetes.io/is-default-class"] == "", fmt.Errorf("host class %+v", h)
		})
	})

	t.Run("volumes bound on the host, binding and phase up", func(t *testing.T) {
		testenv.Eventually(t, 2*time.Minute, "both claims and volumes Bound on both sides", func() (bool, error) {
			for _, c := range []struct{ claim, volume, hostClaim, hostVolume string }{
				{"data", "disk1", "data-x-default-x-stor", "disk1-x-stor"},
				{"data2", "disk2", "data2-x-default-x-stor", "disk2-x-stor"},
			} {
				hc, err := env.Client.CoreV1().PersistentVolumeClaims(vc.HostNamespace).Get(ctx, c.hostClaim, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				if hc.Spec.StorageClassName == nil || *hc.Spec.StorageClassName != "fast-x-stor" || hc.Spec.VolumeName != c.hostVolume || hc.Status.Phase != corev1.ClaimBound {
					return false, fmt.Errorf("host claim %s: class %v volume %q phase %s", c.hostClaim, hc.Spec.StorageClassName, hc.Spec.VolumeName, hc.Status.Phase)
				}
				hv, err := env.Client.CoreV1().PersistentVolumes().Get(ctx, c.hostVolume, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				if hv.Spec.StorageClassName != "fast-x-stor" || hv.Labels["disk"] != c.volume || hv.Spec.ClaimRef == nil || hv.Spec.ClaimRef.Namespace != vc.HostNamespace {
					return false, fmt.Errorf("host volume %s: %+v", c.hostVolume, hv.Spec)
				}
				vcl, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, c.claim, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				if vcl.Status.Phase != corev1.ClaimBound || vcl.Spec.VolumeName != c.volume {
					return false, fmt.Errorf("virtual claim %s: phase %s volume %q", c.claim, vcl.Status.Phase, vcl.Spec.VolumeName)
				}
				vv, err := client.CoreV1().PersistentVolumes().Get(ctx, c.volume, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				if vv.Status.Phase != corev1.VolumeBound || vv.Spec.ClaimRef == nil || vv.Spec.ClaimRef.Namespace != "default" || vv.Spec.ClaimRef.Name != c.claim {
					return false, fmt.Errorf("virtual volume %s: phase %s claim %+v", c.volume, vv.Status.Phase, vv.Spec.ClaimRef)
				}
			}
			return true, nil
		})
	})

	t.Run("host objects not Nest's are left alone", func(t *testing.T) {
		create("class taken", func() error {
			_, err := client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "taken"}, Provisioner: "example.com/tenant"}, metav1.CreateOptions{})
			return err
		})
		create("volume held", func() error {
			_, err := client.CoreV1().PersistentVolumes().Create(ctx, pv("held", nil), metav1.CreateOptions{})
			return err
		})
		create("claim on held", func() error {
			_, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim("grab", fast, "held"), metav1.CreateOptions{})
			return err
		})
		create("claim of class taken", func() error {
			_, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim("grab2", "taken", ""), metav1.CreateOptions{})
			return err
		})
		waitForWarning(t, client, "taken", "HostNameTaken")
		waitForWarning(t, client, "held", "HostNameTaken")
		sc, err := env.Client.StorageV1().StorageClasses().Get(ctx, "taken-x-stor", metav1.GetOptions{})
		if err != nil || sc.Provisioner != "example.com/admin" || len(sc.Labels) != 0 {
			t.Fatalf("the host admin's class was touched: %v %+v", err, sc)
		}
		hv, err := env.Client.CoreV1().PersistentVolumes().Get(ctx, "held-x-stor", metav1.GetOptions{})
		if err != nil || hv.Spec.NFS.Server != "admin.example.com" || len(hv.Labels) != 0 || hv.Spec.ClaimRef == nil || hv.Spec.ClaimRef.Name != "reserved" {
			t.Fatalf("the host admin's volume was touched or bound: %v %+v", err, hv)
		}
		for _, name := range []string{"grab-x-default-x-stor", "grab2-x-default-x-stor"} {
			if _, err := env.Client.CoreV1().PersistentVolumeClaims(vc.HostNamespace).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("host claim %s using a host object not Nest's: %v", name, err)
			}
		}
	})

	t.Run("a claim made before its class waits for it, then names its copy", func(t *testing.T) {
		create("claim early of class later (not made yet)", func() error {
			_, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim("early", "later", ""), metav1.CreateOptions{})
			return err
		})
		waitForWarning(t, client, "early", "WaitingForHostCopy") // a Normal event: the syncer saw the claim
		if _, err := env.Client.CoreV1().PersistentVolumeClaims(vc.HostNamespace).Get(ctx, "early-x-default-x-stor", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("host claim made before its class: %v", err)
		}
		create("class later", func() error {
			_, err := client.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "later"}, Provisioner: "example.com/none"}, metav1.CreateOptions{})
			return err
		})
		testenv.Eventually(t, time.Minute, "host claim early naming later-x-stor", func() (bool, error) {
			hc, err := env.Client.CoreV1().PersistentVolumeClaims(vc.HostNamespace).Get(ctx, "early-x-default-x-stor", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if hc.Spec.StorageClassName == nil || *hc.Spec.StorageClassName != "later-x-stor" {
				t.Fatalf("host claim names class %v, want later-x-stor", hc.Spec.StorageClassName)
			}
			return true, nil
		})
	})

	t.Run("a deleted volume goes from the host", func(t *testing.T) {
		if err := client.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "data2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := client.CoreV1().PersistentVolumes().Delete(ctx, "disk2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 2*time.Minute, "host volume disk2-x-stor gone", func() (bool, error) {
			_, err := env.Client.CoreV1().PersistentVolumes().Get(ctx, "disk2-x-stor", metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	})

	t.Run("delete removes the grant and the copies", func(t *testing.T) {
		if err := p.Delete(ctx, "stor"); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Client.RbacV1().ClusterRoles().Get(ctx, hostaccess.ClusterName(vc.HostNamespace), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("cluster role after delete: %v", err)
		}
		if _, err := env.Client.StorageV1().StorageClasses().Get(ctx, "fast-x-stor", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("host class after delete: %v", err)
		}
		testenv.Eventually(t, 2*time.Minute, "host volume disk1-x-stor gone", func() (bool, error) {
			_, err := env.Client.CoreV1().PersistentVolumes().Get(ctx, "disk1-x-stor", metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
		if _, err := env.Client.StorageV1().StorageClasses().Get(ctx, "taken-x-stor", metav1.GetOptions{}); err != nil {
			t.Errorf("the host admin's class: %v", err)
		}
		if _, err := env.Client.CoreV1().PersistentVolumes().Get(ctx, "held-x-stor", metav1.GetOptions{}); err != nil {
			t.Errorf("the host admin's volume: %v", err)
		}
	})
}

// TestSyncerPriorityClassesUp: with priority classes read from the host,
// the host's classes show in the virtual cluster read-only (a tenant's
// delete is reverted), a pod naming one is admitted and its host copy runs
// under the host class, the grant is read-only, and the copy goes with the
// host's class.
func TestSyncerPriorityClassesUp(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	hostPC := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pcup-batch"}, Value: 500, Description: "the host's batch tier"}
	if _, err := env.Client.SchedulingV1().PriorityClasses().Create(ctx, hostPC, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.SchedulingV1().PriorityClasses().Delete(context.Background(), hostPC.Name, metav1.DeleteOptions{})
	})
	cfg := config.Default()
	on := true
	cfg.Sync.FromHost["priorityclasses"] = config.FromHostSync{Enabled: &on}
	vc, client := env.VirtualCluster(t, "pcup", lifecycle.CreateOptions{Config: cfg})
	role, err := env.Client.RbacV1().ClusterRoles().Get(ctx, hostaccess.ClusterName(vc.HostNamespace), metav1.GetOptions{})
	if err != nil || len(role.Rules) != 1 || len(role.Rules[0].Verbs) != 3 {
		t.Fatalf("the read-only grant on priority classes: %v %+v", err, role)
	}
	copied := func(what string) {
		t.Helper()
		testenv.Eventually(t, time.Minute, what, func() (bool, error) {
			pc, err := client.SchedulingV1().PriorityClasses().Get(ctx, "pcup-batch", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return pc.Value == 500 && pc.Description == "the host's batch tier" && pc.Labels["nest.dev/managed-by"] == "nest", fmt.Errorf("copy %+v", pc)
		})
	}
	copied("the host's class copied up")
	if err := client.SchedulingV1().PriorityClasses().Delete(ctx, "pcup-batch", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	copied("the tenant's delete reverted")
	testenv.Eventually(t, time.Minute, "a pod of the host's class admitted", func() (bool, error) {
		_, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "batch"},
			Spec:       corev1.PodSpec{PriorityClassName: "pcup-batch", Containers: []corev1.Container{{Name: "main", Image: "batch:1"}}},
		}, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err), err
	})
	testenv.Eventually(t, 2*time.Minute, "the host pod under the host's class", func() (bool, error) {
		h, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, "batch-x-default-x-pcup", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return h.Spec.PriorityClassName == "pcup-batch" && h.Spec.Priority != nil && *h.Spec.Priority == 500,
			fmt.Errorf("class %q priority %v", h.Spec.PriorityClassName, h.Spec.Priority)
	})
	if err := env.Client.SchedulingV1().PriorityClasses().Delete(ctx, "pcup-batch", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the copy gone with the host's class", func() (bool, error) {
		_, err := client.SchedulingV1().PriorityClasses().Get(ctx, "pcup-batch", metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}
