package syncer

import (
	"context"
	"fmt"
	"maps"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// Ingresses (opt-in: sync.toHost.ingresses.enabled) are copied down for the
// host's ingress controller, their backends pointing at the host copies of
// the services and their TLS secrets copied with them. Their load-balancer
// status comes back up.

// kindIngress is the queue kind of ingresses.
const kindIngress = "ingresses"

// indexIngressSecrets indexes virtual ingresses by the TLS secrets they use.
const indexIngressSecrets = "tlsSecrets"

var ingressIndexers = cache.Indexers{
	indexIngressSecrets: func(obj any) ([]string, error) {
		ing, ok := obj.(*networkingv1.Ingress)
		if !ok {
			return nil, nil
		}
		var keys []string
		for name := range ingressSecrets(ing) {
			keys = append(keys, refIndexKey(ing.Namespace, refSecret, name))
		}
		return keys, nil
	},
}

// ingressSecrets are the TLS secrets an ingress refers to.
func ingressSecrets(ing *networkingv1.Ingress) map[string]bool {
	out := map[string]bool{}
	for _, tls := range ing.Spec.TLS {
		if tls.SecretName != "" {
			out[tls.SecretName] = true
		}
	}
	return out
}

func (s *Syncer) syncIngress(ctx context.Context, ns, name string) error {
	v, haveV, err := found(s.virtualIngresses.Ingresses(ns).Get(name))
	if err != nil {
		return err
	}
	hname := s.hostObjectName(ns, name)
	h, haveH, err := found(s.hostIngresses.Get(hname))
	if err != nil {
		return err
	}
	if haveV {
		// Its TLS secrets go first, so the host controller finds them.
		for secret := range ingressSecrets(v) {
			if err := s.syncRef(ctx, refSecret, ns, secret); err != nil {
				return err
			}
		}
	}
	err = syncCopy(ctx, s, copyOf[*networkingv1.Ingress]{
		kind: "ingress", hostName: hname, client: s.host.NetworkingV1().Ingresses(s.hostNamespace),
		host: h, exists: haveH, wanted: haveV, virtual: objectRefKind(v, "Ingress", "networking.k8s.io/v1"),
		want: func() *networkingv1.Ingress { return s.translateIngress(v, hname) },
		current: func(h, want *networkingv1.Ingress) bool {
			return sameOrigin(h, want) && maps.Equal(h.Labels, want.Labels) && maps.Equal(withoutNest(h.Annotations), withoutNest(want.Annotations)) &&
				equality.Semantic.DeepEqual(h.Spec, want.Spec)
		},
		update: func(h, want *networkingv1.Ingress) (*networkingv1.Ingress, bool) {
			updated := h.DeepCopy()
			updated.Labels, updated.Spec = want.Labels, want.Spec
			updated.Annotations = maps.Clone(want.Annotations)
			return updated, true
		},
	}, ns, name)
	if err != nil || !haveV || !haveH || !s.ownsObject(h, ns, name) {
		return err
	}
	if equality.Semantic.DeepEqual(v.Status, h.Status) {
		return nil
	}
	updated := v.DeepCopy()
	updated.Status = *h.Status.DeepCopy()
	_, err = s.virtual.NetworkingV1().Ingresses(ns).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	return ignoreGone(err, fmt.Sprintf("copy status up to virtual ingress %s/%s", ns, name))
}

// translateIngress returns the host copy of an ingress: backends name the
// host copies of the services, TLS secrets their host copies. Backends that
// name a resource (a custom object of the virtual cluster) are dropped: the
// host has no such object. Annotations configure the host's controller and
// are kept, but for configuration snippets, which would let a tenant inject
// configuration into a controller shared with other tenants
// (CVE-2021-25742).
func (s *Syncer) translateIngress(v *networkingv1.Ingress, hname string) *networkingv1.Ingress {
	meta := s.hostMeta(v.Namespace, v.Name, "Ingress", v.UID, hname)
	meta.Labels = s.hostLabels(v.Labels, v.Namespace)
	for k, val := range v.Annotations {
		if !isNestKey(k) && !strings.Contains(strings.ToLower(k), "snippet") {
			meta.Annotations[k] = val
		}
	}
	spec := v.Spec.DeepCopy()
	backend := func(b *networkingv1.IngressBackend) *networkingv1.IngressBackend {
		if b == nil || b.Service == nil {
			return nil
		}
		b.Service.Name = s.hostServiceName(v.Namespace, b.Service.Name)
		return b
	}
	spec.DefaultBackend = backend(spec.DefaultBackend)
	for i := range spec.Rules {
		if spec.Rules[i].HTTP == nil {
			continue
		}
		var paths []networkingv1.HTTPIngressPath
		for _, p := range spec.Rules[i].HTTP.Paths {
			if b := backend(&p.Backend); b != nil {
				p.Backend = *b
				paths = append(paths, p)
			}
		}
		spec.Rules[i].HTTP.Paths = paths
	}
	for i := range spec.TLS {
		if spec.TLS[i].SecretName != "" {
			spec.TLS[i].SecretName = s.hostObjectName(v.Namespace, spec.TLS[i].SecretName)
		}
	}
	return &networkingv1.Ingress{ObjectMeta: meta, Spec: *spec}
}

// withoutNest drops Nest's own keys, to compare what the tenant set.
func withoutNest(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if !isNestKey(k) {
			out[k] = v
		}
	}
	return out
}
