package syncer

import (
	"context"
	"encoding/json"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/config"
)

// ServiceSyncer drives the service sync of a Syncer step by step for the
// external tests (recreate_test.go): one pass at a time, over a cache the
// test decides, with hooks between API calls.
type ServiceSyncer struct{ s *Syncer }

// Hooks are the points where a test acts between two API calls of a sync.
type Hooks struct {
	BeforeRecreate, AfterRecreate, BeforeHostRemake, AfterHostRecheck func(ns, name string)
}

// NewServiceSyncer syncs services (only) of cluster from virtual to
// hostNamespace of host.
func NewServiceSyncer(virtual, host kubernetes.Interface, cluster, hostNamespace string) *ServiceSyncer {
	return &ServiceSyncer{&Syncer{
		vc: cluster, hostNamespace: hostNamespace, virtual: virtual, host: host,
		rules: config.Sync{ToHost: map[string]config.ToHostSync{kindService: {Enabled: ptrTo(true)}}},
		log:   slog.New(slog.DiscardHandler),
	}}
}

// SetHooks sets the hooks of the next passes.
func (t *ServiceSyncer) SetHooks(h Hooks) {
	t.s.hooks = syncHooks{beforeRecreate: h.BeforeRecreate, afterRecreate: h.AfterRecreate,
		beforeHostRemake: h.BeforeHostRemake, afterHostRecheck: h.AfterHostRecheck}
}

// HostName is the name of a virtual service's host copy.
func (t *ServiceSyncer) HostName(ns, name string) string { return t.s.hostServiceName(ns, name) }

// Sync runs one pass of the service ns/name with caches holding what the
// apiservers hold now, except the virtual services in stale, which the
// virtual cache still shows as they were (an informer lagging).
func (t *ServiceSyncer) Sync(ctx context.Context, ns, name string, stale ...*corev1.Service) error {
	virtual, err := t.s.virtual.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	host, err := t.s.host.CoreV1().Services(t.s.hostNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	vix := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	hix := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for i := range virtual.Items {
		if err := vix.Add(&virtual.Items[i]); err != nil {
			return err
		}
	}
	for _, v := range stale {
		if err := vix.Update(v); err != nil {
			return err
		}
	}
	for i := range host.Items {
		if err := hix.Add(&host.Items[i]); err != nil {
			return err
		}
	}
	t.s.virtualServices = corelisters.NewServiceLister(vix)
	t.s.hostServices = corelisters.NewServiceLister(hix).Services(t.s.hostNamespace)
	return t.s.syncService(ctx, ns, name)
}

// Recreate moves the virtual service ns/name to the cluster IP of its host
// copy (as read now), as syncService does when the host allocated another.
func (t *ServiceSyncer) Recreate(ctx context.Context, ns, name string) error {
	v, err := t.s.virtual.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	h, err := t.s.host.CoreV1().Services(t.s.hostNamespace).Get(ctx, t.HostName(ns, name), metav1.GetOptions{})
	if err != nil {
		return err
	}
	return t.s.recreateVirtualService(ctx, v, h)
}

// RecordOldRecreation leaves the virtual service ns/name as a syncer from
// before services moved through ExternalName left it when it stopped
// between deleting the virtual service and creating it again: the new
// service recorded on the host copy (annotationRecreating), the virtual
// one deleted.
func (t *ServiceSyncer) RecordOldRecreation(ctx context.Context, ns, name string) error {
	v, err := t.s.virtual.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	hosts := t.s.host.CoreV1().Services(t.s.hostNamespace)
	h, err := hosts.Get(ctx, t.HostName(ns, name), metav1.GetOptions{})
	if err != nil {
		return err
	}
	again := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: v.Name, Namespace: v.Namespace, Labels: v.Labels}, Spec: *v.Spec.DeepCopy()}
	again.Spec.ClusterIP, again.Spec.ClusterIPs, again.Spec.IPFamilies, again.Spec.IPFamilyPolicy = h.Spec.ClusterIP, h.Spec.ClusterIPs, nil, nil
	intent, err := json.Marshal(again)
	if err != nil {
		return err
	}
	if h.Annotations == nil {
		h.Annotations = map[string]string{}
	}
	h.Annotations[annotationRecreating] = string(intent)
	if _, err := hosts.Update(ctx, h, metav1.UpdateOptions{}); err != nil {
		return err
	}
	return t.s.virtual.CoreV1().Services(ns).Delete(ctx, name, metav1.DeleteOptions{})
}
