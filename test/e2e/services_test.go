package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerServices: services reach the host with selectors that pick
// exactly the tenant's pods, each virtual service ends up with the cluster
// IP and node ports the host gave its copy, a selector-less service's
// endpoints follow it down, host events about the pods come up with
// virtual names, and deleting a service removes its copy.
func TestSyncerServices(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "services", lifecycle.CreateOptions{})
	ctx := context.Background()
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	port := []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}
	// A host service already holds the cluster IP the tenant pins for
	// "pinned": its host copy gets another one, and the virtual service is
	// moved to it.
	const taken = "10.96.200.200"
	squatter := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "squatter-of-" + vc.HostNamespace}, Spec: corev1.ServiceSpec{ClusterIP: taken, Ports: port}}
	if _, err := env.Client.CoreV1().Services("default").Create(ctx, squatter, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.CoreV1().Services("default").Delete(context.Background(), squatter.Name, metav1.DeleteOptions{})
	})
	services := []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "pinned"}, Spec: corev1.ServiceSpec{ClusterIP: taken, Selector: map[string]string{"app": "web"}, Ports: port}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "front"}}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: port}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-np"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"}, Ports: port}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-headless"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": "web"}, Ports: port}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}}}},
	}
	for _, svc := range services {
		if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.CoreV1().Endpoints("default").Create(ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.123.0.7"}},
			Ports:     []corev1.EndpointPort{{Name: "pg", Port: 5432, Protocol: corev1.ProtocolTCP}},
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostName := func(name string) string { return name + "-x-default-x-services" }
	hostSvc := func(name string) (*corev1.Service, error) {
		return env.Client.CoreV1().Services(vc.HostNamespace).Get(ctx, hostName(name), metav1.GetOptions{})
	}

	testenv.Eventually(t, 2*time.Minute, "every service on the host, and each virtual service with its host copy's cluster IP and node ports", func() (bool, error) {
		for _, svc := range services {
			h, err := hostSvc(svc.Name)
			if err != nil {
				return false, err
			}
			v, err := client.CoreV1().Services("default").Get(ctx, svc.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if v.Spec.ClusterIP != h.Spec.ClusterIP {
				return false, fmt.Errorf("service %s: virtual cluster IP %s, host %s", svc.Name, v.Spec.ClusterIP, h.Spec.ClusterIP)
			}
			if v.Spec.Ports[0].NodePort != h.Spec.Ports[0].NodePort {
				return false, fmt.Errorf("service %s: virtual node port %d, host %d", svc.Name, v.Spec.Ports[0].NodePort, h.Spec.Ports[0].NodePort)
			}
		}
		return true, nil
	})
	if h, err := hostSvc("pinned"); err != nil || h.Spec.ClusterIP == taken {
		t.Fatalf("host copy of the pinned service: %v, %v; want another cluster IP than %s", h, err, taken)
	}
	h, err := hostSvc("web")
	if err != nil {
		t.Fatal(err)
	}
	if h.Labels["tier"] != "front" || h.Spec.Selector["app"] != "web" || h.Spec.Selector["nest.dev/virtual-namespace"] != "default" || h.Spec.Selector["nest.dev/virtual-cluster"] != "services" {
		t.Fatalf("host service web: labels %v, selector %v; want the tenant's, scoped to the virtual namespace and cluster", h.Labels, h.Spec.Selector)
	}
	if h, err := hostSvc("web-headless"); err != nil || h.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Fatalf("headless service on the host: %v, %v", h, err)
	}

	testenv.Eventually(t, 2*time.Minute, "the host's endpoints of web to be the two tenant pods, as in the virtual cluster", func() (bool, error) {
		hostIPs, err := endpointIPs(ctx, env.Client.CoreV1().Endpoints(vc.HostNamespace), hostName("web"))
		if err != nil {
			return false, err
		}
		virtualIPs, err := endpointIPs(ctx, client.CoreV1().Endpoints("default"), "web")
		if err != nil {
			return false, err
		}
		return len(hostIPs) == 2 && slices.Equal(hostIPs, virtualIPs), fmt.Errorf("host %v, virtual %v", hostIPs, virtualIPs)
	})
	testenv.Eventually(t, time.Minute, "the selector-less service's endpoints on the host", func() (bool, error) {
		ips, err := endpointIPs(ctx, env.Client.CoreV1().Endpoints(vc.HostNamespace), hostName("db"))
		return err == nil && slices.Equal(ips, []string{"10.123.0.7"}), fmt.Errorf("%v, %v", ips, err)
	})

	testenv.Eventually(t, time.Minute, "the host scheduler's events about the pods, with virtual names", func() (bool, error) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=Scheduled"})
		if err != nil {
			return false, err
		}
		for _, ev := range evs.Items {
			if strings.Contains(ev.Message, vc.HostNamespace) || strings.Contains(ev.Message, "-x-") {
				return false, fmt.Errorf("event message names host objects: %q", ev.Message)
			}
			if strings.HasPrefix(ev.Message, "Successfully assigned default/web-") && ev.InvolvedObject.Kind == "Pod" {
				return true, nil
			}
		}
		return false, fmt.Errorf("%d Scheduled events, none about a web pod", len(evs.Items))
	})

	for _, svc := range services {
		if err := client.CoreV1().Services("default").Delete(ctx, svc.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, time.Minute, "no service copies left on the host", func() (bool, error) {
		for _, svc := range services {
			if _, err := hostSvc(svc.Name); !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("host service %s: %v", svc.Name, err)
			}
		}
		_, err := env.Client.CoreV1().Endpoints(vc.HostNamespace).Get(ctx, hostName("db"), metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Errorf("host endpoints db: %v", err)
	})
}

// endpointIPs lists the ready addresses of an Endpoints object, sorted.
func endpointIPs(ctx context.Context, c interface {
	Get(context.Context, string, metav1.GetOptions) (*corev1.Endpoints, error)
}, name string) ([]string, error) {
	ep, err := c.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, s := range ep.Subsets {
		for _, a := range s.Addresses {
			ips = append(ips, a.IP)
		}
	}
	slices.Sort(ips)
	return ips, nil
}

// TestSyncerIngresses: with ingress sync turned on in nest.yaml, an ingress
// reaches the host pointing at the host copies of its service and TLS
// secret, and takes them away again when it goes.
func TestSyncerIngresses(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	cfg := config.Default()
	on := true
	cfg.Sync.ToHost["ingresses"] = config.ToHostSync{Enabled: &on}
	vc, client := env.VirtualCluster(t, "ingress", lifecycle.CreateOptions{Config: cfg})
	ctx := context.Background()
	if _, err := client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "shop-tls"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: []byte("cert"), corev1.TLSPrivateKeyKey: []byte("key")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Spec: networkingv1.IngressSpec{
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}},
			Rules: []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
				{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "front", Port: networkingv1.ServiceBackendPort{Number: 80}}}},
			}}}}},
		},
	}
	if _, err := client.NetworkingV1().Ingresses("default").Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostIngress := func() (*networkingv1.Ingress, error) {
		return env.Client.NetworkingV1().Ingresses(vc.HostNamespace).Get(ctx, "shop-x-default-x-ingress", metav1.GetOptions{})
	}
	hostSecret := func() error {
		_, err := env.Client.CoreV1().Secrets(vc.HostNamespace).Get(ctx, "shop-tls-x-default-x-ingress", metav1.GetOptions{})
		return err
	}
	testenv.Eventually(t, time.Minute, "the ingress and its TLS secret on the host", func() (bool, error) {
		h, err := hostIngress()
		if err != nil {
			return false, err
		}
		if err := hostSecret(); err != nil {
			return false, err
		}
		backend := h.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name
		return backend == "front-x-default-x-ingress" && h.Spec.TLS[0].SecretName == "shop-tls-x-default-x-ingress",
			fmt.Errorf("backend %q, TLS secret %q", backend, h.Spec.TLS[0].SecretName)
	})
	if err := client.NetworkingV1().Ingresses("default").Delete(ctx, "shop", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the ingress and its TLS secret gone from the host", func() (bool, error) {
		_, ierr := hostIngress()
		serr := hostSecret()
		return apierrors.IsNotFound(ierr) && apierrors.IsNotFound(serr), fmt.Errorf("ingress: %v, secret: %v", ierr, serr)
	})
}
