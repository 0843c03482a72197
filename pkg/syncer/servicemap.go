package syncer

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/names"
)

// Service mappings (sync.serviceMappings) carry single services across the
// boundary, by name:
//
//   - fromHost: a host service (any host namespace the cluster was granted
//     read access to) appears in the virtual cluster as a selector-less
//     Service with Endpoints copied from the host service's Endpoints (the
//     virtual cluster's mirroring controller makes the EndpointSlices). Its
//     host copy then points at the same host pods, so the tenant's pods
//     reach the host service under a virtual name. ExternalName services
//     are copied as such, with no endpoints.
//   - toHost: a virtual service is exposed in the cluster's host namespace
//     under a chosen name: a host Service selecting the host copies of the
//     virtual service's pods.
//
// Rules in docs/syncer.md.

const (
	// kindMappedService is the queue kind of a fromHost mapping, keyed by
	// its virtual "namespace/name".
	kindMappedService = "mappedservices"
	// kindExposedService is the queue kind of a toHost mapping, keyed by
	// its host name.
	kindExposedService = "exposedservices"
	// annotationHostService marks a virtual service made from a host
	// service: "hostNamespace/name".
	annotationHostService = names.Domain + "/host-service"
	// virtualKindExposed is the virtual-kind annotation of an exposed
	// service on the host (a host copy of a service says "Service").
	virtualKindExposed = "ExposedService"
)

// mappedService is one fromHost mapping and the informers of its host
// service and endpoints, which watch that one name.
type mappedService struct {
	hostNS, hostName       string
	virtualNS, virtualName string
	services               corelisters.ServiceLister
	endpoints              corelisters.EndpointsLister
	synced                 []cache.InformerSynced
}

// serviceMappings are the syncer's mappings, read from the config once.
type serviceMappings struct {
	fromHost map[string]*mappedService // by virtual "namespace/name"
	toHost   map[string]string         // host name → virtual "namespace/name"
}

// setUpServiceMappings reads the mappings and returns the handlers that
// queue them on changes of virtual services, virtual endpoints and Nest's
// host services. The host informers of mapped services are started by
// startServiceMappings and not waited for: without a grant they never sync,
// and only their mappings wait.
func (s *Syncer) setUpServiceMappings(vsvcs, hsvcs coreinformers.ServiceInformer, veps coreinformers.EndpointsInformer) []informerHandler {
	m := serviceMappings{fromHost: map[string]*mappedService{}, toHost: map[string]string{}}
	for _, mapping := range s.rules.ServiceMappings.FromHost {
		hns, hname, ok1 := config.SplitServiceRef(mapping.From)
		vns, vname, ok2 := config.SplitServiceRef(mapping.To)
		if !ok1 || !ok2 {
			continue // config.Validate refuses these
		}
		f := informers.NewSharedInformerFactoryWithOptions(s.host, 0, informers.WithNamespace(hns),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				// One name: what the read grant allows (resourceNames).
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", hname).String()
			}))
		svcs, eps := f.Core().V1().Services(), f.Core().V1().Endpoints()
		ms := &mappedService{hostNS: hns, hostName: hname, virtualNS: vns, virtualName: vname,
			services: svcs.Lister(), endpoints: eps.Lister(),
			synced: []cache.InformerSynced{svcs.Informer().HasSynced, eps.Informer().HasSynced}}
		key := vns + "/" + vname
		enqueue := func(any) { s.queue.Add(queueKey(kindMappedService, key)) }
		for _, inf := range []cache.SharedIndexInformer{svcs.Informer(), eps.Informer()} {
			_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }, DeleteFunc: enqueue,
			})
		}
		m.fromHost[key] = ms
		s.extraInformers = append(s.extraInformers, f)
	}
	for _, mapping := range s.rules.ServiceMappings.ToHost {
		m.toHost[mapping.To] = mapping.From
	}
	s.serviceMaps = m
	virtual := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err != nil {
			return
		}
		if _, ok := m.fromHost[key]; ok || madeFromHostService(obj) {
			s.queue.Add(queueKey(kindMappedService, key))
		}
		for hostName, from := range m.toHost {
			if from == key {
				s.queue.Add(queueKey(kindExposedService, hostName))
			}
		}
	}
	host := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if svc, ok := obj.(*corev1.Service); ok && svc.Annotations[names.AnnotationVirtualKind] == virtualKindExposed {
			s.queue.Add(queueKey(kindExposedService, svc.Name))
		}
	}
	return []informerHandler{{vsvcs.Informer(), virtual}, {veps.Informer(), virtual}, {hsvcs.Informer(), host}}
}

