package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/nestcluster/nest/pkg/names"
)

// Services are copied down with their selector translated, so they select
// exactly the host copies of the tenant's pods. The host is the source of
// truth for what it allocates: a virtual service moves to the cluster IP
// of its host copy (through ExternalName, the one way to change a cluster
// IP; the virtual and host service CIDRs match), node ports are copied up,
// and so is the load-balancer status. Rules in docs/syncer.md.

// kindService is the queue kind of services; endpoints of selector-less
// services share it, since they depend on their service.
const kindService = "services"

// kindEndpoints is the config kind of the Endpoints of selector-less
// services (queued as their service).
const kindEndpoints = "endpoints"

// isAPIServerService reports whether a virtual service is the virtual
// apiserver's own `default/kubernetes`, or the ExternalName to its
// loopback metrics API (pkg/vmetrics), which never go to the host.
func isAPIServerService(ns, name string) bool {
	return ns == "default" && name == "kubernetes" || ns == "kube-system" && name == "nest-metrics"
}

func (s *Syncer) hostServiceName(ns, name string) string { return names.HostName(s.vc, ns, name) }

// syncService converges one virtual service, its host copy, and for a
// selector-less service the endpoints the tenant wrote for it.
func (s *Syncer) syncService(ctx context.Context, ns, name string) error {
	v, haveV, err := found(s.virtualServices.Services(ns).Get(name))
	if err != nil {
		return err
	}
	if haveV && v.Annotations[annotationMoving] != "" {
		// Half-way through a move (an interrupted pass, or a cache that
		// lags): it is finished first, and its host copy is left alone
		// meanwhile (it is not an ExternalName for the tenant). The
		// update's event brings the service back.
		live, err := s.liveService(ctx, ns, name)
		if err != nil || live == nil || live.Annotations[annotationMoving] == "" {
			return err
		}
		return s.finishMove(ctx, live)
	}
	hname := s.hostServiceName(ns, name)
	h, haveH, err := found(s.hostServices.Get(hname))
	if err != nil {
		return err
	}
	owned := haveH && s.ownsObject(h, ns, name)
	if haveH && (!haveV || owned && hostOrigin(h, v) != originSame) {
		// The lister may lag a recreation (see recreateVirtualService):
		// losing the host copy would lose its cluster IP. Ask the apiserver,
		// and go on with what it says.
		if v, err = s.liveService(ctx, ns, name); err != nil {
			return err
		}
		haveV = v != nil
	}
	if owned {
		switch hostOrigin(h, v) {
		case originRecreating:
			return s.finishRecreation(ctx, h, h.Annotations[annotationRecreating])
		case originReplaced:
			// Made from an earlier service of this name, which is gone (a
			// tenant deleted and made it again): the copy goes, with its
			// cluster IP, and the next pass makes a fresh one. The
			// resource version guards against a stale cache: a copy
			// changed since (a recreation naming its new origin) stays.
			uid, rv := h.UID, h.ResourceVersion
			err := s.host.CoreV1().Services(s.hostNamespace).Delete(ctx, hname, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
			if err == nil {
				s.log.Info("Host service of an earlier virtual service of the same name deleted", "service", ns+"/"+name, "host", hname)
			}
			return ignoreGone(err, "delete host service "+hname+" of a gone virtual service")
		}
	}
	wanted := haveV && !isAPIServerService(ns, name)
	replaced := false // h is gone: nothing to copy up from it this pass
	err = syncCopy(ctx, s, copyOf[*corev1.Service]{
		kind: "service", hostName: hname, client: s.host.CoreV1().Services(s.hostNamespace),
		host: h, exists: haveH, wanted: wanted, virtual: objectRef(v, "Service"),
		want:     func() *corev1.Service { return s.translateService(v, hname) },
		fallback: hostAllocated,
		current: func(h, want *corev1.Service) bool {
			merged, ok := mergeService(h, want)
			return ok && sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && equality.Semantic.DeepEqual(merged.Spec, h.Spec)
		},
		update: mergeService,
		replaced: func() error {
			replaced = true
			return s.remakeHostService(ctx, ns, name, v.UID, hname)
		},
	}, ns, name)
	if err != nil {
		return err
	}
	if wanted {
		if err := s.restoreEndpoints(ctx, v); err != nil {
			return err
		}
	}
	if s.enabled(kindEndpoints) {
		if err := s.syncEndpoints(ctx, ns, name, hname, wanted && len(v.Spec.Selector) == 0); err != nil {
			return err
		}
	}
	if !wanted || !haveH || replaced || !s.ownsObject(h, ns, name) {
		return nil
	}
	return s.syncServiceUp(ctx, v, h)
}

// translateService returns the host copy of a virtual service. It asks
// the host for the cluster IP and node ports the virtual cluster gave the
// service: when they are free there (the usual case: the ranges match and
// are large), nothing needs to move. External IPs are dropped, since they
// would let a tenant intercept traffic to any address on the host
// (CVE-2020-8554).
func (s *Syncer) translateService(v *corev1.Service, hname string) *corev1.Service {
	meta := s.hostMeta(v.Namespace, v.Name, "Service", v.UID, hname)
	meta.Labels = s.hostLabels(v.Labels, v.Namespace)
	h := &corev1.Service{ObjectMeta: meta}
	copyServiceSpec(&h.Spec, &v.Spec, s.hostSelector(v.Spec.Selector, v.Namespace))
	h.Spec.ClusterIP, h.Spec.ClusterIPs = v.Spec.ClusterIP, v.Spec.ClusterIPs
	h.Spec.IPFamilies, h.Spec.IPFamilyPolicy = v.Spec.IPFamilies, v.Spec.IPFamilyPolicy
	return h
}

// liveService reads a virtual service from the apiserver, not the cache;
// nil when there is none.
func (s *Syncer) liveService(ctx context.Context, ns, name string) (*corev1.Service, error) {
	live, err := s.virtual.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read virtual service %s/%s: %w", ns, name, err)
	}
	return live, nil
}

