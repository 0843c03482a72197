package syncer

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestHostLabels(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev"}
	tests := []struct {
		name    string
		virtual map[string]string
		want    map[string]string
	}{
		{"none", nil, map[string]string{"nest.dev/managed-by": "nest", "nest.dev/virtual-cluster": "dev", "nest.dev/virtual-namespace": "shop"}},
		{"tenant labels kept", map[string]string{"app": "web", "example.com/tier": "front"},
			map[string]string{"app": "web", "example.com/tier": "front", "nest.dev/managed-by": "nest", "nest.dev/virtual-cluster": "dev", "nest.dev/virtual-namespace": "shop"}},
		{"forged ownership dropped", map[string]string{"nest.dev/virtual-cluster": "other", "x.nest.dev/a": "b", "nest.devil/ok": "yes"},
			map[string]string{"nest.devil/ok": "yes", "nest.dev/managed-by": "nest", "nest.dev/virtual-cluster": "dev", "nest.dev/virtual-namespace": "shop"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := s.hostLabels(tt.virtual, "shop"); !maps.Equal(got, tt.want) {
				t.Errorf("hostLabels() = %v, want %v", got, tt.want)
			}
		})
	}
	if got := s.hostSelector(nil, "shop"); got != nil {
		t.Errorf("hostSelector(nil) = %v, want nil: a selector-less service stays selector-less", got)
	}
}

func TestTranslateService(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev"}
	port := corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP, NodePort: 30001}
	v := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1", Labels: map[string]string{"tier": "front"}, Annotations: map[string]string{"tenant": "note"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{port},
			ExternalIPs: []string{"1.2.3.4"},
		},
	}
	h := s.translateService(v, "web-x-shop-x-dev")
	if h.Name != "web-x-shop-x-dev" || h.Namespace != "nest-dev" {
		t.Errorf("host service is %s/%s", h.Namespace, h.Name)
	}
	if h.Spec.ClusterIP != "10.96.0.10" || h.Spec.Ports[0].NodePort != 30001 {
		t.Errorf("host service does not ask for the virtual allocations first: clusterIP %q, node port %d", h.Spec.ClusterIP, h.Spec.Ports[0].NodePort)
	}
	if f := hostAllocated(h); f.Spec.ClusterIP != "" || len(f.Spec.ClusterIPs) != 0 || f.Spec.Ports[0].NodePort != 0 {
		t.Errorf("fallback still asks for the virtual allocations: clusterIP %q, node port %d", f.Spec.ClusterIP, f.Spec.Ports[0].NodePort)
	}
	if h.Spec.ClusterIP != "10.96.0.10" {
		t.Error("hostAllocated changed its input")
	}
	if len(h.Spec.ExternalIPs) != 0 {
		t.Errorf("external IPs reached the host: %v", h.Spec.ExternalIPs)
	}
	if h.Spec.Selector["app"] != "web" || h.Spec.Selector["nest.dev/virtual-namespace"] != "shop" || h.Spec.Selector["nest.dev/virtual-cluster"] != "dev" {
		t.Errorf("selector %v is not scoped to the virtual namespace and cluster", h.Spec.Selector)
	}
	if _, ok := h.Annotations["tenant"]; ok {
		t.Error("tenant annotations reached the host")
	}
	if v.Spec.Ports[0].NodePort != 30001 {
		t.Error("translateService changed the virtual service")
	}
	headless := v.DeepCopy()
	headless.Spec.Type, headless.Spec.ClusterIP = corev1.ServiceTypeClusterIP, corev1.ClusterIPNone
	if got := s.translateService(headless, "x").Spec.ClusterIP; got != corev1.ClusterIPNone {
		t.Errorf("headless service's host copy has cluster IP %q", got)
	}
}

