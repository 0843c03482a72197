package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/charts"
	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/chartrelease"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/nesthome"
	"github.com/nestcluster/nest/pkg/operator"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// TestOperatorPodRuntime: a VirtualCluster of runtime pod goes Ready
// through the operator. The operator installs the nest chart as a Helm
// release in the cluster's host namespace (with the operator's chart
// values: no volume, the local host has no provisioner); KWOK simulates
// its pod and the test's pod runner runs the pod's command, whose
// published kubeconfig the operator copies into the VirtualCluster's
// Secret, which works. Deleting the VirtualCluster uninstalls the release
// and removes the host namespace.
func TestOperatorPodRuntime(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-pod")
	oe.chartValues = map[string]any{"persistence": map[string]any{"enabled": false}}
	oe.start(t, "a", true)
	operatorPodRuntimeFlow(t, oe)
}

// operatorPodRuntimeFlow applies a VirtualCluster of runtime pod "web",
// runs its pod with the pod runner, checks it Ready with a working
// kubeconfig Secret, deletes it and checks the release, host namespace and
// Secret gone.
func operatorPodRuntimeFlow(t *testing.T, oe *operatorEnv) {
	t.Helper()
	ctx := context.Background()
	if err := oe.apply(ctx, "metadata: {name: web}\nspec: {runtime: pod}"); err != nil {
		t.Fatal(err)
	}
	cluster := operator.ClusterName(oe.namespace, "web")
	hostNS, full := names.HostNamespace(cluster), cluster+"-nest"
	testenv.Eventually(t, 3*time.Minute, "the release's pod", func() (bool, error) {
		pod, err := oe.env.Client.CoreV1().Pods(hostNS).Get(ctx, full+"-0", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pod.Status.Phase == corev1.PodRunning, fmt.Errorf("phase %s", pod.Status.Phase)
	})
	runChartPod(t, oe.env, hostNS, full+"-0")
	vc := oe.waitPhase(t, "web", v1alpha1.PhaseReady)
	if want := "https://" + full + "." + hostNS + ".svc:443"; vc.Status.Endpoint != want || vc.Spec.Runtime != "pod" {
		t.Errorf("runtime %q, endpoint %q; want pod at %s", vc.Spec.Runtime, vc.Status.Endpoint, want)
	}
	if ok, err := chartrelease.Exists(oe.env.Kubeconfig, hostNS, cluster, slog.New(slog.DiscardHandler)); !ok || err != nil {
		t.Fatalf("helm release %s in %s: %v, %v", cluster, hostNS, ok, err)
	}
	ref := vc.Status.KubeconfigSecretRef
	if ref == nil {
		t.Fatal("no kubeconfigSecretRef")
	}
	secret, err := oe.env.Client.CoreV1().Secrets(oe.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	restCfg, err := clientcmd.RESTConfigFromKubeConfig(secret.Data[ref.Key])
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("the kubeconfig of the Secret does not work: %v", err)
	}

	oe.deletePodCluster(t, "web", ref.Name)
}

// deletePodCluster deletes the VirtualCluster name of runtime pod and
// checks its Helm release, host namespace and kubeconfig Secret gone.
func (oe *operatorEnv) deletePodCluster(t *testing.T, name, secretName string) {
	t.Helper()
	ctx := context.Background()
	cluster := operator.ClusterName(oe.namespace, name)
	hostNS := names.HostNamespace(cluster)
	if err := oe.dyn.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "the VirtualCluster to go", func() (bool, error) {
		_, err := oe.get(ctx, name)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if ok, err := chartrelease.Exists(oe.env.Kubeconfig, hostNS, cluster, slog.New(slog.DiscardHandler)); ok || err != nil {
		t.Errorf("helm release after delete: %v, %v; want gone", ok, err)
	}
	if _, err := oe.env.Client.CoreV1().Namespaces().Get(ctx, hostNS, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("host namespace %s after delete: %v, want NotFound", hostNS, err)
	}
	if _, err := oe.env.Client.CoreV1().Secrets(oe.namespace).Get(ctx, secretName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kubeconfig Secret after delete: %v, want NotFound", err)
	}
}

// TestOperatorRestartKeepsPodClusters: the operator's lifecycle records
// are on the nest-operator chart's claim (persistence, on by default), so
// a replaced operator pod starts on the records of the one before. Here
// the first operator makes a VirtualCluster of runtime pod and stops; a
// second one (its own Home opened on the same directory, informers and
// Lease holder, as a new pod mounting the claim) takes it over: while no
// operator runs the VirtualCluster's kubeconfig Secret is deleted, and the
// second operator making it again shows that its reconcile ran to the end
// without making the cluster again: the lifecycle record is the first
// one's, no warning is raised, the host namespace, the Helm release
// (revision 1 only), its StatefulSet, Service, pod and published
// kubeconfig keep their uids, and the VirtualCluster stays Ready. Deleting
// it then still removes everything.
func TestOperatorRestartKeepsPodClusters(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-restart")
	oe.chartValues = map[string]any{"persistence": map[string]any{"enabled": false}}
	ctx := context.Background()
	first := oe.start(t, "first", true)
	if err := oe.apply(ctx, "metadata: {name: keep}\nspec: {runtime: pod}"); err != nil {
		t.Fatal(err)
	}
	cluster := operator.ClusterName(oe.namespace, "keep")
	hostNS, full := names.HostNamespace(cluster), cluster+"-nest"
	testenv.Eventually(t, 3*time.Minute, "the release's pod", func() (bool, error) {
		pod, err := oe.env.Client.CoreV1().Pods(hostNS).Get(ctx, full+"-0", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pod.Status.Phase == corev1.PodRunning, fmt.Errorf("phase %s", pod.Status.Phase)
	})
	runChartPod(t, oe.env, hostNS, full+"-0")
	vc := oe.waitPhase(t, "keep", v1alpha1.PhaseReady)
	ref := vc.Status.KubeconfigSecretRef
	if ref == nil {
		t.Fatal("no kubeconfigSecretRef")
	}
	before := podClusterUIDs(t, oe.env, hostNS, full)
	record, err := oe.provider(t).Get(ctx, cluster)
	if err != nil {
		t.Fatal(err)
	}

	first.stop()
	restart := time.Now()
	if err := oe.env.Client.CoreV1().Secrets(oe.namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	state, err := nesthome.Open(oe.state.Dir())
	if err != nil {
		t.Fatal(err)
	}
	oe.state = state
	oe.start(t, "second", true)
	testenv.Eventually(t, 3*time.Minute, "the second operator to make the kubeconfig Secret again", func() (bool, error) {
		_, err := oe.env.Client.CoreV1().Secrets(oe.namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	vc, err = oe.get(ctx, "keep")
	if err != nil {
		t.Fatal(err)
	}
	if vc.Status.Phase != v1alpha1.PhaseReady || condition(vc, v1alpha1.ConditionFailed).Status == metav1.ConditionTrue {
		t.Errorf("after the restart: phase %s, Failed %+v; want Ready", vc.Status.Phase, condition(vc, v1alpha1.ConditionFailed))
	}
	after := podClusterUIDs(t, oe.env, hostNS, full)
	if !maps.Equal(after, before) {
		t.Errorf("host objects after the restart:\n got  %v\n want %v (none made again)", after, before)
	}
	// Without the records the second operator would try to make the
	// cluster again: its Helm install fails (the release exists), and it
	// converges only by a retry that writes a new record.
	if got, err := oe.provider(t).Get(ctx, cluster); err != nil || !got.Created.Equal(record.Created) {
		t.Errorf("lifecycle record after the restart: %+v, %v; want the first operator's, made %s", got, err, record.Created)
	}
	events, err := oe.env.Client.CoreV1().Events(oe.namespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=keep,type=Warning"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.LastTimestamp.After(restart) || e.EventTime.After(restart) {
			t.Errorf("warning on the VirtualCluster after the restart: %s: %s", e.Reason, e.Message)
		}
	}
	oe.deletePodCluster(t, "keep", ref.Name)
}

// podClusterUIDs are the uids of a pod-runtime cluster's host objects by
// kind/name: its namespace, Helm release records, StatefulSet, Service,
// pod and published kubeconfig.
func podClusterUIDs(t *testing.T, env *testenv.Env, hostNS, full string) map[string]types.UID {
	t.Helper()
	ctx := context.Background()
	out := map[string]types.UID{}
	add := func(kind string, o metav1.Object, err error) {
		if err != nil {
			t.Fatalf("%s in %s: %v", kind, hostNS, err)
		}
		out[kind+"/"+o.GetName()] = o.GetUID()
	}
	ns, err := env.Client.CoreV1().Namespaces().Get(ctx, hostNS, metav1.GetOptions{})
	add("Namespace", ns, err)
	sts, err := env.Client.AppsV1().StatefulSets(hostNS).Get(ctx, full, metav1.GetOptions{})
	add("StatefulSet", sts, err)
	svc, err := env.Client.CoreV1().Services(hostNS).Get(ctx, full, metav1.GetOptions{})
	add("Service", svc, err)
	pod, err := env.Client.CoreV1().Pods(hostNS).Get(ctx, full+"-0", metav1.GetOptions{})
	add("Pod", pod, err)
	kc, err := env.Client.CoreV1().Secrets(hostNS).Get(ctx, full+"-kubeconfig", metav1.GetOptions{})
	add("Secret", kc, err)
	releases, err := env.Client.CoreV1().Secrets(hostNS).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range releases.Items {
		add("Secret", &releases.Items[i], nil)
	}
	return out
}

// TestOperatorChartInCluster: the nest-operator chart, rendered with the
// Helm SDK and created on the local host's real apiserver; its service
// account's rights are what the operator needs: an operator whose host
// kubeconfig holds only that account's token (TokenRequest) runs a
// VirtualCluster of runtime pod from applied to Ready to deleted (as
// TestOperatorPodRuntime), and access reviews with the token show what it
// may not do. The Deployment's pod is simulated by KWOK (nothing runs in
// it): the operator runs in the test process, with the token.
func TestOperatorChartInCluster(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-chart")
	tokenClient := installOperatorChart(t, oe, "ops", nil)
	assertOperatorAccess(t, oe, tokenClient, []operatorAccess{
		{authorizationv1.ResourceAttributes{Group: "nest.dev", Resource: "virtualclusters", Verb: "watch"}, true},
		{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: oe.namespace}, true},
		{authorizationv1.ResourceAttributes{Group: "coordination.k8s.io", Resource: "leases", Verb: "update", Namespace: "default"}, false},
		{authorizationv1.ResourceAttributes{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions", Verb: "create"}, false},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterroles", Verb: "create"}, false},
		{authorizationv1.ResourceAttributes{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings", Verb: "create"}, false},
		{authorizationv1.ResourceAttributes{Resource: "nodes", Verb: "delete"}, false},
		{authorizationv1.ResourceAttributes{Resource: "persistentvolumes", Verb: "create"}, false},
		{authorizationv1.ResourceAttributes{Group: "apps", Resource: "deployments", Verb: "create", Namespace: "default"}, false},
	})
	oe.start(t, "in-cluster", true)
	operatorPodRuntimeFlow(t, oe)
}

// installOperatorChart renders the nest-operator chart as release in oe's
// namespace (its cluster-scoped objects are named after the release), with
// values on top of a nest chart without a volume, creates its objects as
// Helm would, and points oe at a kubeconfig holding
// only its service account's token, with the chart's nest chart values. It
// returns a client with that token.
func installOperatorChart(t *testing.T, oe *operatorEnv, release string, values map[string]any) kubernetes.Interface {
	t.Helper()
	ctx := context.Background()
	env := oe.env
	chart, err := charts.Load(charts.NestOperatorChart)
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]any{"chartValues": map[string]any{"persistence": map[string]any{"enabled": false}}}
	maps.Copy(all, values)
	rendered, err := charts.Render(chart, charts.Release{Name: release, Namespace: oe.namespace, Values: all})
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
	var chartValues map[string]any
	for _, o := range rendered.Objects {
		m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
		if err != nil {
			t.Fatalf("%s: %v", o.GetKind(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		_, err = ri.Create(ctx, o, metav1.CreateOptions{FieldManager: "helm"})
		if o.GetKind() == "CustomResourceDefinition" && apierrors.IsAlreadyExists(err) {
			continue // shared by the other operator tests; not this test's to delete
		}
		if err != nil {
			t.Fatalf("install %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if m.Scope.Name() != meta.RESTScopeNameNamespace {
			t.Cleanup(func() { _ = ri.Delete(context.Background(), o.GetName(), metav1.DeleteOptions{}) })
		}
		if o.GetKind() == "ConfigMap" {
			data, _, _ := unstructured.NestedStringMap(o.Object, "data")
			if err := yaml.Unmarshal([]byte(data["chart-values.yaml"]), &chartValues); err != nil {
				t.Fatal(err)
			}
		}
	}
	tr, err := env.Client.CoreV1().ServiceAccounts(oe.namespace).CreateToken(ctx, release+"-nest-operator", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tokenKubeconfig(t, env.Kubeconfig, tr.Status.Token, oe.namespace)
	tokenClient, err := kube.Clientset(token)
	if err != nil {
		t.Fatal(err)
	}
	oe.hostKubeconfig, oe.chartValues = token, chartValues
	return tokenClient
}

// operatorAccess is one access review of the operator's token.
type operatorAccess struct {
	attrs authorizationv1.ResourceAttributes
	want  bool
}

func assertOperatorAccess(t *testing.T, oe *operatorEnv, tokenClient kubernetes.Interface, checks []operatorAccess) {
	t.Helper()
	for _, tt := range checks {
		r, err := tokenClient.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &tt.attrs}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Allowed != tt.want {
			t.Errorf("operator may %s %s.%s in %q: %v, want %v", tt.attrs.Verb, tt.attrs.Resource, tt.attrs.Group, tt.attrs.Namespace, r.Status.Allowed, tt.want)
		}
	}
}
