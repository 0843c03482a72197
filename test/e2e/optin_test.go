package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerOptInKinds: with priority classes and service accounts synced
// down and storage and ingress classes read from the host, a pod of a
// tenant's class and account runs on the host under their host copies, the
// host's classes show in the virtual cluster read-only (edits and deletes
// reverted), the cluster-scoped grant exists only for this, and deleting
// the cluster removes the grant and the copied priority class.
func TestSyncerOptInKinds(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	// The host's classes, as an admin of the host made them.
	hostSC := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "optin-fast", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "false"}},
		Provisioner: "csi.example.com", Parameters: map[string]string{"type": "ssd"}}
	hostIC := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "optin-nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "example.com/ingress"}}
	if _, err := env.Client.StorageV1().StorageClasses().Create(ctx, hostSC, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.NetworkingV1().IngressClasses().Create(ctx, hostIC, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.StorageV1().StorageClasses().Delete(context.Background(), hostSC.Name, metav1.DeleteOptions{})
		_ = env.Client.NetworkingV1().IngressClasses().Delete(context.Background(), hostIC.Name, metav1.DeleteOptions{})
	})

	cfg := config.Default()
	on := true
	cfg.Sync.ToHost["priorityclasses"] = config.ToHostSync{Enabled: &on}
	cfg.Sync.ToHost["serviceaccounts"] = config.ToHostSync{Enabled: &on}
	cfg.Sync.FromHost["storageclasses"] = config.FromHostSync{Enabled: &on}
	cfg.Sync.FromHost["ingressclasses"] = config.FromHostSync{Enabled: &on}
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	vc, client := env.VirtualCluster(t, "optin", lifecycle.CreateOptions{Config: cfg})

	role, err := env.Client.RbacV1().ClusterRoles().Get(ctx, hostaccess.ClusterName(vc.HostNamespace), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the cluster-scoped grant: %v", err)
	}
	if len(role.Rules) != 3 {
		t.Fatalf("cluster role rules %v, want priority classes, storage classes and ingress classes", role.Rules)
	}

	if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{
		ObjectMeta: metav1.ObjectMeta{Name: "gold"}, Value: 1000, GlobalDefault: true,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "builder", Annotations: map[string]string{"example.com/role": "builder"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the pod created", func() (bool, error) {
		_, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "job"},
			Spec: corev1.PodSpec{PriorityClassName: "gold", ServiceAccountName: "builder",
				Containers: []corev1.Container{{Name: "main", Image: "job:1"}}},
		}, metav1.CreateOptions{})
		return err == nil || apierrors.IsAlreadyExists(err), err
	})
	testenv.Eventually(t, 2*time.Minute, "the host pod with the host copies of its class and account", func() (bool, error) {
		h, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, "job-x-default-x-optin", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if h.Spec.PriorityClassName != "gold-x-optin" || h.Spec.Priority == nil || *h.Spec.Priority != 1000 || h.Spec.ServiceAccountName != "builder-x-default-x-optin" {
			return false, fmt.Errorf("class %q priority %v account %q", h.Spec.PriorityClassName, h.Spec.Priority, h.Spec.ServiceAccountName)
		}
		return true, nil
	})
	pc, err := env.Client.SchedulingV1().PriorityClasses().Get(ctx, "gold-x-optin", metav1.GetOptions{})
	if err != nil || pc.GlobalDefault || pc.Labels["nest.dev/virtual-cluster"] != "optin" {
		t.Fatalf("host priority class: %v %+v", err, pc)
	}
	sa, err := env.Client.CoreV1().ServiceAccounts(vc.HostNamespace).Get(ctx, "builder-x-default-x-optin", metav1.GetOptions{})
	if err != nil || sa.Annotations["example.com/role"] != "builder" || sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
		t.Fatalf("host service account: %v %+v", err, sa)
	}

	t.Run("host classes in the virtual cluster, read-only", func(t *testing.T) {
		testenv.Eventually(t, time.Minute, "the host's classes copied up", func() (bool, error) {
			sc, err := client.StorageV1().StorageClasses().Get(ctx, "optin-fast", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			ic, err := client.NetworkingV1().IngressClasses().Get(ctx, "optin-nginx", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return sc.Provisioner == "csi.example.com" && sc.Parameters["type"] == "ssd" && ic.Spec.Controller == "example.com/ingress", nil
		})
		patch := `{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}`
		if _, err := client.StorageV1().StorageClasses().Patch(ctx, "optin-fast", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := client.NetworkingV1().IngressClasses().Delete(ctx, "optin-nginx", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "the tenant's edit and delete reverted", func() (bool, error) {
			sc, err := client.StorageV1().StorageClasses().Get(ctx, "optin-fast", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if _, err := client.NetworkingV1().IngressClasses().Get(ctx, "optin-nginx", metav1.GetOptions{}); err != nil {
				return false, err
			}
			return sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "false", fmt.Errorf("annotations %v", sc.Annotations)
		})
		if err := env.Client.StorageV1().StorageClasses().Delete(ctx, "optin-fast", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "the copy gone with the host's class", func() (bool, error) {
			_, err := client.StorageV1().StorageClasses().Get(ctx, "optin-fast", metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	})

	t.Run("delete removes the grant and the copied class", func(t *testing.T) {
		if err := p.Delete(ctx, "optin"); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Client.RbacV1().ClusterRoles().Get(ctx, hostaccess.ClusterName(vc.HostNamespace), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("cluster role after delete: %v", err)
		}
		if _, err := env.Client.RbacV1().ClusterRoleBindings().Get(ctx, hostaccess.ClusterName(vc.HostNamespace), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("cluster role binding after delete: %v", err)
		}
		if _, err := env.Client.SchedulingV1().PriorityClasses().Get(ctx, "gold-x-optin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("host priority class after delete: %v", err)
		}
	})
}
