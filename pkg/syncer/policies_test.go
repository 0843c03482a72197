package syncer

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestTranslateNetworkPolicy(t *testing.T) {
	t.Parallel()
	namespaces := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for name, team := range map[string]string{"shop": "a", "pay": "a", "ops": "b"} {
		if err := namespaces.Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": team}}}); err != nil {
			t.Fatal(err)
		}
	}
	s := &Syncer{vc: "dev", hostNamespace: "nest-dev", virtualNamespaces: corelisters.NewNamespaceLister(namespaces)}
	web := metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	policy := func(spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "shop"}, Spec: spec}
	}
	tests := []struct {
		name    string
		spec    networkingv1.NetworkPolicySpec
		want    []string // substrings of the host spec as JSON
		wantErr string
	}{
		{
			name: "empty pod selector: the namespace's pods of this cluster",
			spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
			want: []string{`"podSelector":{"matchLabels":{"nest.dev/managed-by":"nest","nest.dev/virtual-cluster":"dev","nest.dev/virtual-namespace":"shop"}}`},
		},
		{
			name: "pod selector and peer in the same namespace",
			spec: networkingv1.NetworkPolicySpec{PodSelector: web, Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "client"}}}},
			}}},
			want: []string{
				`"podSelector":{"matchLabels":{"app":"web","nest.dev/managed-by":"nest"`,
				`{"podSelector":{"matchLabels":{"nest.dev/managed-by":"nest","nest.dev/virtual-cluster":"dev","role":"client"},"matchExpressions":[{"key":"nest.dev/virtual-namespace","operator":"In","values":["shop"]}]}}`,
			},
		},
		{
			name: "namespace selector resolved against virtual namespaces",
			spec: networkingv1.NetworkPolicySpec{PodSelector: web, Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}},
			}}},
			want: []string{`"values":["pay","shop"]`},
		},
		{
			name: "namespace selector matching nothing matches no pod",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "zzz"}}}},
			}}},
			want: []string{`"nest.dev/virtual-namespace":""`},
		},
		{
			name: "all namespaces: every pod of this cluster",
			spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{
				To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}},
			}}},
			want: []string{`"values":["ops","pay","shop"]`},
		},
		{
			name: "ip blocks and open rules kept",
			spec: networkingv1.NetworkPolicySpec{
				Ingress: []networkingv1.NetworkPolicyIngressRule{{}},
				Egress:  []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}}}},
			},
			want: []string{`"ingress":[{}]`, `"ipBlock":{"cidr":"10.0.0.0/8"}`},
		},
		{
			name:    "a selector on Nest's labels is refused",
			spec:    networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"nest.dev/virtual-cluster": "other"}}},
			wantErr: "nest.dev/virtual-cluster",
		},
		{
			name: "a peer on Nest's labels is refused",
			spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "nest.dev/virtual-namespace", Operator: metav1.LabelSelectorOpExists}}}}},
			}}},
			wantErr: "nest.dev/virtual-namespace",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := s.translateNetworkPolicy(policy(tt.spec), "p-x-shop-x-dev")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(h.Spec)
			for _, w := range tt.want {
				if !strings.Contains(string(data), w) {
					t.Errorf("host spec %s\nlacks %s", data, w)
				}
			}
			if h.Namespace != "nest-dev" || h.Labels["nest.dev/virtual-cluster"] != "dev" {
				t.Errorf("host metadata = %+v", h.ObjectMeta)
			}
		})
	}
}
