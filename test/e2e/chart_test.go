package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/nestcluster/nest/charts"
	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/controlplane"
	nestexec "github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/kubeconfig"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/ports"
)

// TestChartInstallsAndItsServiceAccountRunsTheSyncer installs charts/nest
// into a namespace of the local host and proves, on a real apiserver:
//
//   - every object the chart renders is created (the Namespace with its Pod
//     Security labels, RBAC, Services, StatefulSet, quota, limits, network
//     policies); the StatefulSet's pod gets its claim and is Running on a
//     KWOK node, which is simulated: no container runs;
//   - the chart's service account may do everything pkg/hostaccess.Rules
//     lists in its namespace (SelfSubjectAccessReview with its own token,
//     and `kubectl auth can-i`), and nothing in other namespaces or at
//     cluster scope;
//   - a real `nest controlplane` process, standing in for the simulated
//     pod and holding only that service account's token for the host,
//     syncs a Deployment of 3 replicas: 3/3 available, 3 pods on the host,
//     and publishes its admin kubeconfig in a host Secret, which works.
//
// Helm's install is rendering (the Helm SDK, with the values schema) and
// creating what it renders, which is what this test does.
func TestChartInstallsAndItsServiceAccountRunsTheSyncer(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	const (
		ns      = "nest-chart-e2e"
		release = "dev"
		vc      = "dev" // the chart's clusterName defaults to the release name
		sa      = "dev-nest"
		class   = "nest-chart-e2e-manual"
	)

	// Render and install.
	chart, err := charts.Load(charts.NestChart)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := charts.Render(chart, charts.Release{Name: release, Namespace: ns, Values: map[string]any{
		"isolation":     map[string]any{"preset": "baseline", "createNamespace": true},
		"resourceQuota": map[string]any{"enabled": true},
		"persistence":   map[string]any{"storageClass": class, "size": "1Gi"},
		"service":       map[string]any{"type": "NodePort"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	restCfg, err := kube.RESTConfig(env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Client.Discovery()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = env.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		_ = env.Client.CoreV1().PersistentVolumes().Delete(ctx, "pv-"+ns, metav1.DeleteOptions{})
	})
	// Namespace first, as Helm orders kinds.
	objs := slices.Clone(rendered.Objects)
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int {
		return boolInt(b.GetKind() == "Namespace") - boolInt(a.GetKind() == "Namespace")
	})
	for _, o := range objs {
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			t.Fatalf("%s: %v", o.GetKind(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Create(ctx, o, metav1.CreateOptions{FieldManager: "helm"}); err != nil {
			t.Fatalf("install %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	// Every object is there.
	for _, o := range rendered.Objects {
		m, _ := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(ns)
		}
		if _, err := ri.Get(ctx, o.GetName(), metav1.GetOptions{}); err != nil {
			t.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
	if n, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil || n.Labels["pod-security.kubernetes.io/enforce"] != "baseline" {
		t.Errorf("namespace %s labels: %v (%v), want Pod Security baseline enforced", ns, n.GetLabels(), err)
	}

	// The state claim binds to a volume (the local host has no provisioner;
	// a storage admin's volume stands in) and the pod is Running on a KWOK
	// node: scheduled and reported, nothing runs.
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-" + ns},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:              class,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/nowhere"}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpExists}},
			}}}},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: ns, Name: "state-dev-nest-0"},
		},
	}
	if _, err := env.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "the control plane's pod Running (on a KWOK node) with its claim bound", func() (bool, error) {
		pvc, err := env.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "state-dev-nest-0", metav1.GetOptions{})
		if err != nil || pvc.Status.Phase != corev1.ClaimBound {
			return false, err
		}
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, "dev-nest-0", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && p.Spec.ServiceAccountName == sa, err
	})

	// The service account's own token, as the kubelet would mount it.
	tr, err := env.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostKubeconfig := tokenKubeconfig(t, env.Kubeconfig, tr.Status.Token, ns)
	asSA, err := kube.Clientset(hostKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	checkAccess(ctx, t, asSA, ns)
	checkNodeReadGrant(ctx, t, env, asSA, release, ns)
	kubectl := testenv.KubectlBinary(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"auth", "can-i", "create", "pods", "-n", ns}, "yes"},
		{[]string{"auth", "can-i", "get", "pods", "--subresource=log", "-n", ns}, "yes"},
		{[]string{"auth", "can-i", "create", "pods", "-n", "default"}, "no"},
		{[]string{"auth", "can-i", "list", "secrets", "-A"}, "no"},
		{[]string{"auth", "can-i", "create", "roles", "-n", ns}, "no"},
	} {
		out, _ := exec.Command(kubectl, append([]string{"--kubeconfig", hostKubeconfig}, c.args...)...).CombinedOutput()
		if got := strings.TrimSpace(string(out)); got != c.want {
			t.Errorf("kubectl %s = %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// A real control plane with only that token for the host.
	dir := t.TempDir()
	port, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	layout := controlplane.Layout{Dir: dir}
	pid, err := nestexec.Local{}.StartDetached(nestexec.Command{
		Path: env.NestBinary,
		Args: []string{"controlplane", "--name=" + vc, "--dir=" + dir, "--port=" + strconv.Itoa(port),
			"--host-kubeconfig=" + hostKubeconfig, "--host-namespace=" + ns,
			"--tls-san=dev-nest." + ns + ".svc",
			"--kubeconfig-secret=dev-nest-kubeconfig", "--kubeconfig-server=" + controlplane.LocalServer("127.0.0.1", port)},
		LogPath: layout.LogPath(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane log:\n%s", nestexec.TailLog(layout.LogPath(), 60))
		}
		_ = nestexec.Terminate(pid, dir, 10*time.Second)
	})
	var virtual kubernetes.Interface
	testenv.Eventually(t, 2*time.Minute, "the virtual apiserver", func() (bool, error) {
		if !nestexec.Alive(pid, dir) {
			t.Fatalf("control plane exited:\n%s", nestexec.TailLog(layout.LogPath(), 40))
		}
		if virtual == nil {
			c, err := kube.Clientset(layout.AdminKubeconfig())
			if err != nil {
				return false, err
			}
			virtual = c
		}
		if err := kube.Readyz(ctx, virtual, controlplane.SlowBootstrapChecks...); err != nil {
			return false, err
		}
		_, err := virtual.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	selector := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: selector},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
			},
		},
	}
	if _, err := virtual.AppsV1().Deployments("default").Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostSelector := labels.SelectorFromSet(labels.Set{names.LabelVirtualCluster: names.LabelValue(vc), "app": "web"}).String()
	testenv.Eventually(t, 3*time.Minute, "deployment web 3/3 available, 3 pods on the host", func() (bool, error) {
		d, err := virtual.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{})
		if err != nil || d.Status.AvailableReplicas != 3 {
			return false, err
		}
		pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: hostSelector})
		if err != nil {
			return false, err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == 3 && len(pods.Items) == 3, nil
	})

	// The kubeconfig it published in the host namespace, with that same
	// token, is how a user connects.
	var published []byte
	testenv.Eventually(t, time.Minute, "the published kubeconfig", func() (bool, error) {
		s, err := env.Client.CoreV1().Secrets(ns).Get(ctx, "dev-nest-kubeconfig", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		published = s.Data[controlplane.KubeconfigSecretKey]
		return len(published) > 0, nil
	})
	path := filepath.Join(t.TempDir(), "dev.kubeconfig")
	if err := os.WriteFile(path, published, 0o600); err != nil {
		t.Fatal(err)
	}
	user, err := kube.Clientset(path)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := user.AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{}); err != nil || d.Status.AvailableReplicas != 3 {
		t.Errorf("through the published kubeconfig: deployment web %v (%v), want 3 available", d.Status.AvailableReplicas, err)
	}
}

