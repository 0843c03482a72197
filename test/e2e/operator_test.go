package e2e

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/nesthome"
	"github.com/nestcluster/nest/pkg/operator"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// operatorEnv is one test's operator setup: a host namespace for its
// VirtualClusters (and Lease), a state home, clients.
type operatorEnv struct {
	env       *testenv.Env
	namespace string
	state     *nesthome.Home
	dyn       dynamic.ResourceInterface
	// chartValues of the VirtualClusters of runtime pod.
	chartValues map[string]any
	// hostKubeconfig is the operator's, if not the admin's; it then does
	// not install the CRD.
	hostKubeconfig string
}

// newOperatorEnv makes the test's host namespace and state home; at the
// end it deletes whatever virtual clusters are left in the home.
func newOperatorEnv(t *testing.T, namespace string) *operatorEnv {
	t.Helper()
	env := testenv.Get(t)
	ctx := context.Background()
	if _, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	state, err := nesthome.Open(filepath.Join(env.Home.Dir(), "operator-"+namespace))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kube.RESTConfig(env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	oe := &operatorEnv{env: env, namespace: namespace, state: state, dyn: dyn.Resource(v1alpha1.GroupVersionResource).Namespace(namespace)}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p := oe.provider(t)
		clusters, _ := p.List(ctx)
		for _, c := range clusters {
			if err := p.Delete(ctx, c.Name); err != nil && !errors.Is(err, lifecycle.ErrNotFound) {
				t.Errorf("clean up virtual cluster %s: %v", c.Name, err)
			}
		}
		_ = env.Client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
	})
	return oe
}

func (oe *operatorEnv) provider(t *testing.T) *lifecycle.Provider {
	t.Helper()
	p, err := lifecycle.NewProvider(oe.state, lifecycle.WithNestBinary(oe.env.NestBinary))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runningOperator is an operator running in the test process.
type runningOperator struct {
	stop    func()
	mu      sync.Mutex
	leading bool
}

func (r *runningOperator) isLeading() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.leading
}

// start runs an operator on the test's namespace until stop or the end of
// the test. identity names it in the Lease. With wait, it returns once
// the operator leads (and so the CRD is established).
func (oe *operatorEnv) start(t *testing.T, identity string, wait bool) *runningOperator {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningOperator{}
	done := make(chan error, 1)
	go func() {
		done <- operator.Run(ctx, operator.Config{
			HostKubeconfig: cmp.Or(oe.hostKubeconfig, oe.env.Kubeconfig),
			Home:           oe.state,
			NestBinary:     oe.env.NestBinary,
			ChartValues:    oe.chartValues,
			Namespace:      oe.namespace,
			Workers:        2,
			Resync:         10 * time.Second,
			RetryBase:      500 * time.Millisecond,
			RetryMax:       5 * time.Second,
			InstallCRD:     oe.hostKubeconfig == "",
			LeaderElection: operator.LeaderElection{
				Namespace: oe.namespace, Name: "nest-operator", Identity: identity,
				LeaseDuration: 4 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: 500 * time.Millisecond,
			},
			Logger: nestlog.New(testWriter{t, identity}, 0),
			OnLeading: func() {
				r.mu.Lock()
				r.leading = true
				r.mu.Unlock()
			},
		})
	}()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("operator %s: %v", identity, err)
				}
			case <-time.After(2 * time.Minute):
				t.Errorf("operator %s did not stop", identity)
			}
		})
	}
	t.Cleanup(r.stop)
	if wait {
		testenv.Eventually(t, 2*time.Minute, "operator "+identity+" to lead", func() (bool, error) {
			return r.isLeading(), nil
		})
	}
	return r
}

// testWriter sends an operator's log lines to the test log.
type testWriter struct {
	t    *testing.T
	name string
}

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// apply creates the VirtualCluster in manifest (YAML) in the test's namespace.
func (oe *operatorEnv) apply(ctx context.Context, manifest string) error {
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		return err
	}
	u.SetAPIVersion("nest.dev/v1alpha1")
	u.SetKind("VirtualCluster")
	_, err := oe.dyn.Create(ctx, u, metav1.CreateOptions{})
	return err
}

