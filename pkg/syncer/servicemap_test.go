package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestMappedVirtualService(t *testing.T) {
	t.Parallel()
	m := &mappedService{hostNS: "shared", hostName: "postgres", virtualNS: "default", virtualName: "db"}
	port := corev1.ServicePort{Name: "pg", Port: 5432, TargetPort: intstr.FromString("pg"), Protocol: corev1.ProtocolTCP, NodePort: 31000}
	tests := []struct {
		name string
		host corev1.ServiceSpec
		want corev1.ServiceSpec
	}{
		{"cluster IP service: no selector, its ports, not its node ports",
			corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.3.4", Selector: map[string]string{"app": "pg"}, Ports: []corev1.ServicePort{port}},
			corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, TargetPort: intstr.FromString("pg"), Protocol: corev1.ProtocolTCP}}}},
		{"headless stays headless",
			corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{port}},
			corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, TargetPort: intstr.FromString("pg"), Protocol: corev1.ProtocolTCP}}}},
		{"external name",
			corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"},
			corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := mappedVirtualService(m, &corev1.Service{Spec: tt.host})
			if got.Namespace != "default" || got.Name != "db" || got.Annotations[annotationHostService] != "shared/postgres" || got.Labels["nest.dev/managed-by"] != "nest" {
				t.Errorf("metadata = %+v", got.ObjectMeta)
			}
			if !equality.Semantic.DeepEqual(got.Spec, tt.want) {
				t.Errorf("spec = %+v, want %+v", got.Spec, tt.want)
			}
			if !isMappedService(got, m) {
				t.Error("isMappedService() = false for the service it made")
			}
		})
	}
	tenant := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{annotationHostService: "shared/postgres"}}}
	if isMappedService(tenant, m) {
		t.Error("a tenant's service with only the annotation passes for Nest's")
	}
}

func TestMappedSubsets(t *testing.T) {
	t.Parallel()
	node := "node-1"
	ref := &corev1.ObjectReference{Kind: "Pod", Namespace: "shared", Name: "pg-0"}
	tests := []struct {
		name       string
		host, want []corev1.EndpointSubset
	}{
		{"none", nil, nil},
		{"references to host pods and nodes dropped, addresses and ports kept",
			[]corev1.EndpointSubset{{
				Addresses:         []corev1.EndpointAddress{{IP: "10.0.0.5", Hostname: "pg-0", NodeName: &node, TargetRef: ref}},
				NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.0.0.6", TargetRef: ref}},
				Ports:             []corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}},
			}},
			[]corev1.EndpointSubset{{
				Addresses:         []corev1.EndpointAddress{{IP: "10.0.0.5", Hostname: "pg-0"}},
				NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.0.0.6"}},
				Ports:             []corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}},
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mappedSubsets(tt.host); !equality.Semantic.DeepEqual(got, tt.want) {
				t.Errorf("mappedSubsets() = %+v, want %+v", got, tt.want)
			}
			if len(tt.host) > 0 && tt.host[0].Addresses[0].TargetRef == nil {
				t.Error("mappedSubsets changed the host object")
			}
		})
	}
}

func TestExposedService(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev"}
	port := corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP, NodePort: 30001}
	tests := []struct {
		name         string
		virtual      corev1.ServiceSpec
		wantSelector map[string]string
		wantIP       string
	}{
		{"selects the host copies of its pods",
			corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{port}, ExternalIPs: []string{"1.2.3.4"}},
			map[string]string{"app": "web", "nest.dev/managed-by": "nest", "nest.dev/virtual-cluster": "dev", "nest.dev/virtual-namespace": "shop"}, ""},
		{"headless", corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{port}},
			map[string]string{"app": "web", "nest.dev/managed-by": "nest", "nest.dev/virtual-cluster": "dev", "nest.dev/virtual-namespace": "shop"}, corev1.ClusterIPNone},
		{"selector-less stays selector-less (never every pod of the namespace)", corev1.ServiceSpec{Ports: []corev1.ServicePort{port}}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1"}, Spec: tt.virtual}
			h := s.exposedService(v, "shop-web")
			if h.Name != "shop-web" || h.Namespace != "nest-dev" || h.Annotations["nest.dev/virtual-kind"] != virtualKindExposed || !s.ownsObject(h, "shop", "web") {
				t.Errorf("metadata = %+v", h.ObjectMeta)
			}
			if h.Spec.Type != corev1.ServiceTypeClusterIP || h.Spec.ClusterIP != tt.wantIP || len(h.Spec.ExternalIPs) != 0 {
				t.Errorf("type %s, cluster IP %q, external IPs %v: want a ClusterIP service, the host allocating", h.Spec.Type, h.Spec.ClusterIP, h.Spec.ExternalIPs)
			}
			if !equality.Semantic.DeepEqual(h.Spec.Selector, tt.wantSelector) {
				t.Errorf("selector = %v, want %v", h.Spec.Selector, tt.wantSelector)
			}
			if len(h.Spec.Ports) != 1 || h.Spec.Ports[0].NodePort != 0 || h.Spec.Ports[0].TargetPort.IntVal != 8080 {
				t.Errorf("ports = %+v", h.Spec.Ports)
			}
			// As stored by the host: allocated IP and defaults.
			stored := h.DeepCopy()
			if stored.Spec.ClusterIP == "" {
				stored.Spec.ClusterIP = "10.96.7.7"
			}
			stored.Spec.SessionAffinity = corev1.ServiceAffinityNone
			merged, ok := mergeExposed(stored, h)
			if !ok || !equality.Semantic.DeepEqual(merged.Spec, stored.Spec) {
				t.Errorf("mergeExposed(stored, want) = %+v, %v; want the stored spec unchanged", merged, ok)
			}
		})
	}
	v := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}}
	if _, ok := mergeExposed(&corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.96.7.7"}}, s.exposedService(v, "x")); ok {
		t.Error("mergeExposed turned a cluster IP service headless in place")
	}
}