// origin is what a host service copy is to the virtual service of its name.
type origin int

const (
	// originSame: made from this virtual service (its uid annotation).
	originSame origin = iota
	// originRecreating: a recreation of the virtual service is recorded on
	// the copy (annotationRecreating); finishRecreation decides.
	originRecreating
	// originGone: no virtual service of that name: the copy goes.
	originGone
	// originReplaced: made from an earlier virtual service of that name,
	// which is gone: the copy goes and a fresh one is made.
	originReplaced
)

// hostOrigin says what the host copy h (Nest's) is to the virtual service
// v (nil when there is none), as read from the apiserver when it matters.
func hostOrigin(h, v *corev1.Service) origin {
	switch {
	case h.Annotations[annotationRecreating] != "":
		return originRecreating
	case v == nil:
		return originGone
	case h.Annotations[names.AnnotationVirtualUID] != string(v.UID):
		return originReplaced
	}
	return originSame
}

// remakeHostService makes the host copy of a virtual service again right
// after the old copy was deleted to be replaced (an immutable field
// changed), if the virtual service is still the one it was made from, as
// the apiserver (not the cache) says: a tenant's delete that landed
// meanwhile is not undone. One that lands after this read and before the
// create leaves a copy whose virtual service is gone, and the virtual
// delete's pass removes it (syncService asks the apiserver).
func (s *Syncer) remakeHostService(ctx context.Context, ns, name string, uid types.UID, hname string) error {
	at(s.hooks.beforeHostRemake, ns, name)
	live, err := s.liveService(ctx, ns, name)
	if err != nil || live == nil || live.UID != uid || live.DeletionTimestamp != nil {
		return err
	}
	at(s.hooks.afterHostRecheck, ns, name)
	services := s.host.CoreV1().Services(s.hostNamespace)
	want := s.translateService(live, hname)
	_, err = services.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsInvalid(err) {
		_, err = services.Create(ctx, hostAllocated(want), metav1.CreateOptions{})
	}
	if apierrors.IsAlreadyExists(err) { // made meanwhile, or not Nest's: the next pass sees
		return nil
	}
	return wrap(err, "make host service "+hname+" again")
}