func (oe *operatorEnv) get(ctx context.Context, name string) (*v1alpha1.VirtualCluster, error) {
	u, err := oe.dyn.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	vc := &v1alpha1.VirtualCluster{}
	return vc, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, vc)
}

// patch merges a JSON patch into the VirtualCluster.
func (oe *operatorEnv) patch(ctx context.Context, name, patch string) error {
	_, err := oe.dyn.Patch(ctx, name, "application/merge-patch+json", []byte(patch), metav1.PatchOptions{})
	return err
}

// waitPhase waits until the VirtualCluster reports phase for its current
// generation, and returns it.
func (oe *operatorEnv) waitPhase(t *testing.T, name string, phase v1alpha1.Phase) *v1alpha1.VirtualCluster {
	t.Helper()
	var vc *v1alpha1.VirtualCluster
	testenv.Eventually(t, 4*time.Minute, fmt.Sprintf("VirtualCluster %s %s", name, phase), func() (bool, error) {
		var err error
		vc, err = oe.get(context.Background(), name)
		if err != nil {
			return false, err
		}
		return vc.Status.Phase == phase && vc.Status.ObservedGeneration == vc.Generation,
			fmt.Errorf("phase %q at generation %d of %d, conditions %+v", vc.Status.Phase, vc.Status.ObservedGeneration, vc.Generation, vc.Status.Conditions)
	})
	return vc
}

