package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/chartrelease"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/operator"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// TestOperatorPodRuntime: a VirtualCluster of runtime pod goes Ready
// through the operator. The operator installs the nest chart as a Helm
// release in the cluster's host namespace (with the operator's chart
// values: no volume, the local host has no provisioner); KWOK simulates
// its pod and the test's pod runner runs the pod's command, whose
// published kubeconfig the operator copies into the VirtualCluster's
// Secret, which works. Deleting the VirtualCluster uninstalls the release
// and removes the host namespace.
func TestOperatorPodRuntime(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-pod")
	oe.chartValues = map[string]any{"persistence": map[string]any{"enabled": false}}
	oe.start(t, "a", true)
	ctx := context.Background()
	if err := oe.apply(ctx, "metadata: {name: web}\nspec: {runtime: pod}"); err != nil {
		t.Fatal(err)
	}
	cluster := operator.ClusterName("op-pod", "web")
	hostNS, full := names.HostNamespace(cluster), cluster+"-nest"
	testenv.Eventually(t, 3*time.Minute, "the release's pod", func() (bool, error) {
		pod, err := oe.env.Client.CoreV1().Pods(hostNS).Get(ctx, full+"-0", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pod.Status.Phase == corev1.PodRunning, fmt.Errorf("phase %s", pod.Status.Phase)
	})
	runChartPod(t, oe.env, hostNS, full+"-0")
	vc := oe.waitPhase(t, "web", v1alpha1.PhaseReady)
	if want := "https://" + full + "." + hostNS + ".svc:443"; vc.Status.Endpoint != want || vc.Spec.Runtime != "pod" {
		t.Errorf("runtime %q, endpoint %q; want pod at %s", vc.Spec.Runtime, vc.Status.Endpoint, want)
	}
	if ok, err := chartrelease.Exists(oe.env.Kubeconfig, hostNS, cluster, slog.New(slog.DiscardHandler)); !ok || err != nil {
		t.Fatalf("helm release %s in %s: %v, %v", cluster, hostNS, ok, err)
	}
	ref := vc.Status.KubeconfigSecretRef
	if ref == nil {
		t.Fatal("no kubeconfigSecretRef")
	}
	secret, err := oe.env.Client.CoreV1().Secrets("op-pod").Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restCfg, err := clientcmd.RESTConfigFromKubeConfig(secret.Data[ref.Key])
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("the kubeconfig of the Secret does not work: %v", err)
	}

	if err := oe.dyn.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "the VirtualCluster to go", func() (bool, error) {
		_, err := oe.get(ctx, "web")
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if ok, err := chartrelease.Exists(oe.env.Kubeconfig, hostNS, cluster, slog.New(slog.DiscardHandler)); ok || err != nil {
		t.Errorf("helm release after delete: %v, %v; want gone", ok, err)
	}
	if _, err := oe.env.Client.CoreV1().Namespaces().Get(ctx, hostNS, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("host namespace %s after delete: %v, want NotFound", hostNS, err)
	}
	if _, err := oe.env.Client.CoreV1().Secrets("op-pod").Get(ctx, ref.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kubeconfig Secret after delete: %v, want NotFound", err)
	}
}
