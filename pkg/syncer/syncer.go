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
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/pki"
)

// Syncer mirrors one virtual cluster's pods to its host namespace.
type Syncer struct {
	vc                string
	hostNamespace     string
	isolation         *isolationPolicy
	rules             config.Sync      // which kinds to sync
	virtualScheduler  bool             // controlPlane.scheduler: the virtual cluster binds its pods (vsched.go)
	kubelet           *kubeletEndpoint // what virtual nodes point at; nil: none
	virtual, host     kubernetes.Interface
	hostConfig        *rest.Config     // for the kubelet paths' proxy
	apiServer         apiServerAddress // the virtual apiserver as host pods reach it
	dnsServer         string           // the virtual cluster's DNS; "": none
	caPEM             []byte           // the virtual cluster's CA (PEM); nil: read kube-root-ca.crt
	tokensReady       chan struct{}    // closed once tokens are worth writing; nil: always
	virtualPods       corelisters.PodLister
	virtualPodIndex   cache.Indexer
	virtualNodes      corelisters.NodeLister
	hostPods          corelisters.PodNamespaceLister
	hostPodIndex      cache.Indexer // host pods by node (indexPodNodeName)
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
	// So are network policies and disruption budgets.
	virtualNetworkPolicies networkinglisters.NetworkPolicyLister
	hostNetworkPolicies    networkinglisters.NetworkPolicyNamespaceLister
	virtualNamespaces      corelisters.NamespaceLister
	virtualPDBs            policylisters.PodDisruptionBudgetLister
	hostPDBs               policylisters.PodDisruptionBudgetNamespaceLister
	queue                  workqueue.TypedRateLimitingInterface[string]
	tokenQueue             workqueue.TypedRateLimitingInterface[string] // pods' tokens no sync waits for (tokens.go)
	resume                 *resumeTracker                               // non-nil while coming back from a pause
	customMu               sync.Mutex
	custom                 map[string]*customSync // by queue kind, once served on both sides
	serviceMaps            serviceMappings        // sync.serviceMappings
	hostNodes              corelisters.NodeLister // real node data; nil: none
	hostNodeState                                 // every host node shown, name translation (nodes.go)
	extraInformers         []informers.SharedInformerFactory
	log                    *slog.Logger

	// Tenants' endpoint slices, the opt-in kinds and the classes copied up.
	endpointSliceListers
	serviceAccountListers
	priorityClassListers
	fromHostListers
	storageListers
	ungranted map[string]bool // enabled kinds the host does not allow (clusteraccess.go)
	recent    recentCreates   // host pods and token Secrets just made, until the informers show them (recent.go)
	hooks     syncHooks       // test seams; unset in production
}

// syncHooks let a test run a tenant's writes at exact points between two
// API calls of a sync (services.go); unset (nil) in production.
type syncHooks struct {
	beforeRecreate   func(ns, name string) // a recreation deleted the virtual service, before the recheck
	afterRecreate    func(ns, name string) // a recreation created it again, before its record is dropped
	beforeHostRemake func(ns, name string) // a host copy was deleted to be replaced, before the recheck
	afterHostRecheck func(ns, name string) // that recheck found the virtual service, before the create
}

// at runs a hook if it is set.
func at(hook func(ns, name string), ns, name string) {
	if hook != nil {
		hook(ns, name)
	}
}

// Hook runs the syncer inside a control plane; it does nothing when the
// control plane has no host (`nest controlplane` without --host-kubeconfig).
func Hook() controlplane.Hook { return HookWithDNS("") }

// HookWithDNS is Hook pointing host pods at the virtual cluster's DNS
// server at dnsServer (Config.DNSServer); "" leaves their DNS alone.
func HookWithDNS(dnsServer string) controlplane.Hook {
	return func(ctx context.Context, env controlplane.HookEnv) error {
		if !env.HasHost() {
			env.Logger.Info("No host given: the syncer is off")
			return nil
		}
		host, err := env.HostRESTConfig()
		if err != nil {
			return fmt.Errorf("syncer: host client: %w", err)
		}
		virtual, err := kube.RESTConfig(env.VirtualConfig, "")
		if err != nil {
			return fmt.Errorf("syncer: virtual apiserver address: %w", err)
		}
		virtualDynamic, err := dynamic.NewForConfig(virtual)
		if err != nil {
			return fmt.Errorf("syncer: virtual client: %w", err)
		}
		return Run(ctx, Config{
			Name: env.Name, HostNamespace: env.HostNamespace, Cluster: env.Config,
			Virtual: env.Virtual, VirtualDynamic: virtualDynamic, Host: host, PKI: env.PKI, APIServer: virtual.Host,
			PausedMarker: env.Layout.PausedPath(), Logger: env.Logger, DNSServer: dnsServer,
		})
	}
}