func condition(vc *v1alpha1.VirtualCluster, typ string) metav1.Condition {
	for _, c := range vc.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

// TestOperatorLifecycle: a VirtualCluster applied becomes Ready with an
// endpoint and a kubeconfig Secret that works; kubectl shows its phase and
// age; paused true removes its pods from the host (twice: a no-op) and
// false brings them back; deleting it removes its host namespace, its
// state, its Secret, and only then the object.
func TestOperatorLifecycle(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-life")
	oe.start(t, "a", true)
	ctx := context.Background()
	if err := oe.apply(ctx, "metadata: {name: web}\nspec: {isolation: {podSecurity: baseline}, config: {sync: {toHost: {ingresses: {enabled: true}}}}}"); err != nil {
		t.Fatal(err)
	}
	vc := oe.waitPhase(t, "web", v1alpha1.PhaseReady)
	if c := condition(vc, v1alpha1.ConditionReady); c.Status != metav1.ConditionTrue {
		t.Errorf("Ready condition %+v, want True", c)
	}
	if c := condition(vc, v1alpha1.ConditionFailed); c.Status != metav1.ConditionFalse {
		t.Errorf("Failed condition %+v, want False", c)
	}
	if !strings.HasPrefix(vc.Status.Endpoint, "https://127.0.0.1:") {
		t.Errorf("endpoint %q", vc.Status.Endpoint)
	}
	if !slicesContains(vc.Finalizers, v1alpha1.Finalizer) {
		t.Errorf("finalizers %v, want %s", vc.Finalizers, v1alpha1.Finalizer)
	}
	wantName := operator.ClusterName("op-life", "web")
	if vc.Status.ClusterName != wantName || vc.Status.HostNamespace != names.HostNamespace(wantName) {
		t.Errorf("cluster %q in host namespace %q, want %q in %q", vc.Status.ClusterName, vc.Status.HostNamespace, wantName, names.HostNamespace(wantName))
	}

	// The kubeconfig Secret works.
	ref := vc.Status.KubeconfigSecretRef
	if ref == nil {
		t.Fatal("no kubeconfigSecretRef")
	}
	secret, err := oe.env.Client.CoreV1().Secrets("op-life").Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].UID != vc.UID {
		t.Errorf("secret owners %+v, want the VirtualCluster %s", secret.OwnerReferences, vc.UID)
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

	// kubectl get virtualclusters shows phase and age.
	out, err := exec.Command(testenv.KubectlBinary(t), "--kubeconfig", oe.env.Kubeconfig, "-n", "op-life", "get", "virtualclusters").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get virtualclusters: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME PHASE AGE" || !strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "web Ready ") {
		t.Errorf("kubectl get virtualclusters:\n%s\nwant the columns NAME PHASE AGE and web Ready", out)
	}

	// Pause and resume, counting the pods on the host.
	if _, err := tenant.AppsV1().Deployments("default").Create(ctx, deployment("app", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostPods := func() (int, error) {
		l, err := oe.env.Client.CoreV1().Pods(vc.Status.HostNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, p := range l.Items {
			if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
				n++
			}
		}
		return n, nil
	}
	testenv.Eventually(t, 2*time.Minute, "3 pods running on the host", func() (bool, error) {
		n, err := hostPods()
		return n == 3, fmt.Errorf("%d running: %v", n, err)
	})
	p := oe.provider(t)
	for i := range 2 { // the second time it is paused already: nothing changes
		if err := oe.patch(ctx, "web", fmt.Sprintf(`{"spec":{"paused":true},"metadata":{"annotations":{"attempt":"%d"}}}`, i)); err != nil {
			t.Fatal(err)
		}
		vc = oe.waitPhase(t, "web", v1alpha1.PhasePaused)
		if c := condition(vc, v1alpha1.ConditionReady); c.Status != metav1.ConditionFalse || c.Reason != "Paused" {
			t.Errorf("Ready condition while paused: %+v", c)
		}
		if c, err := p.Get(ctx, wantName); err != nil || c.State != lifecycle.StatePaused {
			t.Fatalf("cluster %+v, %v; want Paused", c, err)
		}
		l, err := oe.env.Client.CoreV1().Pods(vc.Status.HostNamespace).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 0 {
			t.Fatalf("host pods while paused: %d, %v; want none", len(l.Items), err)
		}
	}
	if err := oe.patch(ctx, "web", `{"spec":{"paused":false}}`); err != nil {
		t.Fatal(err)
	}
	oe.waitPhase(t, "web", v1alpha1.PhaseReady)
	testenv.Eventually(t, 2*time.Minute, "3 pods running on the host again", func() (bool, error) {
		n, err := hostPods()
		return n == 3, fmt.Errorf("%d running: %v", n, err)
	})

	// Delete: everything goes, then the object.
	stateDir := oe.state.ClusterDir(wantName)
	if _, err := os.Stat(stateDir); err != nil {
		t.Fatalf("state directory: %v", err)
	}
	if err := oe.dyn.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "the VirtualCluster to go", func() (bool, error) {
		vc, err := oe.get(ctx, "web")
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err == nil && vc.Status.Phase != v1alpha1.PhaseDeleting && vc.Status.Phase != v1alpha1.PhaseReady {
			t.Errorf("phase while deleting: %s", vc.Status.Phase)
		}
		return false, err
	})
	if _, err := oe.env.Client.CoreV1().Namespaces().Get(ctx, vc.Status.HostNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("host namespace %s after delete: %v, want NotFound", vc.Status.HostNamespace, err)
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("state directory %s after delete: %v, want gone", stateDir, err)
	}
	if _, err := oe.env.Client.CoreV1().Secrets("op-life").Get(ctx, ref.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("kubeconfig Secret after delete: %v, want NotFound", err)
	}
	if _, err := p.Get(ctx, wantName); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Errorf("lifecycle record after delete: %v, want not found", err)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestOperatorRejectsInvalidSpecs: the CRD's schema and CEL rules refuse
// bad VirtualClusters at admission with messages naming the field, and
// changes to immutable fields.
func TestOperatorRejectsInvalidSpecs(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-invalid")
	ctx := context.Background()
	crds, err := apiextensionsClient(oe.env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := operator.EnsureCRD(ctx, crds); err != nil {
		t.Fatal(err)
	}
	creates := []struct {
		name, manifest, want string
	}{
		{"no spec", "metadata: {name: a}", `spec: Required value`},
		{"unknown runtime", "metadata: {name: a}\nspec: {runtime: docker}", `spec.runtime: Unsupported value: "docker": supported values: "process", "pod"`},
		{"version format", "metadata: {name: a}\nspec: {kubernetesVersion: '1.34'}", `spec.kubernetesVersion: Invalid value: "string": kubernetesVersion must look like v1.34.4`},
		{"pod security level", "metadata: {name: a}\nspec: {isolation: {podSecurity: strict}}", `spec.isolation.podSecurity: Unsupported value: "strict": supported values: "privileged", "baseline", "restricted"`},
		{"datastore scheme", "metadata: {name: a}\nspec: {datastore: {endpoint: 'mysql://db'}}", `spec.datastore.endpoint: Invalid value: "string": endpoint must start with sqlite://, etcd://`},
		{"datastore in config", "metadata: {name: a}\nspec: {config: {datastore: {endpoint: ''}}}", `spec.config: Invalid value: "object": set spec.datastore, not spec.config.datastore`},
		{"isolation in config", "metadata: {name: a}\nspec: {config: {isolation: {}}}", `set spec.isolation, not spec.config.isolation`},
		{"version in config", "metadata: {name: a}\nspec: {config: {kubernetesVersion: v1.34.4}}", `set spec.kubernetesVersion, not spec.config.kubernetesVersion`},
		{"paused not a boolean", "metadata: {name: a}\nspec: {paused: 'yes'}", `spec.paused: Invalid value: "string": spec.paused in body must be of type boolean`},
		{"name not a label", "metadata: {name: a.b}\nspec: {}", `metadata.name must be a DNS-1123 label`},
	}
	for _, tt := range creates {
		t.Run("create/"+tt.name, func(t *testing.T) {
			err := oe.apply(ctx, tt.manifest)
			if err == nil {
				_ = oe.dyn.Delete(ctx, "a", metav1.DeleteOptions{})
				t.Fatalf("accepted, want an error containing %q", tt.want)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want Invalid containing %q", err, tt.want)
			}
		})
	}

	if err := oe.apply(ctx, "metadata: {name: base}\nspec: {kubernetesVersion: v1.34.4, config: {sync: {}}, isolation: {podSecurity: restricted}}"); err != nil {
		t.Fatalf("a valid VirtualCluster is refused: %v", err)
	}
	updates := []struct {
		name, patch, want string
	}{
		{"runtime", `{"spec":{"runtime":"pod"}}`, "runtime is immutable"},
		{"datastore added", `{"spec":{"datastore":{"endpoint":"etcd://127.0.0.1:2379"}}}`, "datastore is immutable"},
		{"config changed", `{"spec":{"config":{"sync":{"toHost":{"ingresses":{"enabled":true}}}}}}`, "config is immutable"},
		{"config removed", `{"spec":{"config":null}}`, "config is immutable"},
		{"isolation changed", `{"spec":{"isolation":{"podSecurity":"baseline"}}}`, "isolation is immutable"},
		{"version changed", `{"spec":{"kubernetesVersion":"v1.35.0"}}`, "kubernetesVersion is immutable"},
	}
	for _, tt := range updates {
		t.Run("update/"+tt.name, func(t *testing.T) {
			err := oe.patch(ctx, "base", tt.patch)
			if err == nil {
				t.Fatalf("accepted, want an error containing %q", tt.want)
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want Invalid containing %q", err, tt.want)
			}
		})
	}
	if err := oe.patch(ctx, "base", `{"spec":{"paused":true}}`); err != nil {
		t.Errorf("paused is refused: %v", err)
	}
}

// TestOperatorFailures: what passes admission but cannot be made leaves
// the VirtualCluster Failed with the reason; a create that fails is
// retried with back-off until it works; deleting a failed one works.
func TestOperatorFailures(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-fail")
	ctx := context.Background()

	// The host namespace "taken" would get exists already, not Nest's.
	foreign := names.HostNamespace(operator.ClusterName("op-fail", "taken"))
	if _, err := oe.env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: foreign}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := oe.env.Client.CoreV1().ConfigMaps(foreign).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mine"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	oe.start(t, "a", true)

	tests := []struct {
		name, manifest, reason, message string
	}{
		{"badsync", "spec: {config: {sync: {toHost: {widgets: {enabled: true}}}}}", "InvalidConfig", `sync.toHost.widgets: Unsupported value: "widgets"`},
		{"unknown", "spec: {config: {colour: blue}}", "InvalidConfig", `spec.config: decode: unknown field "colour"`},
		{"taken", "spec: {}", "CreateFailed", "host namespace " + foreign + " already exists and is not managed by Nest"},
	}
	for _, tt := range tests {
		if err := oe.apply(ctx, "metadata: {name: "+tt.name+"}\n"+tt.manifest); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.Eventually(t, 3*time.Minute, tt.name+" Failed with "+tt.reason, func() (bool, error) {
				vc, err := oe.get(ctx, tt.name)
				if err != nil {
					return false, err
				}
				c := condition(vc, v1alpha1.ConditionFailed)
				return vc.Status.Phase == v1alpha1.PhaseFailed && c.Status == metav1.ConditionTrue && c.Reason == tt.reason && strings.Contains(c.Message, tt.message),
					fmt.Errorf("phase %q, Failed condition %+v", vc.Status.Phase, c)
			})
		})
	}

	// The namespace Nest does not own is untouched, and the create is
	// retried: once the namespace is gone, "taken" becomes Ready.
	ns, err := oe.env.Client.CoreV1().Namespaces().Get(ctx, foreign, metav1.GetOptions{})
	if err != nil || len(ns.Labels) > 1 { // only kubernetes.io/metadata.name
		t.Fatalf("foreign namespace %+v, %v: touched", ns.Labels, err)
	}
	if _, err := oe.env.Client.CoreV1().ConfigMaps(foreign).Get(ctx, "mine", metav1.GetOptions{}); err != nil {
		t.Fatalf("the foreign namespace's configmap: %v", err)
	}
	if err := oe.env.Client.CoreV1().Namespaces().Delete(ctx, foreign, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	vc := oe.waitPhase(t, "taken", v1alpha1.PhaseReady)
	if c := condition(vc, v1alpha1.ConditionFailed); c.Status != metav1.ConditionFalse {
		t.Errorf("Failed condition once Ready: %+v", c)
	}
	// kubectl describe tells the story: the failure, then the create.
	testenv.Eventually(t, time.Minute, "the events of taken", func() (bool, error) {
		evs, err := oe.env.Client.CoreV1().Events("op-fail").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=taken"})
		if err != nil {
			return false, err
		}
		var reasons []string
		for _, ev := range evs.Items {
			reasons = append(reasons, ev.Type+"/"+ev.Reason)
		}
		return slicesContains(reasons, "Warning/CreateFailed") && slicesContains(reasons, "Normal/Created"), fmt.Errorf("events %v", reasons)
	})

	for _, tt := range tests {
		if err := oe.dyn.Delete(ctx, tt.name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Eventually(t, 3*time.Minute, "every VirtualCluster to go", func() (bool, error) {
		l, err := oe.dyn.List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0, err
	})
	if clusters, err := oe.provider(t).List(ctx); err != nil || len(clusters) != 0 {
		t.Errorf("virtual clusters left: %+v, %v", clusters, err)
	}
}

// TestOperatorLeaderElectionAndRestart: of two operators only the one
// holding the Lease acts; when it stops, the other takes over and
// converges from the VirtualCluster and the lifecycle records, without
// making the cluster again.
func TestOperatorLeaderElectionAndRestart(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-lead")
	ctx := context.Background()
	a := oe.start(t, "a", true)
	b := oe.start(t, "b", false)
	if err := oe.apply(ctx, "metadata: {name: db}\nspec: {}"); err != nil {
		t.Fatal(err)
	}
	vc := oe.waitPhase(t, "db", v1alpha1.PhaseReady)
	if b.isLeading() {
		t.Fatal("both operators lead")
	}
	lease, err := oe.env.Client.CoordinationV1().Leases("op-lead").Get(ctx, "nest-operator", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != "a" {
		t.Fatalf("lease %+v, %v; want held by a", lease, err)
	}
	p := oe.provider(t)
	before, err := p.Get(ctx, vc.Status.ClusterName)
	if err != nil {
		t.Fatal(err)
	}

	a.stop()
	testenv.Eventually(t, 2*time.Minute, "operator b to lead", func() (bool, error) { return b.isLeading(), nil })
	// b acts: it pauses the cluster it did not make, which it finds again
	// from the VirtualCluster and the lifecycle record.
	after, err := p.Get(ctx, vc.Status.ClusterName)
	if err != nil {
		t.Fatal(err)
	}
	if after.PID != before.PID || !after.Created.Equal(before.Created) {
		t.Errorf("cluster made or started again on take-over: %+v, was %+v", after, before)
	}
	if err := oe.patch(ctx, "db", `{"spec":{"paused":true}}`); err != nil {
		t.Fatal(err)
	}
	oe.waitPhase(t, "db", v1alpha1.PhasePaused)
	if err := oe.dyn.Delete(ctx, "db", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "the VirtualCluster to go", func() (bool, error) {
		_, err := oe.get(ctx, "db")
		return apierrors.IsNotFound(err), err
	})
}

func apiextensionsClient(kubeconfig string) (apiextensionsclient.Interface, error) {
	cfg, err := kube.RESTConfig(kubeconfig, "")
	if err != nil {
		return nil, err
	}
	return apiextensionsclient.NewForConfig(cfg)
}

// TestOperatorCommand: `nest operator` (the binary) reconciles a
// VirtualCluster to Ready and away again, and on SIGTERM exits cleanly and
// releases its Lease.
func TestOperatorCommand(t *testing.T) {
	t.Parallel()
	oe := newOperatorEnv(t, "op-cli")
	ctx := context.Background()
	logPath := filepath.Join(t.TempDir(), "operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(oe.env.NestBinary, "operator", "--kubeconfig", oe.env.Kubeconfig, "--namespace", "op-cli",
		"--state-dir", oe.state.Dir(), "--leader-election-namespace", "op-cli", "--workers", "1")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("nest operator log:\n%s", data)
		}
	})
	testenv.Eventually(t, 2*time.Minute, "the operator to lead", func() (bool, error) {
		lease, err := oe.env.Client.CoordinationV1().Leases("op-cli").Get(ctx, "nest-operator", metav1.GetOptions{})
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "", err
	})
	if err := oe.apply(ctx, "metadata: {name: cli}\nspec: {}"); err != nil {
		t.Fatal(err)
	}
	vc := oe.waitPhase(t, "cli", v1alpha1.PhaseReady)
	if c, err := oe.provider(t).Get(ctx, vc.Status.ClusterName); err != nil || c.State != lifecycle.StateRunning {
		t.Fatalf("cluster in --state-dir: %+v, %v; want Running", c, err)
	}
	if err := oe.dyn.Delete(ctx, "cli", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 3*time.Minute, "the VirtualCluster to go", func() (bool, error) {
		_, err := oe.get(ctx, "cli")
		return apierrors.IsNotFound(err), err
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("nest operator exited with %v after SIGINT", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("nest operator did not exit after SIGINT")
	}
	lease, err := oe.env.Client.CoordinationV1().Leases("op-cli").Get(ctx, "nest-operator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("lease after exit: held by %q, want released", *h)
	}
	data, _ := os.ReadFile(logPath)
	for _, want := range []string{`msg="Leading: reconciling VirtualClusters"`, `msg="Virtual cluster created"`, `msg="Virtual cluster deleted"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("operator log lacks %s:\n%s", want, data)
		}
	}
}