// hostAllocated is a host service left to the host to allocate: its IP or
// a node port was taken (or out of range) there. The virtual service then
// follows the host (syncServiceUp).
func hostAllocated(h *corev1.Service) *corev1.Service {
	h = h.DeepCopy()
	if h.Spec.ClusterIP != corev1.ClusterIPNone {
		h.Spec.ClusterIP, h.Spec.ClusterIPs = "", nil
	}
	h.Spec.IPFamilies, h.Spec.IPFamilyPolicy = nil, nil
	for i := range h.Spec.Ports {
		h.Spec.Ports[i].NodePort = 0
	}
	return h
}

// copyServiceSpec copies what the tenant decides about a service; cluster
// IPs, node ports, IP families and health-check ports are the host's.
func copyServiceSpec(dst, src *corev1.ServiceSpec, selector map[string]string) {
	dst.Type = src.Type
	dst.Selector = selector
	dst.Ports = append([]corev1.ServicePort(nil), src.Ports...)
	dst.SessionAffinity = src.SessionAffinity
	dst.SessionAffinityConfig = src.SessionAffinityConfig.DeepCopy()
	dst.PublishNotReadyAddresses = src.PublishNotReadyAddresses
	dst.ExternalName = src.ExternalName
	dst.ExternalTrafficPolicy = src.ExternalTrafficPolicy
	dst.InternalTrafficPolicy = src.InternalTrafficPolicy
	dst.LoadBalancerSourceRanges = src.LoadBalancerSourceRanges
	dst.LoadBalancerClass = src.LoadBalancerClass
	dst.AllocateLoadBalancerNodePorts = src.AllocateLoadBalancerNodePorts
	dst.TrafficDistribution = src.TrafficDistribution
}

// mergeService returns the host service carrying want's spec and the host's
// allocations, or false when it must be replaced (headless or ExternalName
// changed: the host cannot convert those in place without losing the IP
// anyway).
func mergeService(h, want *corev1.Service) (*corev1.Service, bool) {
	headless := func(s *corev1.Service) bool { return s.Spec.ClusterIP == corev1.ClusterIPNone }
	external := func(s *corev1.Service) bool { return s.Spec.Type == corev1.ServiceTypeExternalName }
	if headless(h) != headless(want) || external(h) != external(want) {
		return nil, false
	}
	updated := h.DeepCopy()
	updated.Labels = want.Labels
	copyServiceSpec(&updated.Spec, &want.Spec, want.Spec.Selector)
	hostPorts := nodePorts(h)
	for i := range updated.Spec.Ports {
		if updated.Spec.Type == corev1.ServiceTypeNodePort || updated.Spec.Type == corev1.ServiceTypeLoadBalancer {
			updated.Spec.Ports[i].NodePort = hostPorts[portKey(updated.Spec.Ports[i])]
		}
	}
	return updated, true
}

func portKey(p corev1.ServicePort) string { return fmt.Sprintf("%s/%d", p.Protocol, p.Port) }

// nodePorts maps a service's ports (portKey) to their node ports.
func nodePorts(svc *corev1.Service) map[string]int32 {
	out := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		out[portKey(p)] = p.NodePort
	}
	return out
}

// syncServiceUp brings what the host allocated into the virtual service:
// its cluster IP, node ports and load-balancer status.
func (s *Syncer) syncServiceUp(ctx context.Context, v, h *corev1.Service) error {
	hostIP, virtualIP := h.Spec.ClusterIP, v.Spec.ClusterIP
	hasIP := func(ip string) bool { return ip != "" && ip != corev1.ClusterIPNone }
	if hasIP(hostIP) && hasIP(virtualIP) && virtualIP != hostIP {
		return s.recreateVirtualService(ctx, v, h)
	}
	hostPorts := nodePorts(h)
	updated := v.DeepCopy()
	for i, p := range updated.Spec.Ports {
		if np := hostPorts[portKey(p)]; np != 0 {
			updated.Spec.Ports[i].NodePort = np
		}
	}
	if !equality.Semantic.DeepEqual(updated.Spec.Ports, v.Spec.Ports) {
		if _, err := s.virtual.CoreV1().Services(v.Namespace).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
			return ignoreGone(err, fmt.Sprintf("copy node ports up to virtual service %s/%s", v.Namespace, v.Name))
		}
		return nil // its event brings us back for the status
	}
	if equality.Semantic.DeepEqual(v.Status.LoadBalancer, h.Status.LoadBalancer) {
		return nil
	}
	updated.Status.LoadBalancer = *h.Status.LoadBalancer.DeepCopy()
	_, err := s.virtual.CoreV1().Services(v.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreGone(err, fmt.Sprintf("copy load-balancer status up to virtual service %s/%s", v.Namespace, v.Name))
}

