package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSliceWanted(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev", virtualServices: serviceLister(t,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}},
	)}
	slice := func(service, manager string) *discoveryv1.EndpointSlice {
		l := map[string]string{}
		if service != "" {
			l[discoveryv1.LabelServiceName] = service
		}
		if manager != "" {
			l[discoveryv1.LabelManagedBy] = manager
		}
		return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "s", Labels: l}}
	}
	deleting := slice("db", "")
	deleting.DeletionTimestamp = &metav1.Time{}
	tests := []struct {
		name  string
		slice *discoveryv1.EndpointSlice
		want  bool
	}{
		{"tenant's slice of a selector-less service", slice("db", "my-operator"), true},
		{"tenant's slice without a manager", slice("db", ""), true},
		{"of a service with a selector (the host's controller makes its slices)", slice("web", "my-operator"), false},
		{"mirrored from the tenant's Endpoints (the host mirrors the Endpoints copy)", slice("db", "endpointslicemirroring-controller.k8s.io"), false},
		{"made by the virtual endpoint slice controller", slice("db", "endpointslice-controller.k8s.io"), false},
		{"of no service", slice("", "my-operator"), false},
		{"of a service that does not exist", slice("cache", "my-operator"), false},
		{"being deleted", deleting, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := s.sliceWanted(tt.slice)
			if err != nil || got != tt.want {
				t.Fatalf("sliceWanted = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestTranslateEndpointSlice(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev"}
	ready := true
	v := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-1", UID: "u1", Labels: map[string]string{
			discoveryv1.LabelServiceName: "db", discoveryv1.LabelManagedBy: "my-operator", "team": "data", "nest.dev/virtual-cluster": "other",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}, NodeName: ptrTo("kwok-node-0"),
				TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "db-0"}},
			{Addresses: []string{"10.0.0.8"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "other", Name: "db-1"}},
			{Addresses: []string{"192.0.2.1"}, TargetRef: &corev1.ObjectReference{Kind: "Machine", Name: "vm-1"}},
		},
		Ports: []discoveryv1.EndpointPort{{Name: ptrTo("pg"), Port: ptrTo(int32(5432))}},
	}
	h := s.translateEndpointSlice(v, "db-1-x-shop-x-dev")
	tests := []struct {
		name      string
		got, want any
	}{
		{"name", h.Name, "db-1-x-shop-x-dev"},
		{"host namespace", h.Namespace, "nest-dev"},
		{"service label names the host service", h.Labels[discoveryv1.LabelServiceName], "db-x-shop-x-dev"},
		{"managed by Nest, so host controllers leave it alone", h.Labels[discoveryv1.LabelManagedBy], endpointSliceManager},
		{"tenant labels kept", h.Labels["team"], "data"},
		{"nest.dev labels are Nest's", h.Labels["nest.dev/virtual-cluster"], "dev"},
		{"virtual kind", h.Annotations["nest.dev/virtual-kind"], "EndpointSlice"},
		{"address type", h.AddressType, discoveryv1.AddressTypeIPv4},
		{"addresses kept", [][]string{h.Endpoints[0].Addresses, h.Endpoints[1].Addresses, h.Endpoints[2].Addresses}, [][]string{{"10.0.0.7"}, {"10.0.0.8"}, {"192.0.2.1"}}},
		{"conditions kept", *h.Endpoints[0].Conditions.Ready, true},
		{"node name kept (placeholder nodes are named after host nodes)", *h.Endpoints[0].NodeName, "kwok-node-0"},
		{"pod reference to the host pod", *h.Endpoints[0].TargetRef, corev1.ObjectReference{Kind: "Pod", Namespace: "nest-dev", Name: "db-0-x-shop-x-dev"}},
		{"pod reference in another namespace", h.Endpoints[1].TargetRef.Name, "db-1-x-other-x-dev"},
		{"other references dropped", h.Endpoints[2].TargetRef == nil, true},
		{"ports kept", equality.Semantic.DeepEqual(h.Ports, v.Ports), true},
		{"virtual slice untouched", v.Endpoints[0].TargetRef.Name, "db-0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !equality.Semantic.DeepEqual(tt.got, tt.want) {
				t.Fatalf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}
