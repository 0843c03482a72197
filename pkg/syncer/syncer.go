// Package syncer runs the workloads of a virtual cluster on its host: it
// copies pods down into the host namespace under translated names, binds
// the virtual pods to the nodes they land on, and copies their status back.
//
// So far it syncs pods and the configmaps and secrets they use (issue 5,
// first steps). Every reference a pod makes (configmaps, secrets, claims,
// pull secrets) is translated, so that a tenant can never point a pod at a
// host object that Nest did not make.
package syncer

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"golang.org/x/time/rate"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/pki"
)

// Syncer mirrors one virtual cluster's pods to its host namespace.
type Syncer struct {
	vc                string
	hostNamespace     string
	isolation         config.Isolation
	rules             config.Sync      // which kinds to sync
	kubelet           *kubeletEndpoint // what virtual nodes point at; nil: none
	virtual, host     kubernetes.Interface
	virtualPods       corelisters.PodLister
	virtualPodIndex   cache.Indexer
	virtualNodes      corelisters.NodeLister
	hostPods          corelisters.PodNamespaceLister
	virtualConfigMaps corelisters.ConfigMapLister
	hostConfigMaps    corelisters.ConfigMapNamespaceLister
	virtualSecrets    corelisters.SecretLister
	hostSecrets       corelisters.SecretNamespaceLister
	virtualServices   corelisters.ServiceLister
	hostServices      corelisters.ServiceNamespaceLister
	virtualEndpoints  corelisters.EndpointsLister
	hostEndpoints     corelisters.EndpointsNamespaceLister
	virtualPVCs       corelisters.PersistentVolumeClaimLister
	hostPVCs          corelisters.PersistentVolumeClaimNamespaceLister
	hostEvents        corelisters.EventNamespaceLister
	// Ingresses are opt-in: these stay nil unless they are synced.
	virtualIngresses    networkinglisters.IngressLister
	virtualIngressIndex cache.Indexer
	hostIngresses       networkinglisters.IngressNamespaceLister
	queue               workqueue.TypedRateLimitingInterface[string]
	log                 *slog.Logger
}

// Hook runs the syncer inside a control plane; it does nothing when the
// control plane has no host (`nest controlplane` without --host-kubeconfig).
func Hook() controlplane.Hook {
	return func(ctx context.Context, env controlplane.HookEnv) error {
		if !env.HasHost() {
			env.Logger.Info("No host given: the syncer is off")
			return nil
		}
		host, err := env.HostClient()
		if err != nil {
			return fmt.Errorf("syncer: host client: %w", err)
		}
		return Run(ctx, env.Name, env.HostNamespace, env.Config, env.Virtual, host, env.PKI, env.Logger)
	}
}

// informerHandler queues the keys an informer's events concern.
type informerHandler struct {
	informer cache.SharedIndexInformer
	enqueue  func(any)
}