// annotationMoving, on a virtual service, holds the spec it is moving to
// (its host copy's cluster IP) while it passes through ExternalName: from
// the first of the two updates of a move until the second. A syncer
// restarted in between finishes the move from it.
const annotationMoving = names.Domain + "/moving-to"

// movingExternalName is the name a moving service points at for the
// moment it is an ExternalName service.
const movingExternalName = "moving.nest.invalid"

// recreateVirtualService gives a virtual service the cluster IP of its host
// copy. A cluster IP cannot be changed in place, except through
// ExternalName: the service is updated to an ExternalName (which frees
// its IP) recording the spec it moves to, then back to its type with the
// host's IP. It is never deleted, so there is no moment without it: a
// tenant's delete at any point deletes it (the second update then finds
// nothing and stops), and a tenant's write between the two updates is
// kept (the second update is made on top of it).
func (s *Syncer) recreateVirtualService(ctx context.Context, v, h *corev1.Service) error {
	if err := s.claimableIP(ctx, h.Spec.ClusterIP); err != nil {
		return fmt.Errorf("virtual service %s/%s cannot take the cluster IP of its host copy yet: %w", v.Namespace, v.Name, err)
	}
	target := v.Spec.DeepCopy()
	target.ClusterIP, target.ClusterIPs = h.Spec.ClusterIP, h.Spec.ClusterIPs
	target.IPFamilies, target.IPFamilyPolicy = nil, nil
	intent, err := json.Marshal(target)
	if err != nil {
		return fmt.Errorf("move virtual service %s/%s: %w", v.Namespace, v.Name, err)
	}
	moving := v.DeepCopy()
	if moving.Annotations == nil {
		moving.Annotations = map[string]string{}
	}
	moving.Annotations[annotationMoving] = string(intent)
	asExternalName(&moving.Spec)
	// The resource version of v guards the first step: a tenant's write
	// since is not overwritten, and the next pass decides again.
	moved, err := s.virtual.CoreV1().Services(v.Namespace).Update(ctx, moving, metav1.UpdateOptions{})
	if err != nil {
		return ignoreGone(err, fmt.Sprintf("move virtual service %s/%s to its host cluster IP %s", v.Namespace, v.Name, h.Spec.ClusterIP))
	}
	at(s.hooks.beforeRecreate, v.Namespace, v.Name)
	return s.finishMove(ctx, moved)
}

// asExternalName turns a service spec into an ExternalName one, dropping
// what only other types have (the IPs and node ports go back to the
// allocators).
func asExternalName(spec *corev1.ServiceSpec) {
	spec.Type, spec.ExternalName = corev1.ServiceTypeExternalName, movingExternalName
	spec.ClusterIP, spec.ClusterIPs = "", nil
	spec.IPFamilies, spec.IPFamilyPolicy = nil, nil
	spec.HealthCheckNodePort = 0
	spec.ExternalTrafficPolicy = ""
	spec.LoadBalancerClass, spec.AllocateLoadBalancerNodePorts = nil, nil
	for i := range spec.Ports {
		spec.Ports[i].NodePort = 0
	}
}

// movedSpec is the spec a move ends with: what the tenant has now (it may
// have written between the two steps), with what the first step changed
// taken from the recorded target.
func movedSpec(now, target corev1.ServiceSpec) corev1.ServiceSpec {
	spec := *now.DeepCopy()
	spec.Type, spec.ExternalName = target.Type, target.ExternalName
	spec.ClusterIP, spec.ClusterIPs = target.ClusterIP, target.ClusterIPs
	spec.IPFamilies, spec.IPFamilyPolicy = target.IPFamilies, target.IPFamilyPolicy
	spec.HealthCheckNodePort, spec.ExternalTrafficPolicy = target.HealthCheckNodePort, target.ExternalTrafficPolicy
	spec.LoadBalancerClass, spec.AllocateLoadBalancerNodePorts = target.LoadBalancerClass, target.AllocateLoadBalancerNodePorts
	ports := nodePorts(&corev1.Service{Spec: target})
	for i := range spec.Ports {
		spec.Ports[i].NodePort = ports[portKey(spec.Ports[i])]
	}
	return spec
}

