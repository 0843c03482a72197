package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
)

// TestSyncerPolicies: with network policies and disruption budgets turned
// on, both reach the host with selectors that match exactly the tenant's
// pods (the host's disruption controller counts them), a namespace
// selector follows the virtual namespaces' labels, and a selector on
// Nest's labels is refused with a warning.
func TestSyncerPolicies(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	cfg := config.Default()
	for _, kind := range []string{"networkpolicies", "poddisruptionbudgets"} {
		cfg.Sync.ToHost[kind] = config.ToHostSync{Enabled: ptr.To(true)}
	}
	vc, client := env.VirtualCluster(t, "policed", lifecycle.CreateOptions{Config: cfg})
	for _, ns := range []string{"shop", "pay"} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	d := deployment("web", 3)
	if _, err := client.AppsV1().Deployments("shop").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		},
	}
	if _, err := client.PolicyV1().PodDisruptionBudgets("shop").Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "the host's disruption controller to count the 3 tenant pods", func() (bool, error) {
		h, err := env.Client.PolicyV1().PodDisruptionBudgets(vc.HostNamespace).Get(ctx, names.HostNameWithLimit(253, vc.Name, "shop", "web"), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return h.Status.ExpectedPods == 3 && h.Status.CurrentHealthy == 3, fmt.Errorf("expected %d, healthy %d", h.Status.ExpectedPods, h.Status.CurrentHealthy)
	})

	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "from-team-a"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}},
			}}}},
		},
	}
	if _, err := client.NetworkingV1().NetworkPolicies("shop").Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostPolicy := names.HostNameWithLimit(253, vc.Name, "shop", "from-team-a")
	peerNamespaces := func() (string, error) {
		h, err := env.Client.NetworkingV1().NetworkPolicies(vc.HostNamespace).Get(ctx, hostPolicy, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		sel := h.Spec.Ingress[0].From[0].PodSelector
		if v, ok := sel.MatchLabels[names.LabelVirtualNamespace]; ok {
			return "none:" + v, nil
		}
		return strings.Join(sel.MatchExpressions[0].Values, ","), nil
	}
	testenv.Eventually(t, time.Minute, "the host policy, matching no namespace yet", func() (bool, error) {
		got, err := peerNamespaces()
		return got == "none:", fmt.Errorf("peers %q: %v", got, err)
	})
	for _, ns := range []string{"shop", "pay"} {
		n, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Labels["team"] = "a"
		if _, err := client.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, time.Minute, "the host policy to follow the namespace labels", func() (bool, error) {
		got, err := peerNamespaces()
		return got == "pay,shop", fmt.Errorf("peers %q: %v", got, err)
	})

	forged := np.DeepCopy()
	forged.Name = "forged"
	forged.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{names.LabelVirtualCluster: "someone-else"}}
	if _, err := client.NetworkingV1().NetworkPolicies("shop").Create(ctx, forged, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "a SelectorRefused warning", func() (bool, error) {
		evs, err := client.CoreV1().Events("shop").List(ctx, metav1.ListOptions{FieldSelector: "reason=SelectorRefused,involvedObject.name=forged"})
		return err == nil && len(evs.Items) > 0, err
	})

	if err := client.NetworkingV1().NetworkPolicies("shop").Delete(ctx, "from-team-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the host policy gone", func() (bool, error) {
		l, err := env.Client.NetworkingV1().NetworkPolicies(vc.HostNamespace).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, err
	})
}
