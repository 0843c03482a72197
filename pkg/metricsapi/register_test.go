package metricsapi

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorfake "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/fake"

	"github.com/nestcluster/nest/pkg/names"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	owned := map[string]string{names.LabelManagedBy: names.ManagedByValue}
	service := func(labels map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "nest-metrics", Namespace: "kube-system", Labels: labels},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost"}}
	}
	apiService := func(labels map[string]string) *apiregistrationv1.APIService {
		return &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: APIServiceName, Labels: labels},
			Spec: apiregistrationv1.APIServiceSpec{Group: Group, Version: Version}}
	}
	tests := []struct {
		name        string
		services    []runtime.Object
		apiServices []runtime.Object
		wantErr     error
	}{
		{name: "fresh"},
		{name: "Nest's from a former start", services: []runtime.Object{service(owned)}, apiServices: []runtime.Object{apiService(owned)}},
		{name: "someone else's service", services: []runtime.Object{service(nil)}, wantErr: ErrNotOwned},
		{name: "someone else's metrics-server", apiServices: []runtime.Object{apiService(map[string]string{"app": "metrics-server"})}, wantErr: ErrNotOwned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			client, apis := fake.NewClientset(tt.services...), aggregatorfake.NewSimpleClientset(tt.apiServices...)
			reg := Registration{Namespace: "kube-system", Service: "nest-metrics", Host: "localhost", Port: 4443, CABundle: []byte("ca")}
			err := Register(ctx, client, apis, reg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Register = %v, want %v", err, tt.wantErr)
			}
			svc, _ := client.CoreV1().Services("kube-system").Get(ctx, "nest-metrics", metav1.GetOptions{})
			as, _ := apis.ApiregistrationV1().APIServices().Get(ctx, APIServiceName, metav1.GetOptions{})
			if tt.wantErr != nil {
				// Nothing of someone else's was changed.
				for _, o := range tt.services {
					if svc.Spec.Ports != nil || svc.Labels[names.LabelManagedBy] != o.(*corev1.Service).Labels[names.LabelManagedBy] {
						t.Errorf("someone else's service was changed: %+v", svc)
					}
				}
				for range tt.apiServices {
					if as.Spec.Service != nil || as.Labels[names.LabelManagedBy] != "" {
						t.Errorf("someone else's APIService was changed: %+v", as)
					}
				}
				return
			}
			if svc.Spec.ExternalName != "localhost" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 4443 || svc.Labels[names.LabelManagedBy] != names.ManagedByValue {
				t.Errorf("service = %+v, want an ExternalName to localhost, port 4443, Nest's", svc)
			}
			if s := as.Spec.Service; s == nil || s.Name != "nest-metrics" || s.Namespace != "kube-system" || *s.Port != 4443 || string(as.Spec.CABundle) != "ca" || as.Spec.Group != Group {
				t.Errorf("APIService = %+v, want one pointing at kube-system/nest-metrics:4443 with the CA bundle", as.Spec)
			}
		})
	}
}

// TestRegisterTwiceWritesOnce: registering what is already registered
// writes nothing (the watch of keepRegistered sees every write).
func TestRegisterTwiceWritesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client, apis := fake.NewClientset(), aggregatorfake.NewSimpleClientset()
	reg := Registration{Namespace: "kube-system", Service: "nest-metrics", Host: "localhost", Port: 4443, CABundle: []byte("ca")}
	for range 2 {
		if err := Register(ctx, client, apis, reg); err != nil {
			t.Fatal(err)
		}
	}
	writes := 0
	for _, a := range append(client.Actions(), apis.Actions()...) {
		if a.GetVerb() != "get" {
			writes++
		}
	}
	if writes != 2 {
		t.Errorf("%d writes, want 2 (one create each)", writes)
	}
	reg.Port = 5443
	if err := Register(ctx, client, apis, reg); err != nil {
		t.Fatal(err)
	}
	as, _ := apis.ApiregistrationV1().APIServices().Get(ctx, APIServiceName, metav1.GetOptions{})
	svc, _ := client.CoreV1().Services("kube-system").Get(ctx, "nest-metrics", metav1.GetOptions{})
	if *as.Spec.Service.Port != 5443 || svc.Spec.Ports[0].Port != 5443 {
		t.Errorf("after a restart on port 5443: APIService port %d, service port %d", *as.Spec.Service.Port, svc.Spec.Ports[0].Port)
	}
}
