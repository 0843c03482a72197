package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	aggregator "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
)

// TestMetricsTop: `kubectl top pods` and `kubectl top nodes` in a virtual
// cluster show its pods and nodes under their virtual names, with the
// host's (on the local host, simulated) figures of their host copies; a
// tenant limited to one namespace cannot read another's, and the cluster's
// host credentials read the host's metrics of its own namespace only.
//
// Both node modes: fake nodes (the default) show under their vnode- names,
// real ones under the host nodes' names.
func TestMetricsTop(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	for _, mode := range []config.NodeMode{config.NodeModeFake, config.NodeModeReal} {
		t.Run(string(mode)+" nodes", func(t *testing.T) { testTop(t, env, mode) })
	}
}

func testTop(t *testing.T, env *testenv.Env, mode config.NodeMode) {
	cfg := config.Default()
	cfg.Sync.FromHost["nodes"] = config.FromHostSync{Enabled: ptrTo(true), Mode: mode}
	vc, client := env.VirtualCluster(t, "top-"+string(mode), lifecycle.CreateOptions{Config: cfg})
	ctx := context.Background()

	type ctr struct {
		name, cpu, mem string
	}
	pods := []struct {
		ns, name string
		ctrs     []ctr
	}{
		{"shop", "web", []ctr{{"main", "100m", "64Mi"}, {"sidecar", "20m", "16Mi"}}},
		{"shop", "worker", []ctr{{"main", "250m", "128Mi"}}},
		{"other", "lone", []ctr{{"main", "50m", "32Mi"}}},
	}
	for _, ns := range []string{"shop", "other"} {
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.ns, Labels: map[string]string{"app": p.name}}}
		for _, c := range p.ctrs {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c.name, Image: "app:1", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(c.cpu), corev1.ResourceMemory: resource.MustParse(c.mem)},
			}})
		}
		testenv.Eventually(t, time.Minute, "pod "+p.ns+"/"+p.name+" created (its namespace's default service account made)", func() (bool, error) {
			_, err := client.CoreV1().Pods(p.ns).Create(ctx, pod, metav1.CreateOptions{})
			return err == nil, err
		})
	}
	virtualPods := map[string]*corev1.Pod{} // ns/name
	for _, p := range pods {
		testenv.Eventually(t, 2*time.Minute, "pod "+p.ns+"/"+p.name+" Running", func() (bool, error) {
			got, err := client.CoreV1().Pods(p.ns).Get(ctx, p.name, metav1.GetOptions{})
			virtualPods[p.ns+"/"+p.name] = got
			return err == nil && got.Status.Phase == corev1.PodRunning && got.Spec.NodeName != "", err
		})
	}

	// The host's figures of the host copies, read as its admin.
	hostMetrics, err := metricsclient.NewForConfig(restConfig(t, env.Kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	type usage struct{ cpu, mem resource.Quantity }
	hostPods := map[string]map[string]usage{} // host pod → container → usage
	testenv.Eventually(t, 2*time.Minute, "the host's metrics of the three host pods", func() (bool, error) {
		list, err := hostMetrics.MetricsV1beta1().PodMetricses(vc.HostNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		clear(hostPods)
		for _, m := range list.Items {
			hostPods[m.Name] = map[string]usage{}
			for _, c := range m.Containers {
				hostPods[m.Name][c.Name] = usage{c.Usage[corev1.ResourceCPU], c.Usage[corev1.ResourceMemory]}
			}
		}
		return len(hostPods) == len(pods), fmt.Errorf("host pod metrics: %v", slices.Sorted(maps.Keys(hostPods)))
	})
	// The local host's figures are simulated: each container uses its requests.
	for _, p := range pods {
		for _, c := range p.ctrs {
			got := hostPods[names.HostName(vc.Name, p.ns, p.name)][c.name]
			if got.cpu.Cmp(resource.MustParse(c.cpu)) != 0 || got.mem.Cmp(resource.MustParse(c.mem)) != 0 {
				t.Errorf("host figures of %s/%s container %s = %s, %s; want its requests %s, %s", p.ns, p.name, c.name, &got.cpu, &got.mem, c.cpu, c.mem)
			}
		}
	}
	podLine := func(ns, name string) string {
		var cpu, mem resource.Quantity
		for _, u := range hostPods[names.HostName(vc.Name, ns, name)] {
			cpu.Add(u.cpu)
			mem.Add(u.mem)
		}
		return fmt.Sprintf("%s %dm %dMi", name, cpu.MilliValue(), mem.Value()/(1024*1024))
	}

	t.Run("top pods", func(t *testing.T) {
		want := podLine("shop", "web") + "\n" + podLine("shop", "worker")
		var out string
		testenv.Eventually(t, 2*time.Minute, "kubectl top pods -n shop to show the host's figures", func() (bool, error) {
			var err error
			out, err = kubectl(t, vc.Kubeconfig, "", "top", "pods", "-n", "shop", "--no-headers", "--sort-by=cpu")
			got := fields(out)
			return err == nil && sortedLines(got) == sortedLines(want), fmt.Errorf("%v: got %q, want %q", err, got, want)
		})
		t.Logf("kubectl top pods -n shop:\n%s", out)
		// For the record, not a limit: one kubectl top in the virtual
		// cluster (two hops: virtual aggregator, then the host's) and the
		// same on the host, best of five each.
		best := func(kubeconfig, ns string) time.Duration {
			d := time.Hour
			for range 5 {
				start := time.Now()
				if out, err := kubectl(t, kubeconfig, "", "top", "pods", "-n", ns); err != nil {
					t.Fatalf("kubectl top pods -n %s: %v: %s", ns, err, out)
				}
				d = min(d, time.Since(start))
			}
			return d
		}
		t.Logf("kubectl top pods, best of 5: virtual cluster %s, host %s", best(vc.Kubeconfig, "shop").Round(time.Millisecond), best(env.Kubeconfig, vc.HostNamespace).Round(time.Millisecond))
		out, err := kubectl(t, vc.Kubeconfig, "", "top", "pods", "-n", "shop", "--containers", "--no-headers", "-l", "app=web")
		if err != nil {
			t.Fatalf("kubectl top pods --containers: %v: %s", err, out)
		}
		var wantCtrs []string
		for _, c := range pods[0].ctrs {
			u := hostPods[names.HostName(vc.Name, "shop", "web")][c.name]
			wantCtrs = append(wantCtrs, fmt.Sprintf("web %s %dm %dMi", c.name, u.cpu.MilliValue(), u.mem.Value()/(1024*1024)))
		}
		if got := sortedLines(fields(out)); got != sortedLines(strings.Join(wantCtrs, "\n")) {
			t.Errorf("kubectl top pods --containers -l app=web = %q, want %q", got, strings.Join(wantCtrs, "\n"))
		}
		if out, err := kubectl(t, vc.Kubeconfig, "", "top", "pods", "-A", "--no-headers"); err != nil || len(strings.Split(fields(out), "\n")) != len(pods) {
			t.Errorf("kubectl top pods -A = %v, %q; want the %d pods of the cluster only", err, out, len(pods))
		}
	})

	t.Run("top nodes", func(t *testing.T) {
		// A virtual node shows the sum of this cluster's pods bound to it.
		sums := map[string][2]int64{}
		for key, p := range virtualPods {
			ns, name, _ := strings.Cut(key, "/")
			s := sums[p.Spec.NodeName]
			for _, u := range hostPods[names.HostName(vc.Name, ns, name)] {
				s[0] += u.cpu.MilliValue()
				s[1] += u.mem.Value()
			}
			sums[p.Spec.NodeName] = s
		}
		hostNodes := map[string]bool{}
		for key := range virtualPods {
			ns, name, _ := strings.Cut(key, "/")
			hp, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, names.HostName(vc.Name, ns, name), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			hostNodes[hp.Spec.NodeName] = true
		}
		var want []string
		for node, s := range sums {
			if mode == config.NodeModeFake && !strings.HasPrefix(node, "vnode-") {
				t.Errorf("virtual pods are bound to %q, want a fake node (vnode-...)", node)
			}
			if mode == config.NodeModeReal && !hostNodes[node] {
				t.Errorf("virtual pods are bound to %q, want one of the host nodes %v", node, slices.Sorted(maps.Keys(hostNodes)))
			}
			want = append(want, fmt.Sprintf("%s %dm %dMi", node, s[0], s[1]/(1024*1024)))
		}
		var out string
		testenv.Eventually(t, 2*time.Minute, "kubectl top nodes to show the virtual nodes", func() (bool, error) {
			var err error
			out, err = kubectl(t, vc.Kubeconfig, "", "top", "nodes", "--no-headers")
			var got []string
			for _, l := range strings.Split(fields(out), "\n") {
				if f := strings.Fields(l); len(f) == 5 {
					got = append(got, strings.Join([]string{f[0], f[1], f[3]}, " ")) // name, CPU, memory
				}
			}
			return err == nil && sortedLines(strings.Join(got, "\n")) == sortedLines(strings.Join(want, "\n")),
				fmt.Errorf("%v: got %q, want %q", err, out, want)
		})
		t.Logf("kubectl top nodes:\n%s", out)
	})

	t.Run("a tenant of one namespace reads only its own", func(t *testing.T) {
		role := &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "top", Namespace: "shop"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
				{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
			},
		}
		if _, err := client.RbacV1().Roles("shop").Create(ctx, role, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		binding := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "top", Namespace: "shop"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "jane", APIGroup: rbacv1.GroupName}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "top"},
		}
		if _, err := client.RbacV1().RoleBindings("shop").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, time.Minute, "jane to top the pods of shop", func() (bool, error) {
			out, err := kubectl(t, vc.Kubeconfig, "", "top", "pods", "-n", "shop", "--no-headers", "--as", "jane")
			return err == nil && strings.Contains(out, "worker"), fmt.Errorf("%v: %s", err, out)
		})
		out, err := kubectl(t, vc.Kubeconfig, "", "top", "pods", "-n", "other", "--as", "jane")
		if err == nil || !strings.Contains(out, "forbidden") || strings.Contains(out, "lone ") {
			t.Errorf("jane's kubectl top pods -n other = %v, %q; want forbidden", err, out)
		}
	})

	t.Run("a deleted registration comes back", func(t *testing.T) {
		apis, err := aggregator.NewForConfig(restConfig(t, vc.Kubeconfig))
		if err != nil {
			t.Fatal(err)
		}
		if err := apis.ApiregistrationV1().APIServices().Delete(ctx, "v1beta1.metrics.k8s.io", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := client.CoreV1().Services("kube-system").Delete(ctx, "nest-metrics", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		start, last := time.Now(), ""
		testenv.Eventually(t, 2*time.Minute, "kubectl top pods to work again", func() (bool, error) {
			out, err := kubectl(t, vc.Kubeconfig, "", "top", "pods", "-n", "shop", "--no-headers")
			if msg := fmt.Sprintf("%v: %s", err, out); msg != last {
				t.Logf("after %s: %s", time.Since(start).Round(time.Millisecond), msg)
				last = msg
			}
			return err == nil && strings.Contains(out, "worker"), fmt.Errorf("%v: %s", err, out)
		})
		// The Service stays virtual: no host copy of it.
		if _, err := env.Client.CoreV1().Services(vc.HostNamespace).Get(ctx, names.HostName(vc.Name, "kube-system", "nest-metrics"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("host copy of kube-system/nest-metrics: %v, want none", err)
		}
	})

	t.Run("host credentials read their own namespace's metrics only", func(t *testing.T) {
		hostCreds, err := metricsclient.NewForConfig(restConfig(t, controlplane.Layout{Dir: env.Home.ClusterDir(vc.Name)}.HostKubeconfig()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hostCreds.MetricsV1beta1().PodMetricses(vc.HostNamespace).List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("list pod metrics in its host namespace: %v, want allowed", err)
		}
		other := createNamespace(t, env, "metrics-other")
		for _, ns := range []string{other, "kube-system", ""} {
			_, err := hostCreds.MetricsV1beta1().PodMetricses(ns).List(ctx, metav1.ListOptions{})
			if !apierrors.IsForbidden(err) {
				t.Errorf("list pod metrics in namespace %q: %v, want forbidden", ns, err)
			}
		}
		if _, err := hostCreds.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("list node metrics: %v, want forbidden", err)
		}
	})
}

// fields normalizes kubectl's table output: one line per row, single spaces.
func fields(out string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			lines = append(lines, strings.Join(f, " "))
		}
	}
	return strings.Join(lines, "\n")
}

func sortedLines(s string) string {
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
