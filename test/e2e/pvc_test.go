package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerClaims: a claim made in the virtual cluster is made on the host,
// bound there by the host (here to a volume the test provides, as a storage
// admin would), its Bound status comes up, and deleting it removes the copy.
func TestSyncerClaims(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "claims", lifecycle.CreateOptions{})
	ctx := context.Background()
	const hostName = "data-x-default-x-claims"
	manual := "manual-claims"
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: map[string]string{"app": "db"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &manual,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the claim on the host", func() (bool, error) {
		h, err := env.Client.CoreV1().PersistentVolumeClaims(vc.HostNamespace).Get(ctx, hostName, metav1.GetOptions{})
		return err == nil && h.Labels["app"] == "db", err
	})
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-for-" + vc.HostNamespace},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:              manual,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/nowhere"}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpExists}},
			}}}},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: vc.HostNamespace, Name: hostName},
		},
	}
	if _, err := env.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
	testenv.Eventually(t, 2*time.Minute, "the virtual claim Bound with the host volume's capacity", func() (bool, error) {
		v, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got := v.Status.Capacity[corev1.ResourceStorage]
		return v.Status.Phase == corev1.ClaimBound && got.String() == "2Gi", fmt.Errorf("phase %s, capacity %s", v.Status.Phase, got.String())
	})
	if err := client.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the claim gone on both sides", func() (bool, error) {
		_, verr := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		_, herr := env.Client.CoreV1().PersistentVolumeClaims(vc.HostNamespace).Get(ctx, hostName, metav1.GetOptions{})
		return apierrors.IsNotFound(verr) && apierrors.IsNotFound(herr), fmt.Errorf("virtual: %v, host: %v", verr, herr)
	})
}