// Run syncs until ctx ends, the kinds that cfg's sync section enables. With
// the cluster's certificates it also serves the kubelet API that virtual
// nodes point at (logs); nil leaves it off.
func Run(ctx context.Context, vc, hostNamespace string, cfg *config.Config, virtual, host kubernetes.Interface, bundle *pki.Bundle, log *slog.Logger) error {
	s := &Syncer{
		vc: vc, hostNamespace: hostNamespace, isolation: cfg.Isolation, rules: cfg.Sync,
		virtual: virtual, host: host, log: log.With("component", "syncer"),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(retryLimiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "syncer"}),
	}
	defer s.queue.ShutDown()

	virtualInformers := informers.NewSharedInformerFactory(virtual, 0)
	hostInformers := informers.NewSharedInformerFactoryWithOptions(host, 0,
		informers.WithNamespace(hostNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = labels.SelectorFromSet(labels.Set{
				names.LabelManagedBy: names.ManagedByValue, names.LabelVirtualCluster: names.LabelValue(vc),
			}).String()
		}))
	// Host events carry no labels: they are watched in the whole namespace.
	hostEventInformers := informers.NewSharedInformerFactoryWithOptions(host, 0, informers.WithNamespace(hostNamespace))
	hevents := hostEventInformers.Core().V1().Events()
	s.hostEvents = hevents.Lister().Events(hostNamespace)
	vpods, hpods := virtualInformers.Core().V1().Pods(), hostInformers.Core().V1().Pods()
	vcms, hcms := virtualInformers.Core().V1().ConfigMaps(), hostInformers.Core().V1().ConfigMaps()
	vsecrets, hsecrets := virtualInformers.Core().V1().Secrets(), hostInformers.Core().V1().Secrets()
	if err := vpods.Informer().AddIndexers(podIndexers); err != nil {
		return fmt.Errorf("syncer: index virtual pods: %w", err)
	}
	s.virtualPods, s.hostPods = vpods.Lister(), hpods.Lister().Pods(hostNamespace)
	s.virtualPodIndex = vpods.Informer().GetIndexer()
	vnodes := virtualInformers.Core().V1().Nodes()
	s.virtualNodes = vnodes.Lister()
	s.virtualConfigMaps, s.hostConfigMaps = vcms.Lister(), hcms.Lister().ConfigMaps(hostNamespace)
	s.virtualSecrets, s.hostSecrets = vsecrets.Lister(), hsecrets.Lister().Secrets(hostNamespace)
	vsvcs, hsvcs := virtualInformers.Core().V1().Services(), hostInformers.Core().V1().Services()
	veps, heps := virtualInformers.Core().V1().Endpoints(), hostInformers.Core().V1().Endpoints()
	s.virtualServices, s.hostServices = vsvcs.Lister(), hsvcs.Lister().Services(hostNamespace)
	s.virtualEndpoints, s.hostEndpoints = veps.Lister(), heps.Lister().Endpoints(hostNamespace)
	vpvcs, hpvcs := virtualInformers.Core().V1().PersistentVolumeClaims(), hostInformers.Core().V1().PersistentVolumeClaims()
	s.virtualPVCs, s.hostPVCs = vpvcs.Lister(), hpvcs.Lister().PersistentVolumeClaims(hostNamespace)
	handlers := []informerHandler{
		{vpods.Informer(), s.enqueueVirtualPod},
		{vnodes.Informer(), s.enqueueVirtual(kindNode)},
		{hpods.Informer(), s.enqueueHost(kindPod)},
		{vcms.Informer(), s.enqueueVirtual(string(refConfigMap))},
		{hcms.Informer(), s.enqueueHost(string(refConfigMap))},
		{vsecrets.Informer(), s.enqueueVirtual(string(refSecret))},
		{hsecrets.Informer(), s.enqueueHost(string(refSecret))},
		{vsvcs.Informer(), s.enqueueVirtual(kindService)},
		{hsvcs.Informer(), s.enqueueHost(kindService)},
		{veps.Informer(), s.enqueueVirtual(kindService)},
		{heps.Informer(), s.enqueueHost(kindService)},
		{vpvcs.Informer(), s.enqueueVirtual(kindPVC)},
		{hpvcs.Informer(), s.enqueueHost(kindPVC)},
		{hevents.Informer(), s.enqueueHostEvent},
	}
	if s.enabled(kindIngress) {
		ving, hing := virtualInformers.Networking().V1().Ingresses(), hostInformers.Networking().V1().Ingresses()
		if err := ving.Informer().AddIndexers(ingressIndexers); err != nil {
			return fmt.Errorf("syncer: index virtual ingresses: %w", err)
		}
		s.virtualIngresses, s.hostIngresses = ving.Lister(), hing.Lister().Ingresses(hostNamespace)
		s.virtualIngressIndex = ving.Informer().GetIndexer()
		handlers = append(handlers,
			informerHandler{ving.Informer(), s.enqueueVirtualIngress},
			informerHandler{hing.Informer(), s.enqueueHost(kindIngress)})
	}
	var synced []cache.InformerSynced
	for _, h := range handlers {
		if _, err := h.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    h.enqueue,
			UpdateFunc: func(_, obj any) { h.enqueue(obj) },
			DeleteFunc: h.enqueue,
		}); err != nil {
			return err
		}
		synced = append(synced, h.informer.HasSynced)
	}
	virtualInformers.Start(ctx.Done())
	hostInformers.Start(ctx.Done())
	hostEventInformers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	if err := s.ensureWorkloadServiceAccount(ctx); err != nil {
		return err
	}
	if bundle != nil {
		endpoint, err := s.serveKubelet(ctx, bundle)
		if err != nil {
			return err
		}
		// Nodes made before this start point at an earlier port: the node
		// informer's initial events queued them, and the workers (started
		// below) point them here.
		s.kubelet = &endpoint
	}
	// Host pods whose virtual pod is gone (deleted while the syncer was
	// down) are found by the initial host events, like any other.
	s.log.Info("Syncer is running", "hostNamespace", hostNamespace)
	const workers = 4
	for range workers {
		go func() {
			for s.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	return nil
}

// maxRetryDelay caps the back-off of a failing key. client-go's default
// grows to 1000 s, so a host outage of a minute would leave keys waiting
// for a quarter of an hour after the host came back; 30 s converges soon
// after an outage and still keeps a broken object from spinning.
const maxRetryDelay = 30 * time.Second

// retryLimiter is client-go's controller limiter with maxRetryDelay: per-key
// exponential back-off from 5 ms, and an overall bucket for retries.
func retryLimiter() workqueue.TypedRateLimiter[string] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, maxRetryDelay),
		&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(50), 500)},
	)
}