// moveAttempts bounds the second step's retries within one pass when
// tenants' writes keep conflicting; the next pass goes on.
const moveAttempts = 5

// finishMove takes a virtual service recorded as moving (annotationMoving,
// by this pass or one interrupted earlier) to the spec it moves to, on
// top of whatever the tenant wrote meanwhile. When the recorded IP was
// taken meanwhile, it gets any IP (the tenant is never left with the
// ExternalName) and moves again on a later pass.
func (s *Syncer) finishMove(ctx context.Context, v *corev1.Service) error {
	services := s.virtual.CoreV1().Services(v.Namespace)
	for attempt := 0; ; attempt++ {
		var target corev1.ServiceSpec
		if err := json.Unmarshal([]byte(v.Annotations[annotationMoving]), &target); err != nil {
			return fmt.Errorf("move of virtual service %s/%s recorded in %s: %w", v.Namespace, v.Name, annotationMoving, err)
		}
		done := v.DeepCopy()
		delete(done.Annotations, annotationMoving)
		if v.Spec.Type == corev1.ServiceTypeExternalName && v.Spec.ExternalName == movingExternalName {
			done.Spec = movedSpec(v.Spec, target)
		} // else the tenant changed its type meanwhile: its spec stands, and the next pass decides again
		_, err := services.Update(ctx, done, metav1.UpdateOptions{})
		if apierrors.IsInvalid(err) {
			// The IP (or a node port) was taken meanwhile: any will do.
			err = fmt.Errorf("with cluster IP %s: %w", target.ClusterIP, err)
			done.Spec.ClusterIP, done.Spec.ClusterIPs = "", nil
			for i := range done.Spec.Ports {
				done.Spec.Ports[i].NodePort = 0
			}
			if _, anyErr := services.Update(ctx, done, metav1.UpdateOptions{}); anyErr != nil {
				err = errors.Join(err, anyErr)
			}
		}
		switch {
		case err == nil:
			at(s.hooks.afterRecreate, v.Namespace, v.Name)
			s.log.Info("Virtual service moved to its host cluster IP", "service", v.Namespace+"/"+v.Name, "clusterIP", target.ClusterIP)
			return nil
		case apierrors.IsNotFound(err):
			return nil // the tenant deleted it: its delete wins, and the copy goes with it
		case !apierrors.IsConflict(err) || attempt+1 >= moveAttempts:
			return fmt.Errorf("move virtual service %s/%s to cluster IP %s: %w", v.Namespace, v.Name, target.ClusterIP, err)
		}
		// A tenant's write came between the two steps: the move goes on
		// from the service as it is now.
		live, err := s.liveService(ctx, v.Namespace, v.Name)
		if err != nil || live == nil || live.Annotations[annotationMoving] == "" {
			return err
		}
		v = live
	}
}