// Config is what one syncer needs.
type Config struct {
	Name          string // of the virtual cluster
	HostNamespace string
	Cluster       *config.Config // its nest.yaml: sync rules, isolation
	Virtual       kubernetes.Interface
	// VirtualDynamic serves custom resources (sync.customResources); nil
	// leaves them unsynced.
	VirtualDynamic dynamic.Interface
	Host           *rest.Config // the syncer's namespace-scoped host credentials
	// PKI holds the cluster's certificates: with them the syncer serves the
	// kubelet API that virtual nodes point at; nil leaves it off.
	PKI *pki.Bundle
	// APIServer is the virtual apiserver as the host's pods reach it,
	// "https://host:port": their KUBERNETES_SERVICE_HOST and _PORT. Hook
	// sets the control plane's own address (for the process runtime on the
	// local host, its bind address and port).
	APIServer string
	// DNSServer is the IP of the virtual cluster's DNS service, which host
	// pods that use the cluster's DNS are pointed at; "" leaves their DNS
	// policy alone (they resolve through the host's DNS).
	DNSServer string
	// PausedMarker is the file `nest pause` leaves (controlplane.Layout's
	// PausedPath): while it exists, host pods that are missing were removed
	// by the pause and are created again rather than reported lost. The
	// syncer removes it once every virtual pod is back. "" means none.
	PausedMarker string
	Logger       *slog.Logger
}

func (c *Config) validate() error {
	var errs []error
	if c.Name == "" || c.HostNamespace == "" {
		errs = append(errs, errors.New("a virtual cluster name and a host namespace are required"))
	}
	if c.Cluster == nil || c.Virtual == nil || c.Host == nil || c.Logger == nil {
		errs = append(errs, errors.New("the cluster config, both clients and a logger are required"))
	}
	if _, ok := parseAPIServer(c.APIServer); c.APIServer != "" && !ok {
		errs = append(errs, fmt.Errorf("apiServer %q is not https://host:port", c.APIServer))
	}
	if c.DNSServer != "" && net.ParseIP(c.DNSServer) == nil {
		errs = append(errs, fmt.Errorf("dnsServer %q is not an IP", c.DNSServer))
	}
	return errors.Join(errs...)
}

// informerHandler queues the keys an informer's events concern.
type informerHandler struct {
	informer cache.SharedIndexInformer
	enqueue  func(any)
}

