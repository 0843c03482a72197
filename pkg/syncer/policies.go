package syncer

import (
	"context"
	"fmt"
	"maps"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/nestcluster/nest/pkg/names"
)

// Network policies and pod disruption budgets (both opt-in) are copied down
// with their pod selectors translated: a selector on the tenant's labels
// becomes the same selector plus this cluster's and virtual namespace's
// ownership labels, so it can only ever match this cluster's pods of that
// namespace. A network policy peer that selects namespaces is resolved
// against the virtual namespaces (all host pods share one namespace) and
// re-resolved when namespaces change. Selectors on Nest's own label keys
// are refused with a warning: they could forge ownership.

// Queue kinds.
const (
	kindNetworkPolicy = "networkpolicies"
	kindPDB           = "poddisruptionbudgets"
)

// errNestSelector says a tenant selector uses Nest's label domain.
type errNestSelector struct{ key string }

func (e errNestSelector) Error() string {
	return fmt.Sprintf("selects on label %q, in Nest's domain %s, which tenants may not use", e.key, names.Domain)
}

// hostPodSelector translates a tenant's pod selector in virtual namespace ns
// (nil selects nothing, as in a PDB; empty selects all of ns's pods).
func (s *Syncer) hostPodSelector(sel *metav1.LabelSelector, ns string) (*metav1.LabelSelector, error) {
	if sel == nil {
		return nil, nil
	}
	out := &metav1.LabelSelector{MatchLabels: names.OwnershipLabels(s.vc, ns)}
	for k, v := range sel.MatchLabels {
		if isNestKey(k) {
			return nil, errNestSelector{k}
		}
		out.MatchLabels[k] = v
	}
	for _, r := range sel.MatchExpressions {
		if isNestKey(r.Key) {
			return nil, errNestSelector{r.Key}
		}
		out.MatchExpressions = append(out.MatchExpressions, *r.DeepCopy())
	}
	return out, nil
}

// hostPeerSelector translates a network policy peer's pod selector in the
// virtual namespaces nss (all of the cluster's when nss is nil).
func (s *Syncer) hostPeerSelector(sel *metav1.LabelSelector, nss []string) (*metav1.LabelSelector, error) {
	out := &metav1.LabelSelector{MatchLabels: map[string]string{
		names.LabelManagedBy: names.ManagedByValue, names.LabelVirtualCluster: names.LabelValue(s.vc),
	}}
	if nss != nil {
		if len(nss) == 0 {
			// No namespace matches: a selector no pod has (an empty peer
			// list would allow everything instead).
			out.MatchLabels[names.LabelVirtualNamespace] = ""
			return out, nil
		}
		values := make([]string, len(nss))
		for i, n := range nss {
			values[i] = names.LabelValue(n)
		}
		slices.Sort(values)
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: names.LabelVirtualNamespace, Operator: metav1.LabelSelectorOpIn, Values: values,
		})
	}
	if sel == nil {
		return out, nil
	}
	tenant, err := s.hostPodSelector(sel, "")
	if err != nil {
		return nil, err
	}
	for k, v := range tenant.MatchLabels {
		if !isNestKey(k) {
			out.MatchLabels[k] = v
		}
	}
	out.MatchExpressions = append(out.MatchExpressions, tenant.MatchExpressions...)
	return out, nil
}