// createRecorded creates the virtual service a recreation recorded on its
// host copy h (annotationRecreating: a recreation begun by a syncer before
// services moved through ExternalName, finished after an upgrade), then
// drops the record in the same pass, naming the new service as the
// copy's origin. What the apiserver (not the cache) shows decides
// (recreationStep): a tenant's service of that name, or its namespace
// going, is not overridden.
func (s *Syncer) createRecorded(ctx context.Context, h, again *corev1.Service) error {
	live, err := s.liveService(ctx, again.Namespace, again.Name)
	if err != nil {
		return err
	}
	nsObj, err := s.virtual.CoreV1().Namespaces().Get(ctx, again.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		nsObj, err = nil, nil
	}
	if err != nil {
		return fmt.Errorf("read virtual namespace %s: %w", again.Namespace, err)
	}
	switch recreationStep(live, nsObj) {
	case stepAdopt: // a service of that name exists: the next pass sees to its copy
		return s.dropRecreationIntent(ctx, h, "")
	case stepAbandon:
		s.log.Info("Virtual service not recreated: its namespace is going", "service", again.Namespace+"/"+again.Name)
		return s.dropRecreationIntent(ctx, h, "")
	}
	made, refused, err := createServiceAnyIP(ctx, s.virtual.CoreV1().Services(again.Namespace), again)
	if err != nil {
		return fmt.Errorf("recreate virtual service %s/%s: %w", again.Namespace, again.Name, err)
	}
	if err := s.dropRecreationIntent(ctx, h, made.UID); err != nil {
		return err
	}
	if refused != nil {
		// It has another IP for now; it moves to the host's on a later pass.
		return fmt.Errorf("recreate virtual service %s/%s with cluster IP %s: %w", again.Namespace, again.Name, again.Spec.ClusterIP, refused)
	}
	s.log.Info("Virtual service moved to its host cluster IP", "service", again.Namespace+"/"+again.Name, "clusterIP", again.Spec.ClusterIP)
	return nil
}

// step is what a recreation does once the old virtual service is deleted.
type step int

const (
	stepCreate  step = iota // create the service from the record
	stepAdopt               // a service of that name exists (the tenant made one): keep it, drop the record
	stepAbandon             // the namespace is gone or going: create nothing, drop the record (the copy goes)
)

// recreationStep decides a recreation's next step from the live virtual
// service of the name (nil: none) and its namespace (nil: gone).
func recreationStep(live *corev1.Service, ns *corev1.Namespace) step {
	switch {
	case live != nil:
		return stepAdopt
	case ns == nil || ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating:
		return stepAbandon
	}
	return stepCreate
}

// createServiceAnyIP creates a virtual service with the cluster IP it asks
// for or, when that is refused (taken meanwhile), with any IP: the tenant is
// never left without its service. made is the service; refused says why
// the asked IP was not taken; err, that the service could not be made at
// all. A service that exists already counts as made (the one read back).
func createServiceAnyIP(ctx context.Context, services corev1client.ServiceInterface, svc *corev1.Service) (made *corev1.Service, refused, err error) {
	made, refused = services.Create(ctx, svc, metav1.CreateOptions{})
	if refused == nil {
		return made, nil, nil
	}
	if apierrors.IsAlreadyExists(refused) {
		made, err = services.Get(ctx, svc.Name, metav1.GetOptions{})
		return made, nil, wrap(err, "read service "+svc.Namespace+"/"+svc.Name)
	}
	anyIP := svc.DeepCopy()
	anyIP.Spec.ClusterIP, anyIP.Spec.ClusterIPs = "", nil
	made, err = services.Create(ctx, anyIP, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		made, err = services.Get(ctx, svc.Name, metav1.GetOptions{})
		return made, refused, wrap(err, "read service "+svc.Namespace+"/"+svc.Name)
	}
	if err != nil {
		return nil, refused, fmt.Errorf("%w (with cluster IP %s: %v)", err, svc.Spec.ClusterIP, refused)
	}
	return made, refused, nil
}

// leakedIPAge is how old an IP allocation without its service must be
// before it counts as leaked: the apiserver allocates an IP, then stores
// the service, so a fresh allocation may be a create in flight.
const leakedIPAge = 10 * time.Second

// claimableIP returns nil when a cluster IP can be given to a service in
// the virtual cluster. IPs are allocated as IPAddress objects; one whose
// service is gone was leaked (a control plane killed between allocating
// and storing) and is freed here, as the apiserver's repair loop would do
// minutes later. An IP another service holds is not claimable: that
// service moves to its own host IP first.
func (s *Syncer) claimableIP(ctx context.Context, ip string) error {
	addr, err := s.virtual.NetworkingV1().IPAddresses().Get(ctx, ip, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read IP allocation %s: %w", ip, err)
	}
	if ref := addr.Spec.ParentRef; ref != nil && ref.Group == "" && ref.Resource == "services" {
		svc, err := s.virtual.CoreV1().Services(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil && slices.Contains(svc.Spec.ClusterIPs, ip) {
			return fmt.Errorf("cluster IP %s is held by service %s/%s", ip, ref.Namespace, ref.Name)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("read service %s/%s: %w", ref.Namespace, ref.Name, err)
		}
	}
	if age := time.Since(addr.CreationTimestamp.Time); age < leakedIPAge {
		return fmt.Errorf("cluster IP %s was allocated %s ago, its service may still be on its way", ip, age.Round(time.Second))
	}
	s.log.Info("Freeing a leaked cluster IP allocation", "ip", ip)
	err = s.virtual.NetworkingV1().IPAddresses().Delete(ctx, ip, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &addr.UID}})
	return ignoreGone(err, "free leaked IP allocation "+ip)
}