// checkAccess asks the host, as the chart's service account, about every
// permission pkg/hostaccess.Rules grants: allowed in its namespace, denied
// in another namespace and at cluster scope.
func checkAccess(ctx context.Context, t *testing.T, asSA kubernetes.Interface, ns string) {
	t.Helper()
	can := func(attrs authorizationv1.ResourceAttributes) bool {
		r, err := asSA.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("self subject access review %+v: %v", attrs, err)
		}
		return r.Status.Allowed
	}
	checked := 0
	for _, rule := range hostaccess.Rules() {
		for _, group := range rule.APIGroups {
			for _, res := range rule.Resources {
				resource, sub, _ := strings.Cut(res, "/")
				for _, verb := range rule.Verbs {
					attrs := authorizationv1.ResourceAttributes{Group: group, Resource: resource, Subresource: sub, Verb: verb}
					own, other, cluster := attrs, attrs, attrs
					own.Namespace, other.Namespace = ns, "default"
					if !can(own) {
						t.Errorf("%s %s (group %q) in %s: denied, want allowed", verb, res, group, ns)
					}
					if can(other) {
						t.Errorf("%s %s (group %q) in default: allowed, want denied", verb, res, group)
					}
					if can(cluster) {
						t.Errorf("%s %s (group %q) in all namespaces: allowed, want denied", verb, res, group)
					}
					checked++
				}
			}
		}
	}
	for _, attrs := range []authorizationv1.ResourceAttributes{
		{Namespace: ns, Group: "rbac.authorization.k8s.io", Resource: "roles", Verb: "create"},
		{Namespace: ns, Group: "rbac.authorization.k8s.io", Resource: "rolebindings", Verb: "update"},
		{Namespace: ns, Group: "apps", Resource: "statefulsets", Verb: "update"},
		{Namespace: ns, Resource: "resourcequotas", Verb: "delete"},
		{Namespace: ns, Group: "networking.k8s.io", Resource: "networkpolicies", Verb: "impersonate"},
		{Resource: "namespaces", Verb: "delete", Name: ns},
		{Resource: "nodes", Verb: "list"},
		{Resource: "persistentvolumes", Verb: "create"},
	} {
		if can(attrs) {
			t.Errorf("%s %s/%s in %q: allowed, want denied", attrs.Verb, attrs.Group, attrs.Resource, attrs.Namespace)
		}
	}
	t.Logf("checked %d permissions of pkg/hostaccess.Rules, each in 3 scopes", checked)
}

