package syncer

import (
	"context"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// Service accounts (opt-in: sync.toHost.serviceaccounts.enabled) are
// copied to the host under translated names, for host features that hang
// on a pod's service account (cloud workload identity, image pull
// credentials a host admission adds, policies that select on it): the
// tenant's labels and annotations go with it, but no secrets, no image
// pull secrets (the virtual pod already carries its account's, translated)
// and never a mounted token. Host pods then run as the host copy of their
// virtual pod's account instead of nest-workload; they still get the token
// of the VIRTUAL apiserver (tokens.go), never one of the host. Nest binds
// the copies to no role; a host admin who trusts tenants' annotations (for
// example a cloud role to assume) does so knowingly, since the tenant
// writes them.

const kindServiceAccount = "serviceaccounts"

// serviceAccountListers are nil while service accounts are not synced.
type serviceAccountListers struct {
	virtualServiceAccounts corelisters.ServiceAccountLister
	hostServiceAccounts    corelisters.ServiceAccountNamespaceLister
}

func (s *Syncer) serviceAccountInformers(virtual, host informers.SharedInformerFactory) []informerHandler {
	v, h := virtual.Core().V1().ServiceAccounts(), host.Core().V1().ServiceAccounts()
	s.virtualServiceAccounts, s.hostServiceAccounts = v.Lister(), h.Lister().ServiceAccounts(s.hostNamespace)
	return []informerHandler{
		{v.Informer(), s.enqueueVirtual(kindServiceAccount)},
		{h.Informer(), s.enqueueHost(kindServiceAccount)},
	}
}

// podServiceAccount is the virtual service account a pod runs as.
func podServiceAccount(v *corev1.Pod) string {
	if v.Spec.ServiceAccountName != "" {
		return v.Spec.ServiceAccountName
	}
	return "default"
}

// hostServiceAccount is the host service account of a host pod.
func (s *Syncer) hostServiceAccount(v *corev1.Pod) string {
	if s.enabled(kindServiceAccount) {
		return s.hostObjectName(v.Namespace, podServiceAccount(v))
	}
	return WorkloadServiceAccount
}

func (s *Syncer) translateServiceAccount(v *corev1.ServiceAccount, hname string) *corev1.ServiceAccount {
	meta := s.hostMeta(v.Namespace, v.Name, "ServiceAccount", v.UID, hname)
	meta.Labels = s.hostLabels(v.Labels, v.Namespace)
	for k, val := range v.Annotations {
		if !isNestKey(k) {
			meta.Annotations[k] = val
		}
	}
	return &corev1.ServiceAccount{ObjectMeta: meta, AutomountServiceAccountToken: ptrTo(false)}
}

func (s *Syncer) syncServiceAccount(ctx context.Context, ns, name string) error {
	v, haveV, err := found(s.virtualServiceAccounts.ServiceAccounts(ns).Get(name))
	if err != nil {
		return err
	}
	hname := s.hostObjectName(ns, name)
	h, haveH, err := found(s.hostServiceAccounts.Get(hname))
	if err != nil {
		return err
	}
	return syncCopy(ctx, s, copyOf[*corev1.ServiceAccount]{
		kind: "serviceaccount", hostName: hname, client: s.host.CoreV1().ServiceAccounts(s.hostNamespace),
		host: h, exists: haveH, wanted: haveV && v.DeletionTimestamp == nil, virtual: objectRef(v, "ServiceAccount"),
		want: func() *corev1.ServiceAccount { return s.translateServiceAccount(v, hname) },
		current: func(h, want *corev1.ServiceAccount) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && maps.Equal(h.Annotations, want.Annotations) &&
				h.AutomountServiceAccountToken != nil && !*h.AutomountServiceAccountToken && len(h.Secrets) == 0 && len(h.ImagePullSecrets) == 0
		},
		update: func(h, want *corev1.ServiceAccount) (*corev1.ServiceAccount, bool) {
			updated := h.DeepCopy()
			updated.Labels, updated.Annotations = want.Labels, want.Annotations
			updated.AutomountServiceAccountToken, updated.Secrets, updated.ImagePullSecrets = want.AutomountServiceAccountToken, nil, nil
			return updated, true
		},
	}, ns, name)
}