func TestMergeService(t *testing.T) {
	t.Parallel()
	host := &corev1.Service{Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.5.5", ClusterIPs: []string{"10.96.5.5"},
		Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 31000}},
	}}
	tests := []struct {
		name         string
		want         corev1.ServiceSpec
		ok           bool
		wantNodePort int32
	}{
		{"keeps the host's allocations", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}, true, 31000},
		{"new port: the host allocates", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 81, Protocol: corev1.ProtocolTCP}}}, true, 0},
		{"to ClusterIP: no node port", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}}, true, 0},
		{"to headless: replaced", corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}, false, 0},
		{"to ExternalName: replaced", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := mergeService(host, &corev1.Service{Spec: tt.want})
			if ok != tt.ok {
				t.Fatalf("mergeService() ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if got.Spec.ClusterIP != "10.96.5.5" {
				t.Errorf("cluster IP %q, want the host's", got.Spec.ClusterIP)
			}
			if got.Spec.Ports[0].NodePort != tt.wantNodePort {
				t.Errorf("node port %d, want %d", got.Spec.Ports[0].NodePort, tt.wantNodePort)
			}
		})
	}
}

func TestTranslateSubsets(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev"}
	in := []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{
			{IP: "10.0.0.1", TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "db-0"}},
			{IP: "10.0.0.2", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "other", Name: "db-1"}},
			{IP: "10.0.0.3", TargetRef: &corev1.ObjectReference{Kind: "Node", Name: "n"}},
			{IP: "10.0.0.4"},
		},
	}}
	out := s.translateSubsets("shop", in)
	wantRefs := []*corev1.ObjectReference{
		{Kind: "Pod", Namespace: "nest-dev", Name: "db-0-x-shop-x-dev"},
		{Kind: "Pod", Namespace: "nest-dev", Name: "db-1-x-other-x-dev"},
		nil, nil,
	}
	for i, want := range wantRefs {
		got := out[0].Addresses[i].TargetRef
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("address %d: target %v, want %v", i, got, want)
		}
	}
	if in[0].Addresses[0].TargetRef.Name != "db-0" {
		t.Error("translateSubsets changed its input")
	}
}

func TestVirtualEvents(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev"}
	ref := corev1.ObjectReference{Namespace: "shop", Name: "web-1"}
	tests := []struct{ msg, want string }{
		{"Successfully assigned nest-dev/web-1-x-shop-x-dev to nest-node-0", "Successfully assigned shop/web-1 to nest-node-0"},
		{"Pulling image for web-1-x-shop-x-dev", "Pulling image for web-1"},
		{"Back-off restarting failed container", "Back-off restarting failed container"},
	}
	for _, tt := range tests {
		if got := s.virtualMessage(tt.msg, "web-1-x-shop-x-dev", ref); got != tt.want {
			t.Errorf("virtualMessage(%q) = %q, want %q", tt.msg, got, tt.want)
		}
	}
	if got := virtualEventName("web-1", "web-1-x-shop-x-dev.18a2b3c4d5e6f708"); got != "web-1.18a2b3c4d5e6f708" {
		t.Errorf("virtualEventName() = %q", got)
	}
}

func TestTranslatePVC(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev"}
	snapGroup := "snapshot.storage.k8s.io"
	class := "fast"
	tests := []struct {
		name           string
		spec           corev1.PersistentVolumeClaimSpec
		wantDataSource string // "" for none
	}{
		{"plain claim", corev1.PersistentVolumeClaimSpec{StorageClassName: &class}, ""},
		{"host volume picks dropped", corev1.PersistentVolumeClaimSpec{VolumeName: "pv-1", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}}, ""},
		{"clone of a claim", corev1.PersistentVolumeClaimSpec{DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}}, "src-x-shop-x-dev"},
		{"snapshot source dropped", corev1.PersistentVolumeClaimSpec{DataSource: &corev1.TypedLocalObjectReference{APIGroup: &snapGroup, Kind: "VolumeSnapshot", Name: "s"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop", UID: "u"}, Spec: tt.spec}
			h := s.translatePVC(v, "data-x-shop-x-dev")
			if h.Spec.VolumeName != "" || h.Spec.Selector != nil {
				t.Errorf("host claim picks host volumes: volumeName %q selector %v", h.Spec.VolumeName, h.Spec.Selector)
			}
			got := ""
			if h.Spec.DataSource != nil {
				got = h.Spec.DataSource.Name
			}
			if got != tt.wantDataSource {
				t.Errorf("data source %q, want %q", got, tt.wantDataSource)
			}
			if tt.spec.StorageClassName != nil && (h.Spec.StorageClassName == nil || *h.Spec.StorageClassName != class) {
				t.Errorf("storage class not kept: %v", h.Spec.StorageClassName)
			}
		})
	}
}