// annotationRecreating, on a host service, holds the virtual service being
// recreated with its host cluster IP, from before the virtual one is deleted
// until the new one exists: the recreation survives a crash in between.
// Syncers before services moved through ExternalName wrote it; it is still
// finished (finishRecreation) after an upgrade.
const annotationRecreating = names.Domain + "/recreating"

// finishRecreation completes a recreation the host copy records, after a
// crash (or a failed pass) between the virtual delete and dropping the
// record: the virtual service, as the apiserver shows it, is created from
// the record if it is missing (createRecorded decides), and the record is
// dropped, naming the service as the copy's origin.
func (s *Syncer) finishRecreation(ctx context.Context, h *corev1.Service, intent string) error {
	var again corev1.Service
	if err := json.Unmarshal([]byte(intent), &again); err != nil {
		return fmt.Errorf("recreation recorded on host service %s: %w", h.Name, err)
	}
	live, err := s.liveService(ctx, again.Namespace, again.Name)
	if err != nil {
		return err
	}
	if live != nil {
		return s.dropRecreationIntent(ctx, h, live.UID)
	}
	s.log.Info("Finishing the recreation of a virtual service after an interruption", "service", again.Namespace+"/"+again.Name)
	return s.createRecorded(ctx, h, &again)
}

// dropRecreationIntent removes annotationRecreating from a host service
// (h is the copy before the intent was written or as read since: its
// resource version may be stale, so it is read again) and, when origin is
// set, names that virtual service as the copy's origin.
func (s *Syncer) dropRecreationIntent(ctx context.Context, h *corev1.Service, origin types.UID) error {
	current, err := s.host.CoreV1().Services(s.hostNamespace).Get(ctx, h.Name, metav1.GetOptions{})
	if err != nil {
		return ignoreGone(err, "read host service "+h.Name)
	}
	if _, ok := current.Annotations[annotationRecreating]; !ok || current.UID != h.UID {
		return nil
	}
	done := current.DeepCopy()
	delete(done.Annotations, annotationRecreating)
	if origin != "" {
		done.Annotations[names.AnnotationVirtualUID] = string(origin)
	}
	_, err = s.host.CoreV1().Services(s.hostNamespace).Update(ctx, done, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("drop the recreation intent of host service %s: %w", h.Name, err) // retried: the record must not outlive the create
	}
	return ignoreGone(err, "drop the recreation intent of host service "+h.Name)
}

// The endpoints controller deletes the Endpoints of a deleted service, even
// of a selector-less one whose endpoints the tenant wrote by hand. Syncers
// before services moved through ExternalName recreated them, and kept
// their endpoints in an annotation of the new service; they are put back
// if they vanish within endpointsBackupWindow, then the annotation is
// removed.
const (
	annotationEndpointsBackup = names.Domain + "/endpoints-backup"
	annotationRecreatedAt     = names.Domain + "/recreated-at"
	endpointsBackupWindow     = 30 * time.Second
)

// endpointsBackup is what annotationEndpointsBackup holds.
type endpointsBackup struct {
	Labels      map[string]string       `json:"labels,omitempty"`
	Annotations map[string]string       `json:"annotations,omitempty"`
	Subsets     []corev1.EndpointSubset `json:"subsets"`
}