// matchingNamespaces lists the virtual namespaces a namespace selector
// selects.
func (s *Syncer) matchingNamespaces(sel *metav1.LabelSelector) ([]string, error) {
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	all, err := s.virtualNamespaces.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, n := range all {
		if selector.Matches(labels.Set(n.Labels)) {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

// translatePeers translates the peers of one rule of a policy in ns.
func (s *Syncer) translatePeers(peers []networkingv1.NetworkPolicyPeer, ns string) ([]networkingv1.NetworkPolicyPeer, error) {
	out := make([]networkingv1.NetworkPolicyPeer, 0, len(peers))
	for _, p := range peers {
		if p.IPBlock != nil {
			out = append(out, networkingv1.NetworkPolicyPeer{IPBlock: p.IPBlock.DeepCopy()})
			continue
		}
		nss := []string{ns}
		if p.NamespaceSelector != nil {
			var err error
			if nss, err = s.matchingNamespaces(p.NamespaceSelector); err != nil {
				return nil, err
			}
		}
		sel, err := s.hostPeerSelector(p.PodSelector, nss)
		if err != nil {
			return nil, err
		}
		out = append(out, networkingv1.NetworkPolicyPeer{PodSelector: sel})
	}
	return out, nil
}

// translateNetworkPolicy returns the host copy of a tenant's network policy.
func (s *Syncer) translateNetworkPolicy(v *networkingv1.NetworkPolicy, hname string) (*networkingv1.NetworkPolicy, error) {
	meta := s.hostMeta(v.Namespace, v.Name, "NetworkPolicy", v.UID, hname)
	meta.Labels = s.hostLabels(v.Labels, v.Namespace)
	podSelector, err := s.hostPodSelector(&v.Spec.PodSelector, v.Namespace)
	if err != nil {
		return nil, err
	}
	spec := networkingv1.NetworkPolicySpec{PodSelector: *podSelector, PolicyTypes: slices.Clone(v.Spec.PolicyTypes)}
	for _, rule := range v.Spec.Ingress {
		from, err := s.translatePeers(rule.From, v.Namespace)
		if err != nil {
			return nil, err
		}
		if len(rule.From) == 0 {
			from = nil // from anywhere, as the tenant wrote
		}
		spec.Ingress = append(spec.Ingress, networkingv1.NetworkPolicyIngressRule{Ports: clonePorts(rule.Ports), From: from})
	}
	for _, rule := range v.Spec.Egress {
		to, err := s.translatePeers(rule.To, v.Namespace)
		if err != nil {
			return nil, err
		}
		if len(rule.To) == 0 {
			to = nil
		}
		spec.Egress = append(spec.Egress, networkingv1.NetworkPolicyEgressRule{Ports: clonePorts(rule.Ports), To: to})
	}
	return &networkingv1.NetworkPolicy{ObjectMeta: meta, Spec: spec}, nil
}

func clonePorts(ports []networkingv1.NetworkPolicyPort) []networkingv1.NetworkPolicyPort {
	out := make([]networkingv1.NetworkPolicyPort, len(ports))
	for i := range ports {
		out[i] = *ports[i].DeepCopy()
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (s *Syncer) syncNetworkPolicy(ctx context.Context, ns, name string) error {
	v, haveV, err := found(s.virtualNetworkPolicies.NetworkPolicies(ns).Get(name))
	if err != nil {
		return err
	}
	hname := s.hostObjectName(ns, name)
	h, haveH, err := found(s.hostNetworkPolicies.Get(hname))
	if err != nil {
		return err
	}
	ref := objectRefKind(v, "NetworkPolicy", "networking.k8s.io/v1")
	var want *networkingv1.NetworkPolicy
	wanted := haveV && v.DeletionTimestamp == nil
	if wanted {
		if want, err = s.translateNetworkPolicy(v, hname); err != nil {
			// Refused: no copy (a stale one would enforce an old rule).
			wanted = false
			if werr := s.warn(ctx, ref, "SelectorRefused", "network policy not copied to the host: "+err.Error()); werr != nil {
				return werr
			}
		}
	}
	return syncCopy(ctx, s, copyOf[*networkingv1.NetworkPolicy]{
		kind: "networkpolicy", hostName: hname, client: s.host.NetworkingV1().NetworkPolicies(s.hostNamespace),
		host: h, exists: haveH, wanted: wanted, virtual: ref,
		want: func() *networkingv1.NetworkPolicy { return want },
		current: func(h, want *networkingv1.NetworkPolicy) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && equality.Semantic.DeepEqual(h.Spec, want.Spec)
		},
		update: func(h, want *networkingv1.NetworkPolicy) (*networkingv1.NetworkPolicy, bool) {
			updated := h.DeepCopy()
			updated.Labels, updated.Spec = want.Labels, want.Spec
			return updated, true
		},
	}, ns, name)
}

// enqueueAllNetworkPolicies re-resolves every policy's namespace selectors
// when a virtual namespace appears, goes or changes its labels.
func (s *Syncer) enqueueAllNetworkPolicies(any) {
	all, err := s.virtualNetworkPolicies.List(labels.Everything())
	if err != nil {
		return
	}
	for _, p := range all {
		s.queue.Add(queueKey(kindNetworkPolicy, p.Namespace+"/"+p.Name))
	}
}

// translatePDB returns the host copy of a tenant's disruption budget: the
// host's drains then respect it.
func (s *Syncer) translatePDB(v *policyv1.PodDisruptionBudget, hname string) (*policyv1.PodDisruptionBudget, error) {
	meta := s.hostMeta(v.Namespace, v.Name, "PodDisruptionBudget", v.UID, hname)
	meta.Labels = s.hostLabels(v.Labels, v.Namespace)
	spec := v.Spec.DeepCopy()
	sel, err := s.hostPodSelector(v.Spec.Selector, v.Namespace)
	if err != nil {
		return nil, err
	}
	spec.Selector = sel
	return &policyv1.PodDisruptionBudget{ObjectMeta: meta, Spec: *spec}, nil
}

func (s *Syncer) syncPDB(ctx context.Context, ns, name string) error {
	v, haveV, err := found(s.virtualPDBs.PodDisruptionBudgets(ns).Get(name))
	if err != nil {
		return err
	}
	hname := s.hostObjectName(ns, name)
	h, haveH, err := found(s.hostPDBs.Get(hname))
	if err != nil {
		return err
	}
	ref := objectRefKind(v, "PodDisruptionBudget", "policy/v1")
	var want *policyv1.PodDisruptionBudget
	wanted := haveV && v.DeletionTimestamp == nil
	if wanted {
		if want, err = s.translatePDB(v, hname); err != nil {
			wanted = false
			if werr := s.warn(ctx, ref, "SelectorRefused", "disruption budget not copied to the host: "+err.Error()); werr != nil {
				return werr
			}
		}
	}
	return syncCopy(ctx, s, copyOf[*policyv1.PodDisruptionBudget]{
		kind: "poddisruptionbudget", hostName: hname, client: s.host.PolicyV1().PodDisruptionBudgets(s.hostNamespace),
		host: h, exists: haveH, wanted: wanted, virtual: ref,
		want: func() *policyv1.PodDisruptionBudget { return want },
		current: func(h, want *policyv1.PodDisruptionBudget) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && equality.Semantic.DeepEqual(h.Spec, want.Spec)
		},
		update: func(h, want *policyv1.PodDisruptionBudget) (*policyv1.PodDisruptionBudget, bool) {
			updated := h.DeepCopy()
			updated.Labels, updated.Spec = want.Labels, want.Spec
			return updated, true
		},
	}, ns, name)
}