// WorkloadServiceAccount is the host service account of every host pod:
// bound to no role, and its token is never mounted.
const WorkloadServiceAccount = "nest-workload"

// ensureWorkloadServiceAccount makes WorkloadServiceAccount in the host
// namespace, retrying while the host is unreachable.
func (s *Syncer) ensureWorkloadServiceAccount(ctx context.Context) error {
	sa := &corev1.ServiceAccount{
		ObjectMeta:                   metav1.ObjectMeta{Name: WorkloadServiceAccount, Labels: names.OwnershipLabels(s.vc, "")},
		AutomountServiceAccountToken: ptrTo(false),
	}
	return wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Cap: maxRetryDelay, Steps: math.MaxInt32},
		func(ctx context.Context) (bool, error) {
			_, err := s.host.CoreV1().ServiceAccounts(s.hostNamespace).Create(ctx, sa, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				return true, nil
			}
			s.log.Warn("Cannot make the workload service account on the host yet", "error", err)
			return false, nil
		})
}

// kindPod prefixes the queue keys of pods; configmaps and secrets use their
// refKind. A key is "kind|namespace/name" of the virtual object.
const kindPod = "pods"

func queueKey(kind, key string) string { return kind + "|" + key }

func (s *Syncer) enqueueVirtual(kind string) func(any) {
	return func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			s.queue.Add(queueKey(kind, key))
		}
	}
}

// enqueueVirtualPod queues a pod and everything it refers to, whose host
// copies depend on whether a live pod still uses them.
func (s *Syncer) enqueueVirtualPod(obj any) {
	s.enqueueVirtual(kindPod)(obj)
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.Spec.NodeName != "" {
		s.queue.Add(queueKey(kindNode, pod.Spec.NodeName))
	}
	for kind, refs := range podRefs(pod) {
		for name := range refs {
			s.queue.Add(queueKey(string(kind), pod.Namespace+"/"+name))
		}
	}
}

// enqueueVirtualIngress queues an ingress and the TLS secrets it uses.
func (s *Syncer) enqueueVirtualIngress(obj any) {
	s.enqueueVirtual(kindIngress)(obj)
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if ing, ok := obj.(*networkingv1.Ingress); ok {
		for name := range ingressSecrets(ing) {
			s.queue.Add(queueKey(string(refSecret), ing.Namespace+"/"+name))
		}
	}
}

// enqueueHost maps a host object back to its virtual object's key.
func (s *Syncer) enqueueHost(kind string) func(any) {
	return func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		m, err := meta.Accessor(obj)
		if err != nil {
			return
		}
		ns, name := m.GetAnnotations()[annotationVirtualNS], m.GetAnnotations()[names.AnnotationVirtualName]
		if ns != "" && name != "" {
			s.queue.Add(queueKey(kind, ns+"/"+name))
		}
	}
}

// enabled reports whether nest.yaml's sync section turns a queue kind on
// (sync.toHost.<kind>.enabled; events: sync.fromHost.events.enabled).
func (s *Syncer) enabled(kind string) bool {
	switch kind {
	case kindEvent:
		return s.rules.FromHost[kind].IsEnabled()
	case kindNode:
		return true
	}
	return s.rules.ToHost[kind].IsEnabled()
}

// enqueueHostEvent queues a host event by its own name: it is copied up,
// never down. Deletions are left to the virtual apiserver's event TTL.
func (s *Syncer) enqueueHostEvent(obj any) {
	if ev, ok := obj.(*corev1.Event); ok {
		s.queue.Add(queueKey(kindEvent, ev.Name))
	}
}

func (s *Syncer) processNext(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	if err := s.sync(ctx, key); err != nil {
		s.log.Warn("Sync failed, retrying", "key", key, "error", err)
		s.queue.AddRateLimited(key)
		return true
	}
	s.queue.Forget(key)
	return true
}

// sync dispatches a queue key to its kind's sync.
func (s *Syncer) sync(ctx context.Context, key string) error {
	kind, objKey, ok := strings.Cut(key, "|")
	if !ok {
		return nil
	}
	if !s.enabled(kind) {
		return nil
	}
	switch kind {
	case kindPod:
		return s.syncPod(ctx, objKey)
	case kindEvent:
		return s.syncEvent(ctx, objKey)
	case kindNode:
		return s.syncNode(ctx, objKey)
	}
	ns, name, err := cache.SplitMetaNamespaceKey(objKey)
	if err != nil {
		return nil
	}
	switch kind {
	case kindService:
		return s.syncService(ctx, ns, name)
	case kindIngress:
		return s.syncIngress(ctx, ns, name)
	case kindPVC:
		return s.syncPVC(ctx, ns, name)
	}
	return s.syncRef(ctx, refKind(kind), ns, name)
}
