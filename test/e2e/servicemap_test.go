package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerServiceMappings: a host service of another namespace shows in
// the virtual cluster (service plus endpoints, kept up to date, in a
// namespace made for it), its host copy points at the host pods, the
// syncer may read exactly the mapped host service, a virtual service is
// exposed on the host under a chosen name, a host service Nest did not
// make is never taken over, and deleting either side's service removes its
// mapped counterpart.
func TestSyncerServiceMappings(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	shared := createNamespace(t, env, "shared")
	port := []corev1.ServicePort{{Name: "pg", Port: 5432, TargetPort: intstr.FromInt32(5432), Protocol: corev1.ProtocolTCP}}
	for _, name := range []string{"postgres", "unmapped"} {
		if _, err := env.Client.CoreV1().Services(shared).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: port},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Client.AppsV1().Deployments(shared).Create(ctx, deployment("postgres", 1), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	grant := hostaccess.GrantName("nest-svcmap")
	t.Cleanup(func() { // after the cluster's deletion, before the namespace's
		ctx := context.Background()
		if _, err := env.Client.RbacV1().Roles(shared).Get(ctx, grant, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("role %s/%s after the cluster's deletion: %v, want NotFound", shared, grant, err)
		}
		if _, err := env.Client.RbacV1().RoleBindings(shared).Get(ctx, grant, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("role binding %s/%s after the cluster's deletion: %v, want NotFound", shared, grant, err)
		}
	})
	cfg := config.Default()
	cfg.Sync.ServiceMappings = config.ServiceMappings{
		FromHost: []config.ServiceMapping{{From: shared + "/postgres", To: "default/db"}, {From: shared + "/postgres", To: "data/pg"}},
		ToHost:   []config.ServiceMapping{{From: "default/web", To: "web-public"}, {From: "default/api", To: "taken"}},
	}
	vc, client := env.VirtualCluster(t, "svcmap", lifecycle.CreateOptions{Config: cfg})
	foreign := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "taken", Labels: map[string]string{"owner": "someone"}}, Spec: corev1.ServiceSpec{Ports: port}}
	if _, err := env.Client.CoreV1().Services(vc.HostNamespace).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	hostPodIPs := func() ([]string, error) {
		pods, err := env.Client.CoreV1().Pods(shared).List(ctx, metav1.ListOptions{LabelSelector: "app=postgres"})
		if err != nil {
			return nil, err
		}
		var ips []string
		for _, p := range pods.Items {
			if p.Status.PodIP != "" && p.DeletionTimestamp == nil {
				ips = append(ips, p.Status.PodIP)
			}
		}
		slices.Sort(ips)
		return ips, nil
	}
	mirrored := func(want int) {
		t.Helper()
		testenv.Eventually(t, 2*time.Minute, fmt.Sprintf("the host service's %d endpoints in both virtual services and on the host copy", want), func() (bool, error) {
			ips, err := hostPodIPs()
			if err != nil || len(ips) != want {
				return false, fmt.Errorf("host pod IPs %v, %v", ips, err)
			}
			for _, c := range []struct {
				what string
				get  func() ([]string, error)
			}{
				{"virtual default/db", func() ([]string, error) { return endpointIPs(ctx, client.CoreV1().Endpoints("default"), "db") }},
				{"virtual data/pg", func() ([]string, error) { return endpointIPs(ctx, client.CoreV1().Endpoints("data"), "pg") }},
				{"host copy of db", func() ([]string, error) {
					return endpointIPs(ctx, env.Client.CoreV1().Endpoints(vc.HostNamespace), "db-x-default-x-svcmap")
				}},
			} {
				got, err := c.get()
				if err != nil || !slices.Equal(got, ips) {
					return false, fmt.Errorf("%s: %v, %v; want %v", c.what, got, err, ips)
				}
			}
			return true, nil
		})
	}
	mirrored(1)
	db, err := client.CoreV1().Services("default").Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Spec.Selector) != 0 || len(db.Spec.Ports) != 1 || db.Spec.Ports[0].Port != 5432 || db.Spec.Ports[0].Name != "pg" {
		t.Fatalf("virtual service db: selector %v, ports %+v; want selector-less with the host service's ports", db.Spec.Selector, db.Spec.Ports)
	}

	// The syncer's own host credentials read the mapped service, and only it.
	syncerHost, err := kube.Clientset(controlplane.Layout{Dir: env.Home.ClusterDir("svcmap")}.HostKubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncerHost.CoreV1().Services(shared).Get(ctx, "postgres", metav1.GetOptions{}); err != nil {
		t.Errorf("syncer reading the mapped host service: %v", err)
	}
	if _, err := syncerHost.CoreV1().Services(shared).Get(ctx, "unmapped", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("syncer reading an unmapped host service: %v, want Forbidden", err)
	}
	if _, err := syncerHost.CoreV1().Services(shared).Update(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "postgres", Namespace: shared}}, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("syncer writing the mapped host service: %v, want Forbidden", err)
	}

	// The host service's endpoints change: so do the virtual ones.
	if _, err := env.Client.AppsV1().Deployments(shared).Patch(ctx, "postgres", types.MergePatchType, []byte(`{"spec":{"replicas":2}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	mirrored(2)

	// Exposing a virtual service on the host.
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	webPort := []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}}
	for _, name := range []string{"web", "api"} {
		if _, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: webPort},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 2*time.Minute, "the exposed host service web-public selecting the tenant's two pods", func() (bool, error) {
		h, err := env.Client.CoreV1().Services(vc.HostNamespace).Get(ctx, "web-public", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if h.Spec.Selector["app"] != "web" || h.Spec.Selector["nest.dev/virtual-cluster"] != "svcmap" || h.Spec.Selector["nest.dev/virtual-namespace"] != "default" {
			return false, fmt.Errorf("selector %v", h.Spec.Selector)
		}
		ips, err := endpointIPs(ctx, env.Client.CoreV1().Endpoints(vc.HostNamespace), "web-public")
		return err == nil && len(ips) == 2, fmt.Errorf("endpoints %v, %v", ips, err)
	})
	testenv.Eventually(t, time.Minute, "a HostNameTaken warning on the virtual service api", func() (bool, error) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=api,reason=HostNameTaken"})
		return err == nil && len(evs.Items) > 0, fmt.Errorf("%v", err)
	})
	if h, err := env.Client.CoreV1().Services(vc.HostNamespace).Get(ctx, "taken", metav1.GetOptions{}); err != nil || h.Labels["owner"] != "someone" || len(h.Spec.Selector) != 0 {
		t.Fatalf("foreign host service: %+v, %v; want it untouched", h, err)
	}

	// Deleting either side's service removes its counterpart.
	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.CoreV1().Services(shared).Delete(ctx, "postgres", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the exposed service and the mapped virtual services gone", func() (bool, error) {
		if _, err := env.Client.CoreV1().Services(vc.HostNamespace).Get(ctx, "web-public", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, fmt.Errorf("host web-public: %v", err)
		}
		for _, ref := range []string{"default/db", "data/pg"} {
			ns, name, _ := config.SplitServiceRef(ref)
			if _, err := client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return false, fmt.Errorf("virtual %s: %v", ref, err)
			}
		}
		_, err := env.Client.CoreV1().Services(vc.HostNamespace).Get(ctx, "taken", metav1.GetOptions{})
		return err == nil, fmt.Errorf("foreign host service: %v", err)
	})
}
