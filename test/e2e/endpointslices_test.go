package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerEndpointSlices: an EndpointSlice a tenant writes for a
// selector-less service reaches the host under the host copy's service
// name, addresses kept and pod references translated; a slice for a service
// with a selector and the virtual cluster's own slices stay virtual; host
// edits are reverted, tenant edits follow, and a delete removes the copy.
func TestSyncerEndpointSlices(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "slices", lifecycle.CreateOptions{})
	ctx := context.Background()
	hostName := func(name string) string { return name + "-x-default-x-slices" }
	port := []corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}}
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "ext"}, Spec: corev1.ServiceSpec{Ports: port}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: port}},
	} {
		if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	slice := func(name, service, ip string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				discoveryv1.LabelServiceName: service, discoveryv1.LabelManagedBy: "tenant-tool", "team": "data",
			}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{
				Addresses:  []string{ip},
				Conditions: discoveryv1.EndpointConditions{Ready: ptrBool(true)},
				TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "db-0"},
			}},
			Ports: []discoveryv1.EndpointPort{{Name: ptrString("pg"), Port: ptrInt32(5432), Protocol: ptrProtocol(corev1.ProtocolTCP)}},
		}
	}
	for _, es := range []*discoveryv1.EndpointSlice{slice("ext-1", "ext", "10.123.0.9"), slice("web-extra", "web", "10.123.0.10")} {
		if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	hostSlices := env.Client.DiscoveryV1().EndpointSlices(vc.HostNamespace)
	hostCopy := func(want string) func() (bool, error) {
		return func() (bool, error) {
			h, err := hostSlices.Get(ctx, hostName("ext-1"), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if h.Labels[discoveryv1.LabelServiceName] != hostName("ext") || h.Labels[discoveryv1.LabelManagedBy] != "syncer.nest.dev" ||
				h.Labels["team"] != "data" || h.Labels["nest.dev/managed-by"] != "nest" {
				return false, fmt.Errorf("labels %v", h.Labels)
			}
			if len(h.Endpoints) != 1 || !slices.Equal(h.Endpoints[0].Addresses, []string{want}) {
				return false, fmt.Errorf("endpoints %+v, want address %s", h.Endpoints, want)
			}
			ref := h.Endpoints[0].TargetRef
			if ref == nil || ref.Namespace != vc.HostNamespace || ref.Name != hostName("db-0") {
				return false, fmt.Errorf("target %+v, want the host pod %s", ref, hostName("db-0"))
			}
			return true, nil
		}
	}
	testenv.Eventually(t, time.Minute, "the tenant's slice on the host", hostCopy("10.123.0.9"))

	t.Run("only the tenant's slices of selector-less services", func(t *testing.T) {
		l, err := hostSlices.List(ctx, metav1.ListOptions{LabelSelector: "nest.dev/virtual-cluster=slices"})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range l.Items {
			if h.Annotations["nest.dev/virtual-kind"] == "EndpointSlice" && h.Name != hostName("ext-1") {
				t.Errorf("host slice %s copied from virtual %s", h.Name, h.Annotations["nest.dev/virtual-name"])
			}
		}
	})
	t.Run("host edits reverted", func(t *testing.T) {
		patch := `{"endpoints":[{"addresses":["10.123.0.66"],"conditions":{"ready":true}}]}`
		if _, err := hostSlices.Patch(ctx, hostName("ext-1"), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "the host copy put back", hostCopy("10.123.0.9"))
	})
	t.Run("tenant edits follow", func(t *testing.T) {
		patch := `{"endpoints":[{"addresses":["10.123.0.11"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","name":"db-0"}}]}`
		if _, err := client.DiscoveryV1().EndpointSlices("default").Patch(ctx, "ext-1", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "the new address on the host", hostCopy("10.123.0.11"))
	})
	t.Run("deleted with the tenant's slice", func(t *testing.T) {
		if err := client.DiscoveryV1().EndpointSlices("default").Delete(ctx, "ext-1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "the host copy gone", func() (bool, error) {
			_, err := hostSlices.Get(ctx, hostName("ext-1"), metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	})
}

func ptrString(s string) *string                     { return &s }
func ptrInt32(i int32) *int32                        { return &i }
func ptrProtocol(p corev1.Protocol) *corev1.Protocol { return &p }
