package syncer

import (
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/kubernetes/pkg/kubelet/envvars"

	"github.com/nestcluster/nest/pkg/names"
)

// What a host pod needs to talk to its own (virtual) cluster, as a kubelet
// of the virtual cluster would give it: the service environment variables
// of the virtual namespace, KUBERNETES_SERVICE_HOST/PORT naming the virtual
// apiserver as the host's pods reach it, and the virtual cluster's DNS when
// it has one.

// apiServerAddress is the virtual apiserver as the host's pods reach it.
type apiServerAddress struct{ host, port string }

// parseAPIServer reads "https://host:port" (or "host:port").
func parseAPIServer(s string) (apiServerAddress, bool) {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		s = u.Host
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return apiServerAddress{}, false
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return apiServerAddress{}, false
	}
	return apiServerAddress{host: host, port: port}, true
}

// maxServiceLinks bounds the services whose variables a pod gets. A
// kubelet computes them when it starts a container; here they are written
// into the host pod's spec, which etcd stores and every informer keeps:
// 500 services would make each container's environment about 200 KiB.
// Past the bound, a pod gets only the apiserver's variables (and a Warning
// event), as with enableServiceLinks: false.
const maxServiceLinks = 100

// linkedServices are the services whose variables a kubelet of the virtual
// cluster would give the pod: the "kubernetes" service, here the virtual
// apiserver's address as the host pods reach it, always; the other services
// of the pod's namespace unless enableServiceLinks is false. It reports
// whether the namespace's services were left out for being too many.
func (s *Syncer) linkedServices(v *corev1.Pod) ([]*corev1.Service, bool) {
	byName := map[string]*corev1.Service{}
	var tooMany bool
	if (v.Spec.EnableServiceLinks == nil || *v.Spec.EnableServiceLinks) && s.virtualServices != nil {
		services, _ := s.virtualServices.Services(v.Namespace).List(labels.Everything())
		if len(services) > maxServiceLinks {
			tooMany = true
			services = nil
		}
		for _, svc := range services {
			if v.Namespace == metav1.NamespaceDefault && svc.Name == "kubernetes" {
				continue // the virtual apiserver: replaced by its host-side address
			}
			byName[svc.Name] = svc
		}
	}
	if _, shadowed := byName["kubernetes"]; s.apiServer.host != "" && !shadowed {
		port, _ := strconv.Atoi(s.apiServer.port)
		byName["kubernetes"] = &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault},
			Spec: corev1.ServiceSpec{ClusterIP: s.apiServer.host, Ports: []corev1.ServicePort{
				{Name: "https", Port: int32(port), Protocol: corev1.ProtocolTCP},
			}},
		}
	}
	services := make([]*corev1.Service, 0, len(byName))
	for _, n := range slices.Sorted(maps.Keys(byName)) {
		services = append(services, byName[n])
	}
	return services, tooMany
}

// serviceEnv is the environment of linkedServices.
func (s *Syncer) serviceEnv(v *corev1.Pod) []corev1.EnvVar {
	services, _ := s.linkedServices(v)
	return envvars.FromServices(services)
}

// clusterDomain is the virtual cluster's DNS domain.
const clusterDomain = "cluster.local"

// translateDNS points a pod that uses the cluster's DNS (policy
// ClusterFirst, the default) at the virtual cluster's DNS server, with the
// search path a kubelet of the virtual cluster would give it. Without a DNS
// server configured, the pod keeps its policy, and resolves through the
// host's DNS.
func (s *Syncer) translateDNS(ns string, spec *corev1.PodSpec) {
	if s.dnsServer == "" {
		return
	}
	if spec.DNSPolicy != "" && spec.DNSPolicy != corev1.DNSClusterFirst && spec.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		return // Default (the node's resolver) or None (the tenant's own)
	}
	ndots := "5"
	cfg := &corev1.PodDNSConfig{
		Nameservers: []string{s.dnsServer},
		Searches:    []string{ns + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain},
		Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}},
	}
	if own := spec.DNSConfig; own != nil {
		// The tenant's additions come after, as a kubelet merges them.
		cfg.Nameservers = append(cfg.Nameservers, own.Nameservers...)
		cfg.Searches = append(cfg.Searches, own.Searches...)
		for _, o := range own.Options {
			if o.Name == "ndots" {
				cfg.Options = cfg.Options[:0]
			}
		}
		cfg.Options = append(cfg.Options, own.Options...)
	}
	spec.DNSPolicy = corev1.DNSNone
	spec.DNSConfig = cfg
}

// prependEnv puts env before a container's own variables, so that the
// container's win and can refer to them, as with a kubelet.
func prependEnv(c *corev1.Container, env []corev1.EnvVar) {
	if len(env) == 0 {
		return
	}
	c.Env = append(append([]corev1.EnvVar{}, env...), c.Env...)
}

// translateAffinity keeps the pod (anti-)affinity and topology spread
// selectors of a pod to pods of its own virtual cluster, and to the
// namespaces they name: on the host, every pod of the cluster lives in
// one namespace, next to other clusters' pods with the same labels. Node
// selectors, node affinity and tolerations are about host nodes (which the
// virtual nodes are named after) and stay as they are. A namespace selector
// stands for every namespace of the virtual cluster: the host cannot read
// virtual namespaces' labels.
func (s *Syncer) translateAffinity(ns string, spec *corev1.PodSpec) {
	if a := spec.Affinity; a != nil {
		if pa := a.PodAffinity; pa != nil {
			s.translateTerms(ns, pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			s.translateTerms(ns, pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
	}
	for i := range spec.TopologySpreadConstraints {
		c := &spec.TopologySpreadConstraints[i]
		c.LabelSelector = s.scopedSelector(c.LabelSelector, []string{ns})
	}
}

func (s *Syncer) translateTerms(ns string, required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) {
	for i := range required {
		s.translateTerm(ns, &required[i])
	}
	for i := range preferred {
		s.translateTerm(ns, &preferred[i].PodAffinityTerm)
	}
}

func (s *Syncer) translateTerm(ns string, t *corev1.PodAffinityTerm) {
	var namespaces []string // nil: any namespace of the cluster
	if t.NamespaceSelector == nil {
		namespaces = t.Namespaces
		if len(namespaces) == 0 {
			namespaces = []string{ns}
		}
	}
	t.LabelSelector = s.scopedSelector(t.LabelSelector, namespaces)
	t.Namespaces, t.NamespaceSelector = nil, nil // the host namespace
}

// scopedSelector adds to a tenant's pod selector that the pod be of this
// virtual cluster and, unless namespaces is nil, in one of them. A nil
// selector (no pods) stays nil.
func (s *Syncer) scopedSelector(sel *metav1.LabelSelector, namespaces []string) *metav1.LabelSelector {
	if sel == nil {
		return nil
	}
	out := sel.DeepCopy()
	out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
		Key: names.LabelVirtualCluster, Operator: metav1.LabelSelectorOpIn, Values: []string{names.LabelValue(s.vc)},
	})
	if namespaces != nil {
		values := make([]string, len(namespaces))
		for i, n := range namespaces {
			values[i] = names.LabelValue(n)
		}
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: names.LabelVirtualNamespace, Operator: metav1.LabelSelectorOpIn, Values: values,
		})
	}
	return out
}