// Run syncs until ctx ends, the kinds that the sync section of the
// cluster's config enables. With the cluster's certificates it also serves
// the kubelet API that virtual nodes point at (logs, exec, attach,
// port-forward).
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("syncer: %w", err)
	}
	vc, hostNamespace, virtual, bundle := cfg.Name, cfg.HostNamespace, cfg.Virtual, cfg.PKI
	host, err := kubernetes.NewForConfig(cfg.Host)
	if err != nil {
		return fmt.Errorf("syncer: host client: %w", err)
	}
	isolation, err := newIsolationPolicy(cfg.Cluster.Isolation)
	if err != nil {
		return err
	}
	s := &Syncer{
		vc: vc, hostNamespace: hostNamespace, isolation: isolation, rules: cfg.Cluster.Sync, custom: map[string]*customSync{},
		virtualScheduler: cfg.Cluster.ControlPlane.Scheduler.Enabled,
		virtual:          virtual, host: host, hostConfig: cfg.Host, dnsServer: cfg.DNSServer, log: cfg.Logger.With("component", "syncer"),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(retryLimiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "syncer"}),
	}
	defer s.queue.ShutDown()
	s.apiServer, _ = parseAPIServer(cfg.APIServer)
	if bundle != nil { // the CA of the pods' tokens (tokens.go); CAs are not rotated
		if s.caPEM, err = os.ReadFile(bundle.CACert()); err != nil {
			return fmt.Errorf("syncer: the cluster's CA: %w", err)
		}
	}

	virtualInformers := informers.NewSharedInformerFactory(virtual, 0)
	hostInformers := informers.NewSharedInformerFactoryWithOptions(host, 0,
		informers.WithNamespace(hostNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = labels.SelectorFromSet(labels.Set{
				names.LabelManagedBy: names.ManagedByValue, names.LabelVirtualCluster: names.LabelValue(vc),
			}).String()
		}))
	// Informers run only for the kinds that are synced (pods also need the
	// nodes they are bound to and the host Secrets of their tokens;
	// endpoints and endpoint slices go with their services).
	var handlers []informerHandler
	var hostEventInformers informers.SharedInformerFactory
	if s.enabled(kindEvent) {
		// Host events carry no labels: they are watched in the whole namespace.
		hostEventInformers = informers.NewSharedInformerFactoryWithOptions(host, 0, informers.WithNamespace(hostNamespace))
		hevents := hostEventInformers.Core().V1().Events()
		s.hostEvents = hevents.Lister().Events(hostNamespace)
		handlers = append(handlers, informerHandler{hevents.Informer(), s.enqueueHostEvent})
	}
	if s.enabled(kindPod) || s.enabled(string(refSecret)) {
		hsecrets := hostInformers.Core().V1().Secrets()
		s.hostSecrets = hsecrets.Lister().Secrets(hostNamespace)
		handlers = append(handlers, informerHandler{hsecrets.Informer(), s.enqueueHostSecret})
	}
	if s.enabled(kindPod) {
		vpods, hpods, vnodes := virtualInformers.Core().V1().Pods(), hostInformers.Core().V1().Pods(), virtualInformers.Core().V1().Nodes()
		if err := vpods.Informer().AddIndexers(podIndexers); err != nil {
			return fmt.Errorf("syncer: index virtual pods: %w", err)
		}
		if err := hpods.Informer().AddIndexers(cache.Indexers{indexPodNodeName: podIndexers[indexPodNodeName]}); err != nil {
			return fmt.Errorf("syncer: index host pods: %w", err)
		}
		s.virtualPods, s.hostPods = vpods.Lister(), hpods.Lister().Pods(hostNamespace)
		s.hostPodIndex = hpods.Informer().GetIndexer()
		s.virtualPodIndex = vpods.Informer().GetIndexer()
		s.virtualNodes = vnodes.Lister()
		handlers = append(handlers,
			informerHandler{vpods.Informer(), s.enqueueVirtualPod},
			informerHandler{vnodes.Informer(), s.enqueueVirtual(kindNode)},
			informerHandler{hpods.Informer(), s.enqueueHostPod})
		handlers = append(handlers, s.setUpHostNodes(ctx)...)
	}
	if s.enabled(string(refConfigMap)) {
		vcms, hcms := virtualInformers.Core().V1().ConfigMaps(), hostInformers.Core().V1().ConfigMaps()
		s.virtualConfigMaps, s.hostConfigMaps = vcms.Lister(), hcms.Lister().ConfigMaps(hostNamespace)
		handlers = append(handlers,
			informerHandler{vcms.Informer(), s.enqueueVirtual(string(refConfigMap))},
			informerHandler{hcms.Informer(), s.enqueueHost(string(refConfigMap))})
	}
	if s.enabled(string(refSecret)) {
		vsecrets := virtualInformers.Core().V1().Secrets()
		s.virtualSecrets = vsecrets.Lister()
		handlers = append(handlers, informerHandler{vsecrets.Informer(), s.enqueueVirtual(string(refSecret))})
	}
	if s.enabled(kindService) {
		vsvcs, hsvcs := virtualInformers.Core().V1().Services(), hostInformers.Core().V1().Services()
		s.virtualServices, s.hostServices = vsvcs.Lister(), hsvcs.Lister().Services(hostNamespace)
		handlers = append(handlers,
			informerHandler{vsvcs.Informer(), s.enqueueVirtual(kindService)},
			informerHandler{hsvcs.Informer(), s.enqueueHost(kindService)})
		if s.enabled(kindEndpoints) {
			veps, heps := virtualInformers.Core().V1().Endpoints(), hostInformers.Core().V1().Endpoints()
			s.virtualEndpoints, s.hostEndpoints = veps.Lister(), heps.Lister().Endpoints(hostNamespace)
			handlers = append(handlers,
				informerHandler{veps.Informer(), s.enqueueVirtual(kindService)},
				informerHandler{heps.Informer(), s.enqueueHost(kindService)})
		}
		if s.enabled(kindEndpointSlice) {
			sliceHandlers, err := s.endpointSliceInformers(virtualInformers, hostInformers, vsvcs.Informer())
			if err != nil {
				return fmt.Errorf("syncer: %w", err)
			}
			handlers = append(handlers, sliceHandlers...)
		}
		handlers = append(handlers, s.setUpServiceMappings(vsvcs, hsvcs, virtualInformers.Core().V1().Endpoints())...)
	}
	if s.enabled(kindPVC) {
		vpvcs, hpvcs := virtualInformers.Core().V1().PersistentVolumeClaims(), hostInformers.Core().V1().PersistentVolumeClaims()
		s.virtualPVCs, s.hostPVCs = vpvcs.Lister(), hpvcs.Lister().PersistentVolumeClaims(hostNamespace)
		handlers = append(handlers,
			informerHandler{vpvcs.Informer(), s.enqueueVirtual(kindPVC)},
			informerHandler{hpvcs.Informer(), s.enqueueHost(kindPVC)})
	}
	if err := s.dropUngranted(ctx); err != nil {
		return err
	}
	if s.enabled(kindServiceAccount) {
		handlers = append(handlers, s.serviceAccountInformers(virtualInformers, hostInformers)...)
	}
	if s.enabled(kindPriorityClass) {
		handlers = append(handlers, s.priorityClassInformers(virtualInformers, hostInformers)...)
	}
	if s.enabled(kindStorageClass) || s.enabled(kindPV) {
		storageHandlers, err := s.storageInformers(virtualInformers, hostInformers)
		if err != nil {
			return fmt.Errorf("syncer: %w", err)
		}
		handlers = append(handlers, storageHandlers...)
	}
	var hostClassInformers informers.SharedInformerFactory // the host's own classes: no label filter
	if s.enabled(kindStorageClassUp) || s.enabled(kindIngressClassUp) || s.enabled(kindPriorityClassUp) {
		hostClassInformers = informers.NewSharedInformerFactory(host, 0)
		handlers = append(handlers, s.fromHostInformers(virtualInformers, hostClassInformers)...)
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
	if s.enabled(kindNetworkPolicy) {
		vnp, hnp := virtualInformers.Networking().V1().NetworkPolicies(), hostInformers.Networking().V1().NetworkPolicies()
		vns := virtualInformers.Core().V1().Namespaces()
		s.virtualNetworkPolicies, s.hostNetworkPolicies = vnp.Lister(), hnp.Lister().NetworkPolicies(hostNamespace)
		s.virtualNamespaces = vns.Lister()
		handlers = append(handlers,
			informerHandler{vnp.Informer(), s.enqueueVirtual(kindNetworkPolicy)},
			informerHandler{hnp.Informer(), s.enqueueHost(kindNetworkPolicy)},
			informerHandler{vns.Informer(), s.enqueueAllNetworkPolicies})
	}
	if s.enabled(kindPDB) {
		vpdb, hpdb := virtualInformers.Policy().V1().PodDisruptionBudgets(), hostInformers.Policy().V1().PodDisruptionBudgets()
		s.virtualPDBs, s.hostPDBs = vpdb.Lister(), hpdb.Lister().PodDisruptionBudgets(hostNamespace)
		handlers = append(handlers,
			informerHandler{vpdb.Informer(), s.enqueueVirtual(kindPDB)},
			informerHandler{hpdb.Informer(), s.enqueueHost(kindPDB)})
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
	for _, f := range append([]informers.SharedInformerFactory{hostEventInformers, hostClassInformers}, s.extraInformers...) {
		if f != nil {
			f.Start(ctx.Done())
		}
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	if s.enabled(kindPod) {
		s.tokenQueue = workqueue.NewTypedRateLimitingQueueWithConfig(retryLimiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "syncer-tokens"})
		defer s.tokenQueue.ShutDown()
		for range tokenWorkers {
			go s.runTokenQueue(ctx)
		}
		s.watchTokensReady(ctx)
		if err := s.ensureWorkloadServiceAccount(ctx); err != nil {
			return err
		}
		if s.resume, err = newResumeTracker(cfg.PausedMarker, s.virtualPods, s.log); err != nil {
			return err
		}
	}
	if bundle != nil {
		endpoint, err := s.serveKubelet(ctx, bundle, cfg.Cluster.ControlPlane.Certificates.LeafValidity())
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
	if cfg.VirtualDynamic != nil && len(cfg.Cluster.Sync.CustomResources) > 0 {
		hostDynamic, err := dynamic.NewForConfig(cfg.Host)
		if err != nil {
			return fmt.Errorf("syncer: host client: %w", err)
		}
		s.startCustomResources(ctx, cfg.VirtualDynamic, hostDynamic)
	}
	// Most of a sync is waiting on one apiserver or the other, and a new
	// pod's create (its token, then the host pod) waits behind whatever
	// the workers are doing: status copies, binds, events. Four workers
	// gave new pods hundreds of milliseconds of queue wait under load
	// (the sync benchmark's tail); the clients' rate limits (pkg/kube)
	// still bound what they send.
	const workers = 16
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

// enqueueHostPod maps a host pod back to its virtual pod. The informer
// shows the pod now (or its delete): a record of its create ends.
func (s *Syncer) enqueueHostPod(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if pod, ok := obj.(*corev1.Pod); ok {
		s.recent.forget(recentPod + pod.Name)
	}
	s.enqueueHost(kindPod)(obj)
}

// enqueueHostSecret maps a host secret back to its virtual secret, or for
// a token Secret, to its pod (and ends the record of its write, as
// enqueueHostPod does).
func (s *Syncer) enqueueHostSecret(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if sec, ok := obj.(*corev1.Secret); ok && sec.Annotations[names.AnnotationVirtualKind] == kindToken {
		s.recent.forget(recentToken + sec.Name)
		s.enqueueHost(kindPod)(obj)
		return
	}
	s.enqueueHost(string(refSecret))(obj)
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
	if s.ungranted[kind] {
		return false
	}
	if up, ok := fromHostQueueKinds[kind]; ok {
		return s.rules.FromHost[up].IsEnabled()
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
	if kind, objKey, _ := strings.Cut(key, "|"); kind == kindPod && s.resume != nil {
		s.resume.done(objKey)
	}
	return true
}

// sync dispatches a queue key to its kind's sync.
func (s *Syncer) sync(ctx context.Context, key string) error {
	kind, objKey, ok := strings.Cut(key, "|")
	if !ok {
		return nil
	}
	if c := s.customKind(kind); c != nil {
		ns, name, err := cache.SplitMetaNamespaceKey(objKey)
		if err != nil {
			return nil
		}
		return s.syncCustom(ctx, c, ns, name)
	}
	if handled, err := s.syncServiceMapping(ctx, kind, objKey); handled {
		return err
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
	case kindNetworkPolicy:
		return s.syncNetworkPolicy(ctx, ns, name)
	case kindPDB:
		return s.syncPDB(ctx, ns, name)
	case kindPVC:
		return s.syncPVC(ctx, ns, name)
	case kindEndpointSlice:
		return s.syncEndpointSlice(ctx, ns, name)
	case kindServiceAccount:
		return s.syncServiceAccount(ctx, ns, name)
	case kindPriorityClass:
		return s.syncPriorityClass(ctx, name)
	case kindStorageClassUp:
		return s.syncStorageClassUp(ctx, name)
	case kindIngressClassUp:
		return s.syncIngressClassUp(ctx, name)
	case kindPriorityClassUp:
		return s.syncPriorityClassUp(ctx, name)
	case kindStorageClass:
		return s.syncStorageClass(ctx, name)
	case kindPV:
		return s.syncPV(ctx, name)
	}
	return s.syncRef(ctx, refKind(kind), ns, name)
}