// madeFromHostService reports whether a virtual service (or endpoints) is
// one of Nest's mapped services, whose mapping may be gone.
func madeFromHostService(obj any) bool {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	return ok && m.GetAnnotations()[annotationHostService] != "" && m.GetLabels()[names.LabelManagedBy] == names.ManagedByValue
}

// syncServiceMapping handles the queue kinds of service mappings; handled
// is false for other kinds.
func (s *Syncer) syncServiceMapping(ctx context.Context, kind, key string) (handled bool, err error) {
	switch kind {
	case kindMappedService:
		ns, name, err := cache.SplitMetaNamespaceKey(key)
		if err != nil {
			return true, nil
		}
		return true, s.syncMappedService(ctx, ns, name)
	case kindExposedService:
		return true, s.syncExposedService(ctx, key)
	}
	return false, nil
}

// isMappedService reports whether a virtual service is Nest's copy of the
// host service of m.
func isMappedService(v *corev1.Service, m *mappedService) bool {
	return v.Labels[names.LabelManagedBy] == names.ManagedByValue && v.Annotations[annotationHostService] == m.hostNS+"/"+m.hostName
}

// syncMappedService converges the virtual service (and endpoints) of one
// fromHost mapping; a virtual service Nest made for a mapping that is gone
// from the config is deleted.
func (s *Syncer) syncMappedService(ctx context.Context, ns, name string) error {
	v, haveV, err := found(s.virtualServices.Services(ns).Get(name))
	if err != nil {
		return err
	}
	m := s.serviceMaps.fromHost[ns+"/"+name]
	if m == nil {
		if haveV && madeFromHostService(v) {
			return s.deleteMappedService(ctx, v)
		}
		return nil
	}
	if haveV && !isMappedService(v, m) {
		return s.warn(ctx, objectRef(v, "Service"), "ServiceMappingRefused",
			fmt.Sprintf("sync.serviceMappings maps host service %s/%s here, but this service is not Nest's; it is left alone", m.hostNS, m.hostName))
	}
	for _, synced := range m.synced {
		if !synced() {
			// Retried with back-off: reading another namespace needs the
			// grant made when the cluster was created.
			return fmt.Errorf("host service %s/%s is not readable yet (read access is granted at create time)", m.hostNS, m.hostName)
		}
	}
	h, haveH, err := found(m.services.Services(m.hostNS).Get(m.hostName))
	if err != nil {
		return err
	}
	if !haveH {
		// The host service is gone (or not readable yet): so is its
		// virtual copy.
		if haveV {
			return s.deleteMappedService(ctx, v)
		}
		return nil
	}
	if err := s.ensureVirtualNamespace(ctx, ns); err != nil {
		return err
	}
	want := mappedVirtualService(m, h)
	switch {
	case !haveV:
		_, err := s.virtual.CoreV1().Services(ns).Create(ctx, want, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create virtual service %s/%s for host service %s/%s: %w", ns, name, m.hostNS, m.hostName, err)
		}
		return nil // its event brings the endpoints
	case headlessOrExternal(v) != headlessOrExternal(want):
		return s.deleteMappedService(ctx, v) // made again on its deletion event
	case !equality.Semantic.DeepEqual(mappedSpec(v), mappedSpec(want)):
		updated := v.DeepCopy()
		updated.Spec.Type, updated.Spec.Ports, updated.Spec.ExternalName = want.Spec.Type, want.Spec.Ports, want.Spec.ExternalName
		if _, err := s.virtual.CoreV1().Services(ns).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return ignoreGone(err, fmt.Sprintf("update virtual service %s/%s from host service %s/%s", ns, name, m.hostNS, m.hostName))
		}
	}
	if want.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	hep, _, err := found(m.endpoints.Endpoints(m.hostNS).Get(m.hostName))
	if err != nil {
		return err
	}
	return s.syncMappedEndpoints(ctx, m, hep)
}

// mappedVirtualService is the virtual service of a host service: no
// selector, the host service's ports, headless if it is.
func mappedVirtualService(m *mappedService, h *corev1.Service) *corev1.Service {
	v := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: m.virtualName, Namespace: m.virtualNS,
			Labels:      map[string]string{names.LabelManagedBy: names.ManagedByValue},
			Annotations: map[string]string{annotationHostService: m.hostNS + "/" + m.hostName},
		},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
	}
	if h.Spec.Type == corev1.ServiceTypeExternalName {
		v.Spec.Type, v.Spec.ExternalName = corev1.ServiceTypeExternalName, h.Spec.ExternalName
		return v
	}
	if h.Spec.ClusterIP == corev1.ClusterIPNone {
		v.Spec.ClusterIP = corev1.ClusterIPNone
	}
	for _, p := range h.Spec.Ports {
		v.Spec.Ports = append(v.Spec.Ports, corev1.ServicePort{
			Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort, AppProtocol: p.AppProtocol,
		})
	}
	return v
}

