package syncer

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/names"
)

func serviceLister(t *testing.T, services ...*corev1.Service) corelisters.ServiceLister {
	t.Helper()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, svc := range services {
		if err := idx.Add(svc); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewServiceLister(idx)
}

func service(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

func TestServiceEnv(t *testing.T) {
	t.Parallel()
	api, _ := parseAPIServer("https://127.0.0.1:40123")
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev", apiServer: api, virtualServices: serviceLister(t,
		service("default", "kubernetes", "10.96.0.1", corev1.ServicePort{Name: "https", Port: 443}),
		service("shop", "web-api", "10.96.0.20", corev1.ServicePort{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}),
		service("shop", "headless", "None", corev1.ServicePort{Port: 80}),
		service("other", "secret-svc", "10.96.0.30", corev1.ServicePort{Port: 81}),
	)}
	no := false
	tests := []struct {
		name       string
		pod        *corev1.Pod
		want       map[string]string
		notWant    []string
		apiAddress apiServerAddress
	}{
		{
			name: "apiserver and the namespace's services",
			pod:  &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}},
			want: map[string]string{
				"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "40123", "KUBERNETES_SERVICE_PORT_HTTPS": "40123",
				"KUBERNETES_PORT":      "tcp://127.0.0.1:40123",
				"WEB_API_SERVICE_HOST": "10.96.0.20", "WEB_API_SERVICE_PORT": "80", "WEB_API_SERVICE_PORT_HTTP": "80",
				"WEB_API_PORT_80_TCP_ADDR": "10.96.0.20",
			},
			notWant: []string{"HEADLESS_SERVICE_HOST", "SECRET_SVC_SERVICE_HOST"},
		},
		{
			name: "in default, the virtual kubernetes service is replaced by the host-side address",
			pod:  &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default"}},
			want: map[string]string{"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "40123"},
		},
		{
			name:    "enableServiceLinks false: only the apiserver",
			pod:     &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Spec: corev1.PodSpec{EnableServiceLinks: &no}},
			want:    map[string]string{"KUBERNETES_SERVICE_HOST": "127.0.0.1"},
			notWant: []string{"WEB_API_SERVICE_HOST"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := map[string]string{}
			for _, e := range s.serviceEnv(tt.pod) {
				if _, dup := got[e.Name]; dup {
					t.Errorf("%s set twice", e.Name)
				}
				got[e.Name] = e.Value
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tt.notWant {
				if _, ok := got[k]; ok {
					t.Errorf("%s is set, want it absent", k)
				}
			}
		})
	}
}

func TestTranslatePodEnv(t *testing.T) {
	t.Parallel()
	api, _ := parseAPIServer("https://127.0.0.1:40123")
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev", apiServer: api, virtualServices: serviceLister(t)}
	v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers:     []corev1.Container{{Name: "app", Env: []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: "mine"}, {Name: "URL", Value: "https://$(KUBERNETES_SERVICE_HOST)"}}}},
	}}
	h := s.translatePod(v)
	for _, c := range allContainers(&h.Spec) {
		if len(c.Env) == 0 || !strings.HasPrefix(c.Env[0].Name, "KUBERNETES_") {
			t.Errorf("container %s: env %v, want the service variables first", c.Name, c.Env)
		}
	}
	app := h.Spec.Containers[0].Env
	if n := len(app); app[n-2].Value != "mine" || app[n-1].Name != "URL" {
		t.Errorf("the container's own variables must come last (and so win): %v", app)
	}
}

func TestTranslatePodOwnerKind(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev", virtualServices: serviceLister(t)}
	controller := true
	tests := []struct {
		name   string
		owners []metav1.OwnerReference
		want   string
	}{
		{name: "bare pod", want: ""},
		{name: "job pod", owners: []metav1.OwnerReference{{Kind: "Job", Name: "j", Controller: &controller}}, want: "Job"},
		{name: "owner that is no controller", owners: []metav1.OwnerReference{{Kind: "ConfigMap", Name: "c"}}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", OwnerReferences: tt.owners}}
			h := s.translatePod(v)
			if got := h.Annotations[names.AnnotationVirtualOwnerKind]; got != tt.want {
				t.Errorf("owner kind annotation = %q, want %q", got, tt.want)
			}
			if len(h.OwnerReferences) != 0 {
				t.Errorf("host copy has owner references %v", h.OwnerReferences)
			}
		})
	}
}

func TestTranslateDNS(t *testing.T) {
	t.Parallel()
	ndots := "5"
	two := "2"
	clusterDNS := &corev1.PodDNSConfig{
		Nameservers: []string{"10.96.0.10"},
		Searches:    []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"},
		Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: &ndots}},
	}
	tests := []struct {
		name       string
		dnsServer  string
		spec       corev1.PodSpec
		wantPolicy corev1.DNSPolicy
		wantConfig *corev1.PodDNSConfig
	}{
		{name: "no DNS server: untouched", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}, wantPolicy: corev1.DNSClusterFirst},
		{name: "cluster first", dnsServer: "10.96.0.10", spec: corev1.PodSpec{DNSPolicy: corev1.DNSClusterFirst}, wantPolicy: corev1.DNSNone, wantConfig: clusterDNS},
		{name: "unset policy is cluster first", dnsServer: "10.96.0.10", wantPolicy: corev1.DNSNone, wantConfig: clusterDNS},
		{name: "Default (the node's) kept", dnsServer: "10.96.0.10", spec: corev1.PodSpec{DNSPolicy: corev1.DNSDefault}, wantPolicy: corev1.DNSDefault},
		{
			name: "the tenant's own config merged after", dnsServer: "10.96.0.10",
			spec:       corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{Searches: []string{"corp.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}}},
			wantPolicy: corev1.DNSNone,
			wantConfig: &corev1.PodDNSConfig{
				Nameservers: []string{"10.96.0.10"},
				Searches:    []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
				Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Syncer{dnsServer: tt.dnsServer}
			spec := tt.spec
			s.translateDNS("shop", &spec)
			if spec.DNSPolicy != tt.wantPolicy || !equality.Semantic.DeepEqual(spec.DNSConfig, tt.wantConfig) {
				t.Fatalf("got %s %+v, want %s %+v", spec.DNSPolicy, spec.DNSConfig, tt.wantPolicy, tt.wantConfig)
			}
		})
	}
}

func TestParseAPIServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want apiServerAddress
		ok   bool
	}{
		{"https://127.0.0.1:6443", apiServerAddress{"127.0.0.1", "6443"}, true},
		{"https://[::1]:6443", apiServerAddress{"::1", "6443"}, true},
		{"vc.example:443", apiServerAddress{"vc.example", "443"}, true},
		{"https://127.0.0.1", apiServerAddress{}, false},
		{"", apiServerAddress{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := parseAPIServer(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("parseAPIServer(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestTranslateAffinity(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev"}
	app := map[string]string{"app": "web"}
	inCluster := metav1.LabelSelectorRequirement{Key: "nest.dev/virtual-cluster", Operator: metav1.LabelSelectorOpIn, Values: []string{"dev"}}
	inNS := func(ns ...string) metav1.LabelSelectorRequirement {
		return metav1.LabelSelectorRequirement{Key: "nest.dev/virtual-namespace", Operator: metav1.LabelSelectorOpIn, Values: ns}
	}
	tests := []struct {
		name string
		term corev1.PodAffinityTerm
		want *metav1.LabelSelector
	}{
		{
			name: "own namespace by default",
			term: corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: app}, TopologyKey: "kubernetes.io/hostname"},
			want: &metav1.LabelSelector{MatchLabels: app, MatchExpressions: []metav1.LabelSelectorRequirement{inCluster, inNS("shop")}},
		},
		{
			name: "named namespaces",
			term: corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: app}, Namespaces: []string{"a", "b"}},
			want: &metav1.LabelSelector{MatchLabels: app, MatchExpressions: []metav1.LabelSelectorRequirement{inCluster, inNS("a", "b")}},
		},
		{
			name: "a namespace selector: every namespace of the cluster",
			term: corev1.PodAffinityTerm{LabelSelector: &metav1.LabelSelector{MatchLabels: app}, NamespaceSelector: &metav1.LabelSelector{}},
			want: &metav1.LabelSelector{MatchLabels: app, MatchExpressions: []metav1.LabelSelectorRequirement{inCluster}},
		},
		{name: "no selector matches no pods, still", term: corev1.PodAffinityTerm{Namespaces: []string{"a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := &corev1.PodSpec{Affinity: &corev1.Affinity{
				PodAffinity:     &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{tt.term}},
				PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 1, PodAffinityTerm: *tt.term.DeepCopy()}}},
			}}
			s.translateAffinity("shop", spec)
			for _, got := range []corev1.PodAffinityTerm{spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0], spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm} {
				if !equality.Semantic.DeepEqual(got.LabelSelector, tt.want) || got.Namespaces != nil || got.NamespaceSelector != nil {
					t.Fatalf("got selector %+v, namespaces %v, %v; want %+v in the host namespace", got.LabelSelector, got.Namespaces, got.NamespaceSelector, tt.want)
				}
			}
		})
	}
	spread := &corev1.PodSpec{TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: app}}}}
	s.translateAffinity("shop", spread)
	want := &metav1.LabelSelector{MatchLabels: app, MatchExpressions: []metav1.LabelSelectorRequirement{inCluster, inNS("shop")}}
	if got := spread.TopologySpreadConstraints[0].LabelSelector; !equality.Semantic.DeepEqual(got, want) {
		t.Fatalf("topology spread selector %+v, want %+v", got, want)
	}
}

func TestServiceEnvTooManyServices(t *testing.T) {
	t.Parallel()
	api, _ := parseAPIServer("https://127.0.0.1:40123")
	var services []*corev1.Service
	for i := range maxServiceLinks + 1 {
		services = append(services, service("big", fmt.Sprintf("svc-%d", i), fmt.Sprintf("10.96.1.%d", i), corev1.ServicePort{Port: 80}))
	}
	s := &Syncer{vc: "dev", apiServer: api, virtualServices: serviceLister(t, services...)}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "big"}}
	linked, tooMany := s.linkedServices(pod)
	if !tooMany || len(linked) != 1 || linked[0].Name != "kubernetes" {
		t.Fatalf("linkedServices = %d services (too many: %v), want only the apiserver's", len(linked), tooMany)
	}
	s.virtualServices = serviceLister(t, services[:maxServiceLinks]...)
	if linked, tooMany := s.linkedServices(pod); tooMany || len(linked) != maxServiceLinks+1 {
		t.Fatalf("at the bound: %d services (too many: %v), want all %d and the apiserver", len(linked), tooMany, maxServiceLinks)
	}
}
