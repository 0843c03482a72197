package syncer

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestTokensAllowed(t *testing.T) {
	t.Parallel()
	open := make(chan struct{})
	close(open)
	tests := []struct {
		name  string
		ready chan struct{}
		want  bool
	}{
		{"no gate", nil, true},
		{"apiserver not fully ready yet", make(chan struct{}), false},
		{"apiserver ready", open, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Syncer{tokensReady: tt.ready}
			if got := s.tokensAllowed(); got != tt.want {
				t.Fatalf("tokensAllowed() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRootCA(t *testing.T) {
	t.Parallel()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	if err := idx.Add(&corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: rootCAConfigMap},
		Data:       map[string]string{corev1.ServiceAccountRootCAKey: "published CA"},
	}); err != nil {
		t.Fatal(err)
	}
	configMaps := corelisters.NewConfigMapLister(idx)
	tests := []struct {
		name    string
		bundle  []byte
		ns      string
		want    string
		wantErr bool
	}{
		{"the bundle's CA, without waiting for the namespace's ConfigMap", []byte("bundle CA"), "new", "bundle CA", false},
		{"no bundle: the published ConfigMap", nil, "shop", "published CA", false},
		{"no bundle and not published yet", nil, "new", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Syncer{caPEM: tt.bundle, virtualConfigMaps: configMaps}
			got, err := s.rootCA(context.Background(), tt.ns)
			if (err != nil) != tt.wantErr || string(got) != tt.want {
				t.Fatalf("rootCA(%q) = %q, %v; want %q, error %v", tt.ns, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