// mappedSpec is the part of a mapped service's spec that follows the host.
func mappedSpec(v *corev1.Service) corev1.ServiceSpec {
	spec := corev1.ServiceSpec{Type: v.Spec.Type, ExternalName: v.Spec.ExternalName}
	for _, p := range v.Spec.Ports {
		spec.Ports = append(spec.Ports, corev1.ServicePort{Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort, AppProtocol: p.AppProtocol})
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	return spec
}

// headlessOrExternal is what cannot change in place.
func headlessOrExternal(v *corev1.Service) string {
	switch {
	case v.Spec.Type == corev1.ServiceTypeExternalName:
		return "external"
	case v.Spec.ClusterIP == corev1.ClusterIPNone:
		return "headless"
	}
	return ""
}

// syncMappedEndpoints keeps the virtual Endpoints of a mapped service equal
// to the host service's: the same addresses and ports, without references
// to host pods and nodes (they mean nothing in the virtual cluster).
func (s *Syncer) syncMappedEndpoints(ctx context.Context, m *mappedService, hep *corev1.Endpoints) error {
	want := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Name: m.virtualName, Namespace: m.virtualNS,
		Labels:      map[string]string{names.LabelManagedBy: names.ManagedByValue},
		Annotations: map[string]string{annotationHostService: m.hostNS + "/" + m.hostName},
	}}
	if hep != nil {
		want.Subsets = mappedSubsets(hep.Subsets)
	}
	v, haveV, err := found(s.virtualEndpoints.Endpoints(m.virtualNS).Get(m.virtualName))
	if err != nil {
		return err
	}
	client := s.virtual.CoreV1().Endpoints(m.virtualNS)
	if !haveV {
		_, err := client.Create(ctx, want, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create virtual endpoints %s/%s: %w", m.virtualNS, m.virtualName, err)
		}
		return nil
	}
	if equality.Semantic.DeepEqual(v.Subsets, want.Subsets) && v.Annotations[annotationHostService] == want.Annotations[annotationHostService] {
		return nil
	}
	// The service is Nest's, so are its endpoints: a tenant's edit is put back.
	updated := v.DeepCopy()
	updated.Subsets = want.Subsets
	if updated.Labels == nil {
		updated.Labels = map[string]string{}
	}
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	maps.Copy(updated.Labels, want.Labels)
	maps.Copy(updated.Annotations, want.Annotations)
	_, err = client.Update(ctx, updated, metav1.UpdateOptions{})
	return ignoreGone(err, fmt.Sprintf("update virtual endpoints %s/%s", m.virtualNS, m.virtualName))
}

// mappedSubsets copies host endpoint subsets without their references to
// host pods and nodes.
func mappedSubsets(subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	var out []corev1.EndpointSubset
	for _, sub := range subsets {
		c := *sub.DeepCopy()
		for _, addrs := range [][]corev1.EndpointAddress{c.Addresses, c.NotReadyAddresses} {
			for i := range addrs {
				addrs[i].TargetRef, addrs[i].NodeName = nil, nil
			}
		}
		out = append(out, c)
	}
	return out
}

// deleteMappedService deletes a virtual service Nest made from a host
// service, and its endpoints.
func (s *Syncer) deleteMappedService(ctx context.Context, v *corev1.Service) error {
	err := s.virtual.CoreV1().Services(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &v.UID}})
	if err := ignoreGone(err, fmt.Sprintf("delete virtual service %s/%s", v.Namespace, v.Name)); err != nil {
		return err
	}
	err = s.virtual.CoreV1().Endpoints(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{})
	return ignoreGone(err, fmt.Sprintf("delete virtual endpoints %s/%s", v.Namespace, v.Name))
}

// ensureVirtualNamespace makes the virtual namespace a mapped service goes
// to, if the tenant has not.
func (s *Syncer) ensureVirtualNamespace(ctx context.Context, ns string) error {
	_, err := s.virtual.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return wrap(err, "read virtual namespace "+ns)
	}
	_, err = s.virtual.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{names.LabelManagedBy: names.ManagedByValue},
	}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return wrap(err, "create virtual namespace "+ns+" for a mapped host service")
}

