package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/operator"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// TestOperatorChartClusterGrants: with the nest-operator chart's
// clusterGrants [fromHost.nodes], the operator, holding only its service
// account's token, makes a VirtualCluster of runtime pod whose config shows
// every host node: the nest chart's ClusterRole and binding for the node
// reads are created by the operator (RBAC's escalation check passes
// because it holds those reads itself), the virtual cluster shows every
// host node, and deleting the VirtualCluster removes the ClusterRole. The
// token still may not write nodes or make persistent volumes.
func TestOperatorChartClusterGrants(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-grants")
	ctx := context.Background()
	tokenClient := installOperatorChart(t, oe, "ops-grants", map[string]any{"clusterGrants": []any{"fromHost.nodes"}})
	assertOperatorAccess(t, oe, tokenClient, []operatorAccess{
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "create"}, true},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", Verb: "create"}, true},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "escalate"}, false},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "bind"}, false},
		{authorizationv1.ResourceAttributes{Resource: "nodes", Verb: "watch"}, true}, // list it may without the grant: the namespace check lists every kind
		{authorizationv1.ResourceAttributes{Resource: "nodes", Verb: "delete"}, false},
		{authorizationv1.ResourceAttributes{Resource: "persistentvolumes", Verb: "create"}, false},
		{authorizationv1.ResourceAttributes{Group: "storage.k8s.io", Resource: "storageclasses", Verb: "watch"}, false},
	})
	oe.start(t, "in-cluster", true)

	hostNodes, err := oe.env.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := oe.apply(ctx, "metadata: {name: nodes}\nspec:\n  runtime: pod\n  config: {sync: {fromHost: {nodes: {enabled: true, all: true}}}}"); err != nil {
		t.Fatal(err)
	}
	cluster := operator.ClusterName(oe.namespace, "nodes")
	hostNS, full := names.HostNamespace(cluster), cluster+"-nest"
	role := full + "-" + hostNS
	testenv.Eventually(t, 3*time.Minute, "the release's pod", func() (bool, error) {
		pod, err := oe.env.Client.CoreV1().Pods(hostNS).Get(ctx, full+"-0", metav1.GetOptions{})
		if err != nil {
			if vc, gerr := oe.get(ctx, "nodes"); gerr == nil {
				return false, fmt.Errorf("%w (VirtualCluster: phase %s, conditions %v)", err, vc.Status.Phase, vc.Status.Conditions)
			}
			return false, err
		}
		return pod.Status.Phase == corev1.PodRunning, fmt.Errorf("phase %s", pod.Status.Phase)
	})
	if _, err := oe.env.Client.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{}); err != nil {
		t.Fatalf("the nest chart's ClusterRole for the node reads: %v", err)
	}
	if _, err := oe.env.Client.RbacV1().ClusterRoleBindings().Get(ctx, role, metav1.GetOptions{}); err != nil {
		t.Fatalf("the nest chart's ClusterRoleBinding for the node reads: %v", err)
	}
	runChartPod(t, oe.env, hostNS, full+"-0")
	vc := oe.waitPhase(t, "nodes", v1alpha1.PhaseReady)
	ref := vc.Status.KubeconfigSecretRef
	if ref == nil {
		t.Fatal("no kubeconfigSecretRef")
	}
	secret, err := oe.env.Client.CoreV1().Secrets(oe.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
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
	testenv.Eventually(t, 2*time.Minute, "every host node in the virtual cluster", func() (bool, error) {
		nodes, err := tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(nodes.Items) == len(hostNodes.Items), fmt.Errorf("%d virtual nodes, %d host nodes", len(nodes.Items), len(hostNodes.Items))
	})

	oe.deletePodCluster(t, "nodes", ref.Name)
	if _, err := oe.env.Client.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the nest chart's ClusterRole after the VirtualCluster's deletion: %v, want NotFound", err)
	}
}
