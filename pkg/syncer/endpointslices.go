package syncer

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/informers"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/names"
)

// EndpointSlices a tenant writes for a selector-less service (the modern
// form of hand-written Endpoints) are copied to the host, where kube-proxy
// reads slices: the copy names the host copy of its service in
// kubernetes.io/service-name, keeps the addresses, ports and conditions, and
// points pod target references at the host pods. Slices that the virtual
// cluster's own controllers make (for services with a selector, or mirrored
// from hand-written Endpoints) are not copied: the host's controllers make
// those from the host pods and the host copy of the Endpoints.

// kindEndpointSlice is the queue kind of endpoint slices.
const kindEndpointSlice = "endpointslices"

// endpointSliceManager is the managed-by label of the host copies: the
// host's endpoint slice controllers leave slices of other managers alone.
const endpointSliceManager = "syncer.nest.dev"

// indexSliceService indexes virtual slices by "namespace/service".
const indexSliceService = "service"

// kubernetesSliceManagers are the virtual cluster's controllers whose
// slices are never copied.
var kubernetesSliceManagers = map[string]bool{
	"endpointslice-controller.k8s.io":          true,
	"endpointslicemirroring-controller.k8s.io": true,
}

// endpointSliceInformers sets up the slice listers and returns their
// handlers, plus one on virtual services (a service that gains or loses its
// selector changes which of its slices are copied).
func (s *Syncer) endpointSliceInformers(virtual, host informers.SharedInformerFactory, services cache.SharedIndexInformer) ([]informerHandler, error) {
	v, h := virtual.Discovery().V1().EndpointSlices(), host.Discovery().V1().EndpointSlices()
	if err := v.Informer().AddIndexers(cache.Indexers{indexSliceService: func(obj any) ([]string, error) {
		if es, ok := obj.(*discoveryv1.EndpointSlice); ok && es.Labels[discoveryv1.LabelServiceName] != "" {
			return []string{es.Namespace + "/" + es.Labels[discoveryv1.LabelServiceName]}, nil
		}
		return nil, nil
	}}); err != nil {
		return nil, fmt.Errorf("index virtual endpoint slices: %w", err)
	}
	s.virtualEndpointSlices, s.hostEndpointSlices = v.Lister(), h.Lister().EndpointSlices(s.hostNamespace)
	s.virtualSliceIndex = v.Informer().GetIndexer()
	return []informerHandler{
		{v.Informer(), s.enqueueVirtual(kindEndpointSlice)},
		{h.Informer(), s.enqueueHostEndpointSlice},
		{services, s.enqueueServiceSlices},
	}, nil
}

// enqueueHostEndpointSlice maps a host copy back to its virtual slice. The
// host's mirroring controller copies the labels (and so the ownership) of
// the host Endpoints onto its slices: only Nest's slice copies count.
func (s *Syncer) enqueueHostEndpointSlice(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if es, ok := obj.(*discoveryv1.EndpointSlice); ok && es.Annotations[names.AnnotationVirtualKind] == "EndpointSlice" {
		s.enqueueHost(kindEndpointSlice)(obj)
	}
}

// enqueueServiceSlices queues the virtual slices of a service.
func (s *Syncer) enqueueServiceSlices(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	slices, err := s.virtualSliceIndex.ByIndex(indexSliceService, key)
	if err != nil {
		return
	}
	for _, o := range slices {
		if es, ok := o.(*discoveryv1.EndpointSlice); ok {
			s.queue.Add(queueKey(kindEndpointSlice, es.Namespace+"/"+es.Name))
		}
	}
}

// sliceWanted reports whether a virtual slice goes to the host: written by
// the tenant (not by a Kubernetes controller) for a selector-less service
// that is synced.
func (s *Syncer) sliceWanted(v *discoveryv1.EndpointSlice) (bool, error) {
	if v.DeletionTimestamp != nil || kubernetesSliceManagers[v.Labels[discoveryv1.LabelManagedBy]] {
		return false, nil
	}
	svcName := v.Labels[discoveryv1.LabelServiceName]
	if svcName == "" || isAPIServerService(v.Namespace, svcName) {
		return false, nil
	}
	svc, ok, err := found(s.virtualServices.Services(v.Namespace).Get(svcName))
	if err != nil || !ok {
		return false, err
	}
	return len(svc.Spec.Selector) == 0 && svc.DeletionTimestamp == nil, nil
}

// translateEndpointSlice returns the host copy of a tenant's slice.
func (s *Syncer) translateEndpointSlice(v *discoveryv1.EndpointSlice, hname string) *discoveryv1.EndpointSlice {
	meta := s.hostMeta(v.Namespace, v.Name, "EndpointSlice", v.UID, hname)
	meta.Labels = s.hostLabels(v.Labels, v.Namespace)
	meta.Labels[discoveryv1.LabelServiceName] = s.hostServiceName(v.Namespace, v.Labels[discoveryv1.LabelServiceName])
	meta.Labels[discoveryv1.LabelManagedBy] = endpointSliceManager
	h := &discoveryv1.EndpointSlice{
		ObjectMeta:  meta,
		AddressType: v.AddressType,
		Ports:       append([]discoveryv1.EndpointPort(nil), v.Ports...),
	}
	for _, ep := range v.Endpoints {
		ep = *ep.DeepCopy()
		if ref := ep.TargetRef; ref != nil {
			if ref.Kind == "Pod" {
				ns := ref.Namespace
				if ns == "" {
					ns = v.Namespace
				}
				ep.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: s.hostNamespace, Name: s.hostPodName(ns, ref.Name)}
			} else {
				ep.TargetRef = nil // nothing on the host to point at
			}
		}
		h.Endpoints = append(h.Endpoints, ep)
	}
	return h
}

func (s *Syncer) syncEndpointSlice(ctx context.Context, ns, name string) error {
	v, haveV, err := found(s.virtualEndpointSlices.EndpointSlices(ns).Get(name))
	if err != nil {
		return err
	}
	hname := s.hostObjectName(ns, name)
	h, haveH, err := found(s.hostEndpointSlices.Get(hname))
	if err != nil {
		return err
	}
	wanted := false
	if haveV {
		if wanted, err = s.sliceWanted(v); err != nil {
			return err
		}
	}
	return syncCopy(ctx, s, copyOf[*discoveryv1.EndpointSlice]{
		kind: "endpointslice", hostName: hname, client: s.host.DiscoveryV1().EndpointSlices(s.hostNamespace),
		host: h, exists: haveH, wanted: wanted, virtual: objectRefKind(v, "EndpointSlice", "discovery.k8s.io/v1"),
		want: func() *discoveryv1.EndpointSlice { return s.translateEndpointSlice(v, hname) },
		current: func(h, want *discoveryv1.EndpointSlice) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && h.AddressType == want.AddressType &&
				equality.Semantic.DeepEqual(h.Endpoints, want.Endpoints) && equality.Semantic.DeepEqual(h.Ports, want.Ports)
		},
		update: func(h, want *discoveryv1.EndpointSlice) (*discoveryv1.EndpointSlice, bool) {
			if h.AddressType != want.AddressType { // immutable
				return nil, false
			}
			updated := h.DeepCopy()
			updated.Labels, updated.Endpoints, updated.Ports = want.Labels, want.Endpoints, want.Ports
			return updated, true
		},
	}, ns, name)
}

// listers of the slices; nil while endpointslices are not synced.
type endpointSliceListers struct {
	virtualEndpointSlices discoverylisters.EndpointSliceLister
	virtualSliceIndex     cache.Indexer
	hostEndpointSlices    discoverylisters.EndpointSliceNamespaceLister
}