// checkNodeReadGrant: with a config that reads the host's nodes (real
// node data) the chart adds a ClusterRole and binding that let the
// account read nodes, and nothing more. The test creates those two objects
// next to the installed release and asks again.
func checkNodeReadGrant(ctx context.Context, t *testing.T, env *testenv.Env, asSA kubernetes.Interface, release, ns string) {
	t.Helper()
	chart, err := charts.Load(charts.NestChart)
	if err != nil {
		t.Fatal(err)
	}
	restCfg, err := kube.RESTConfig(env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Client.Discovery()))
	can := func(attrs authorizationv1.ResourceAttributes) bool {
		r, err := asSA.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attrs},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("self subject access review %+v: %v", attrs, err)
		}
		return r.Status.Allowed
	}
	nodes, err := charts.Render(chart, charts.Release{Name: release, Namespace: ns, Values: map[string]any{
		"controlPlane": map[string]any{"config": map[string]any{"sync": map[string]any{"fromHost": map[string]any{"nodes": map[string]any{"mode": "real"}}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	added := 0
	for _, o := range nodes.Objects {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "ClusterRoleBinding" {
			continue
		}
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			t.Fatal(err)
		}
		ri := dyn.Resource(m.Resource)
		if _, err := ri.Create(ctx, o, metav1.CreateOptions{FieldManager: "helm"}); err != nil {
			t.Fatalf("install %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		t.Cleanup(func() { _ = ri.Delete(context.Background(), o.GetName(), metav1.DeleteOptions{}) })
		added++
	}
	if added != 2 {
		t.Fatalf("%d cluster-scoped RBAC objects for real node data, want a ClusterRole and its binding", added)
	}
	for _, tt := range []struct {
		attrs authorizationv1.ResourceAttributes
		want  bool
	}{
		{authorizationv1.ResourceAttributes{Resource: "nodes", Verb: "get"}, true},
		{authorizationv1.ResourceAttributes{Resource: "nodes", Verb: "list"}, true},
		{authorizationv1.ResourceAttributes{Resource: "nodes", Verb: "watch"}, true},
		{authorizationv1.ResourceAttributes{Resource: "nodes", Verb: "update"}, false},
		{authorizationv1.ResourceAttributes{Resource: "nodes", Verb: "delete"}, false},
		{authorizationv1.ResourceAttributes{Resource: "nodes", Subresource: "proxy", Verb: "get"}, false},
		{authorizationv1.ResourceAttributes{Resource: "persistentvolumes", Verb: "list"}, false},
		{authorizationv1.ResourceAttributes{Resource: "pods", Verb: "list", Namespace: "default"}, false},
	} {
		// RBAC answers from its informers' cache: wait for the new binding.
		testenv.Eventually(t, time.Minute, fmt.Sprintf("%s %s/%s with real node data: %v", tt.attrs.Verb, tt.attrs.Resource, tt.attrs.Subresource, tt.want), func() (bool, error) {
			return can(tt.attrs) == tt.want, nil
		})
	}
}

// tokenKubeconfig writes a kubeconfig for the host with nothing but token.
func tokenKubeconfig(t *testing.T, adminKubeconfig, token, ns string) string {
	t.Helper()
	admin, err := clientcmd.LoadFromFile(adminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	ca := cluster.CertificateAuthorityData
	if len(ca) == 0 && cluster.CertificateAuthority != "" {
		if ca, err = os.ReadFile(cluster.CertificateAuthority); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "host.kubeconfig")
	cfg := kubeconfig.Build(kubeconfig.Params{ContextName: "chart-sa", Server: cluster.Server, CAData: ca, Token: token, Namespace: ns})
	if err := kubeconfig.Write(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
