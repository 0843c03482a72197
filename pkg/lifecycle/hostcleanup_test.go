package lifecycle

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestDeletionOrder(t *testing.T) {
	t.Parallel()
	var (
		pods      = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
		secrets   = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
		claims    = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
		roles     = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
		otherPods = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "pods"}
	)
	tests := []struct {
		name string
		in   []schema.GroupVersionResource
		want []schema.GroupVersionResource
	}{
		{name: "nothing", in: nil, want: nil},
		{name: "pods alone", in: []schema.GroupVersionResource{pods}, want: []schema.GroupVersionResource{pods}},
		{name: "pods first, the rest by group, version and name", in: []schema.GroupVersionResource{secrets, roles, pods, claims},
			want: []schema.GroupVersionResource{pods, claims, secrets, roles}},
		{name: "only core pods go first", in: []schema.GroupVersionResource{otherPods, secrets, pods},
			want: []schema.GroupVersionResource{pods, secrets, otherPods}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := deletionOrder(slices.Values(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("deletionOrder(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