// syncExposedService converges one toHost mapping: a host service of the
// chosen name in the host namespace selecting the host copies of the
// virtual service's pods; gone when the mapping or the virtual service is.
// A host object of that name that Nest did not make is left alone.
func (s *Syncer) syncExposedService(ctx context.Context, hostName string) error {
	h, haveH, err := found(s.hostServices.Get(hostName))
	if err != nil {
		return err
	}
	exists := haveH && h.Annotations[names.AnnotationVirtualKind] == virtualKindExposed
	from, mapped := s.serviceMaps.toHost[hostName]
	var v *corev1.Service
	var haveV bool
	ns, name, _ := config.SplitServiceRef(from)
	if mapped {
		if v, haveV, err = found(s.virtualServices.Services(ns).Get(name)); err != nil {
			return err
		}
	}
	if haveH && !exists {
		// The host copy of some virtual service has that name: never ours
		// to expose under.
		if haveV {
			return s.refuseForeign(ctx, objectRef(v, "Service"), "service", hostName)
		}
		return nil
	}
	if haveV && hostName == s.hostServiceName(ns, name) {
		return s.warn(ctx, objectRef(v, "Service"), "ExposeRefused",
			fmt.Sprintf("host name %s is the name of this service's own host copy; choose another in sync.serviceMappings.toHost", hostName))
	}
	if !exists {
		h = nil
	}
	return syncCopy(ctx, s, copyOf[*corev1.Service]{
		kind: "service", hostName: hostName, client: s.host.CoreV1().Services(s.hostNamespace),
		host: h, exists: exists, wanted: haveV && !isAPIServerService(ns, name), virtual: objectRef(v, "Service"),
		want: func() *corev1.Service { return s.exposedService(v, hostName) },
		current: func(h, want *corev1.Service) bool {
			merged, ok := mergeExposed(h, want)
			return ok && sameOrigin(h, want) && h.Annotations[names.AnnotationVirtualKind] == virtualKindExposed &&
				maps.Equal(h.Labels, want.Labels) && equality.Semantic.DeepEqual(merged.Spec, h.Spec)
		},
		update: mergeExposed,
	}, ns, name)
}

// exposedService is the host service exposing a virtual one: a ClusterIP
// (or headless) service selecting the host copies of its pods, with its
// ports. A selector-less virtual service gives a selector-less host
// service (its endpoints are not copied).
func (s *Syncer) exposedService(v *corev1.Service, hostName string) *corev1.Service {
	h := &corev1.Service{ObjectMeta: s.hostMeta(v.Namespace, v.Name, virtualKindExposed, v.UID, hostName)}
	h.Spec.Type = corev1.ServiceTypeClusterIP
	if v.Spec.ClusterIP == corev1.ClusterIPNone {
		h.Spec.ClusterIP = corev1.ClusterIPNone
	}
	h.Spec.Selector = s.hostSelector(v.Spec.Selector, v.Namespace)
	h.Spec.SessionAffinity = v.Spec.SessionAffinity
	h.Spec.PublishNotReadyAddresses = v.Spec.PublishNotReadyAddresses
	for _, p := range v.Spec.Ports {
		h.Spec.Ports = append(h.Spec.Ports, corev1.ServicePort{
			Name: p.Name, Protocol: p.Protocol, Port: p.Port, TargetPort: p.TargetPort, AppProtocol: p.AppProtocol,
		})
	}
	return h
}

// mergeExposed returns the exposed host service carrying want's spec and
// the host's allocations; false when headlessness changed (replace it).
func mergeExposed(h, want *corev1.Service) (*corev1.Service, bool) {
	if (h.Spec.ClusterIP == corev1.ClusterIPNone) != (want.Spec.ClusterIP == corev1.ClusterIPNone) {
		return nil, false
	}
	updated := h.DeepCopy()
	updated.Labels = want.Labels
	updated.Spec.Type, updated.Spec.Selector = want.Spec.Type, want.Spec.Selector
	updated.Spec.SessionAffinity, updated.Spec.PublishNotReadyAddresses = want.Spec.SessionAffinity, want.Spec.PublishNotReadyAddresses
	updated.Spec.Ports = want.Spec.Ports
	if updated.Spec.SessionAffinity == "" {
		updated.Spec.SessionAffinity = h.Spec.SessionAffinity
	}
	for i := range updated.Spec.Ports {
		if updated.Spec.Ports[i].Protocol == "" {
			updated.Spec.Ports[i].Protocol = corev1.ProtocolTCP
		}
		if updated.Spec.Ports[i].TargetPort.IntVal == 0 && updated.Spec.Ports[i].TargetPort.StrVal == "" {
			updated.Spec.Ports[i].TargetPort.IntVal = updated.Spec.Ports[i].Port
		}
	}
	return updated, true
}