func TestPodRefsSkipTheServiceAccountVolume(t *testing.T) {
	t.Parallel()
	pod := &corev1.Pod{Spec: corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "kube-api-access-x1y2z", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
		}}}},
		{Name: "mine", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}},
		}}}},
	}}}
	refs := podRefs(pod)[refConfigMap]
	if refs["kube-root-ca.crt"] || !refs["settings"] {
		t.Errorf("podRefs() configmaps = %v, want only settings: the service-account volume is not synced", refs)
	}
}

func TestTranslateIngress(t *testing.T) {
	t.Parallel()
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev"}
	prefix := networkingv1.PathTypePrefix
	group := "example.com"
	v := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "web", UID: "u", Annotations: map[string]string{
			"nginx.ingress.kubernetes.io/rewrite-target":        "/",
			"nginx.ingress.kubernetes.io/configuration-snippet": "evil",
			"nest.dev/virtual-cluster":                          "forged",
		}},
		Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "fallback", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			TLS:            []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}},
			Rules: []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "front", Port: networkingv1.ServiceBackendPort{Name: "http"}}}},
				{Path: "/bucket", PathType: &prefix, Backend: networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: &group, Kind: "Bucket", Name: "b"}}},
			}}}}},
		},
	}
	h := s.translateIngress(v, "shop-x-web-x-dev")
	if got := h.Spec.DefaultBackend.Service.Name; got != "fallback-x-web-x-dev" {
		t.Errorf("default backend %q", got)
	}
	paths := h.Spec.Rules[0].HTTP.Paths
	if len(paths) != 1 || paths[0].Backend.Service.Name != "front-x-web-x-dev" {
		t.Errorf("paths %+v, want only the service backend, translated", paths)
	}
	if got := h.Spec.TLS[0].SecretName; got != "shop-tls-x-web-x-dev" {
		t.Errorf("TLS secret %q", got)
	}
	if h.Annotations["nginx.ingress.kubernetes.io/rewrite-target"] != "/" {
		t.Error("controller annotation dropped")
	}
	if _, ok := h.Annotations["nginx.ingress.kubernetes.io/configuration-snippet"]; ok {
		t.Error("configuration snippet reached the host")
	}
	if h.Annotations["nest.dev/virtual-cluster"] == "forged" {
		t.Error("a tenant annotation forged Nest's ownership")
	}
	if v.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "front" {
		t.Error("translateIngress changed its input")
	}
}

func TestMovedSpec(t *testing.T) {
	t.Parallel()
	local := corev1.ServiceExternalTrafficPolicyLocal
	target := corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"}, ExternalTrafficPolicy: local,
		Selector: map[string]string{"app": "old"},
		Ports:    []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080}},
	}
	moving := target.DeepCopy()
	asExternalName(moving)
	edited := moving.DeepCopy() // the tenant's write between the two steps
	edited.Selector = map[string]string{"app": "new"}
	edited.Ports = append(edited.Ports, corev1.ServicePort{Name: "admin", Protocol: corev1.ProtocolTCP, Port: 9090})
	tests := []struct {
		name string
		now  corev1.ServiceSpec
		want corev1.ServiceSpec
	}{
		{"untouched: the target", *moving, target},
		{"edited: the tenant's selector and ports, the target's type, IP and node ports", *edited, corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"}, ExternalTrafficPolicy: local,
			Selector: map[string]string{"app": "new"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080},
				{Name: "admin", Protocol: corev1.ProtocolTCP, Port: 9090}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := movedSpec(tt.now, target); !equality.Semantic.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