// restoreEndpoints puts back the endpoints of a recreated selector-less
// service while its backup window is open, and drops the backup after.
func (s *Syncer) restoreEndpoints(ctx context.Context, v *corev1.Service) error {
	backup, ok := v.Annotations[annotationEndpointsBackup]
	if !ok {
		return nil
	}
	at, _ := time.Parse(time.RFC3339, v.Annotations[annotationRecreatedAt])
	if left := endpointsBackupWindow - time.Since(at); left > 0 {
		s.queue.AddAfter(queueKey(kindService, v.Namespace+"/"+v.Name), left)
		if _, err := s.virtual.CoreV1().Endpoints(v.Namespace).Get(ctx, v.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return wrap(err, fmt.Sprintf("read endpoints %s/%s", v.Namespace, v.Name))
		}
		var b endpointsBackup
		if err := json.Unmarshal([]byte(backup), &b); err != nil {
			return fmt.Errorf("endpoints backup of service %s/%s: %w", v.Namespace, v.Name, err)
		}
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: v.Name, Namespace: v.Namespace, Labels: b.Labels, Annotations: b.Annotations}, Subsets: b.Subsets}
		_, err := s.virtual.CoreV1().Endpoints(v.Namespace).Create(ctx, ep, metav1.CreateOptions{})
		if err == nil || apierrors.IsAlreadyExists(err) {
			return nil
		}
		return fmt.Errorf("restore endpoints %s/%s after recreating the service: %w", v.Namespace, v.Name, err)
	}
	updated := v.DeepCopy()
	delete(updated.Annotations, annotationEndpointsBackup)
	delete(updated.Annotations, annotationRecreatedAt)
	_, err := s.virtual.CoreV1().Services(v.Namespace).Update(ctx, updated, metav1.UpdateOptions{})
	return ignoreGone(err, fmt.Sprintf("drop endpoints backup of service %s/%s", v.Namespace, v.Name))
}

// syncEndpoints copies the endpoints a tenant wrote for a selector-less
// service to its host copy (a service with a selector gets its endpoints
// from the host's own controller, from the host pods it selects).
func (s *Syncer) syncEndpoints(ctx context.Context, ns, name, hname string, selectorless bool) error {
	v, haveV, err := found(s.virtualEndpoints.Endpoints(ns).Get(name))
	if err != nil {
		return err
	}
	h, haveH, err := found(s.hostEndpoints.Get(hname))
	if err != nil {
		return err
	}
	return syncCopy(ctx, s, copyOf[*corev1.Endpoints]{
		kind: "endpoints", hostName: hname, client: s.host.CoreV1().Endpoints(s.hostNamespace),
		host: h, exists: haveH, wanted: haveV && selectorless, virtual: objectRef(v, "Endpoints"),
		want: func() *corev1.Endpoints {
			meta := s.hostMeta(ns, name, "Endpoints", v.UID, hname)
			meta.Labels = s.hostLabels(v.Labels, ns)
			return &corev1.Endpoints{ObjectMeta: meta, Subsets: s.translateSubsets(ns, v.Subsets)}
		},
		current: func(h, want *corev1.Endpoints) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && equality.Semantic.DeepEqual(h.Subsets, want.Subsets)
		},
		update: func(h, want *corev1.Endpoints) (*corev1.Endpoints, bool) {
			updated := h.DeepCopy()
			updated.Labels, updated.Subsets = want.Labels, want.Subsets
			return updated, true
		},
	}, ns, name)
}

// translateSubsets points endpoint addresses that name virtual pods at
// their host copies.
func (s *Syncer) translateSubsets(ns string, subsets []corev1.EndpointSubset) []corev1.EndpointSubset {
	out := make([]corev1.EndpointSubset, len(subsets))
	for i := range subsets {
		out[i] = *subsets[i].DeepCopy()
		for _, addrs := range [][]corev1.EndpointAddress{out[i].Addresses, out[i].NotReadyAddresses} {
			for j := range addrs {
				ref := addrs[j].TargetRef
				if ref == nil {
					continue
				}
				if ref.Kind == "Pod" {
					refNS := ref.Namespace
					if refNS == "" {
						refNS = ns
					}
					addrs[j].TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: s.hostNamespace, Name: s.hostPodName(refNS, ref.Name)}
				} else {
					addrs[j].TargetRef = nil // nothing on the host to point at
				}
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
