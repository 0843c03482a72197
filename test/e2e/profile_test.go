package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/profile"
)

// TestProfile applies the sample CI/CD profile to a virtual cluster, sees
// its API, operator and Helm release work, finds and repairs drift, and
// prunes what a new version of the profile dropped while leaving the
// tenant's own objects alone.
func TestProfile(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "profiles", lifecycle.CreateOptions{})
	cfg, err := kube.RESTConfig(vc.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(testenv.RepoRoot(), "examples", "profiles", "cicd")
	p, err := profile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	overrides := map[string]string{"DASHBOARD_TITLE": "Team builds"}
	ctx := context.Background()
	dyn := dynamic.NewForConfigOrDie(cfg)
	pipelines := schema.GroupVersionResource{Group: "ci.example.com", Version: "v1", Resource: "pipelines"}

	t.Run("apply", func(t *testing.T) {
		res, err := profile.Apply(ctx, cfg, p, overrides)
		if err != nil {
			t.Fatalf("apply: %v (%+v)", err, res)
		}
		wantStatus(t, res, map[string]profile.LayerStatus{
			"pipeline-crds": profile.StatusApplied, "pipeline-operator": profile.StatusApplied, "dashboard": profile.StatusApplied,
		})
		if r := res.Layers[2].Release; r == nil || r.Status != "deployed" || r.Revision != 1 || r.ChartVersion != "0.1.0" {
			t.Errorf("dashboard release = %+v, want revision 1 of chart 0.1.0 deployed", r)
		}
	})

	t.Run("CRDs established and a Pipeline accepted", func(t *testing.T) {
		ext := apiextensionsclient.NewForConfigOrDie(cfg)
		for _, name := range []string{"pipelines.ci.example.com", "pipelineruns.ci.example.com"} {
			crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !established(crd) {
				t.Errorf("CRD %s is not Established: %+v", name, crd.Status.Conditions)
			}
			if crd.Labels[profile.LabelProfile] != "cicd" || crd.Labels[profile.LabelLayer] != "pipeline-crds" || crd.Annotations[profile.AnnotationVersion] != "1.0.0" {
				t.Errorf("CRD %s labels %v annotations %v", name, crd.Labels, crd.Annotations)
			}
		}
		hello, err := dyn.Resource(pipelines).Namespace("ci-system").Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the profile's Pipeline: %v", err)
		}
		// The CRD's schema defaulted the branch: the object went through it.
		if branch, _, _ := unstructured.NestedString(hello.Object, "spec", "branch"); branch != "main" {
			t.Errorf("pipeline hello spec.branch = %q, want the schema's default main", branch)
		}
	})

	t.Run("workloads available on simulated nodes", func(t *testing.T) {
		for _, d := range []struct{ ns, name string }{{"ci-system", "pipeline-controller"}, {"ci-dashboard", "dashboard"}} {
			waitAvailable(t, client, d.ns, d.name)
		}
		dash, err := client.AppsV1().Deployments("ci-dashboard").Get(ctx, "dashboard", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if env := dash.Spec.Template.Spec.Containers[0].Env; len(env) != 1 || env[0].Value != "Team builds" {
			t.Errorf("dashboard env = %v, want the overridden DASHBOARD_TITLE", env)
		}
		if dash.Labels[profile.LabelLayer] != "dashboard" {
			t.Errorf("dashboard labels %v lack the profile's", dash.Labels)
		}
		pods, err := client.CoreV1().Pods("ci-system").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=pipeline-controller"})
		if err != nil || len(pods.Items) != 1 || pods.Items[0].Spec.NodeName == "" {
			t.Errorf("controller pods: %v %v", pods, err)
		}
	})

	t.Run("no drift after apply", func(t *testing.T) {
		res, err := profile.Diff(ctx, cfg, p, overrides)
		if err != nil {
			t.Fatal(err)
		}
		if res.Drifted() {
			t.Fatalf("drift right after apply: %+v", res.Layers)
		}
	})

	t.Run("drift found and repaired", func(t *testing.T) {
		// By hand: scale the controller, delete its configuration.
		scale, err := client.AppsV1().Deployments("ci-system").GetScale(ctx, "pipeline-controller", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		scale.Spec.Replicas = 3
		if _, err := client.AppsV1().Deployments("ci-system").UpdateScale(ctx, "pipeline-controller", scale, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := client.CoreV1().ConfigMaps("ci-system").Delete(ctx, "pipeline-controller-config", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		res, err := profile.Diff(ctx, cfg, p, overrides)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, res, map[string]profile.LayerStatus{
			"pipeline-crds": profile.StatusApplied, "pipeline-operator": profile.StatusDrifted, "dashboard": profile.StatusApplied,
		})
		drift := map[string]profile.Drift{}
		for _, d := range res.Layers[1].Drift {
			drift[d.Object.Kind+"/"+d.Object.Name] = d
		}
		if d := drift["Deployment/pipeline-controller"]; d.Reason != profile.DriftChanged || !contains(d.Fields, "spec.replicas") {
			t.Errorf("controller drift = %+v, want Changed spec.replicas", d)
		}
		if d := drift["ConfigMap/pipeline-controller-config"]; d.Reason != profile.DriftMissing {
			t.Errorf("config drift = %+v, want Missing", d)
		}
		if len(drift) != 2 {
			t.Errorf("drift %+v, want the two objects changed by hand", res.Layers[1].Drift)
		}

		// The scale took spec.replicas over: applying again conflicts,
		// as server-side apply does, with a clear error...
		res, err = profile.Apply(ctx, cfg, p, overrides)
		if err == nil || !strings.Contains(err.Error(), "owned by another field manager") || !strings.Contains(err.Error(), "spec.replicas") {
			t.Fatalf("apply over a conflict: err = %v, want a conflict on spec.replicas", err)
		}
		wantStatus(t, res, map[string]profile.LayerStatus{
			"pipeline-crds": profile.StatusApplied, "pipeline-operator": profile.StatusFailed, "dashboard": profile.StatusSkipped,
		})
		// The layer's other objects were applied all the same.
		if _, err := client.CoreV1().ConfigMaps("ci-system").Get(ctx, "pipeline-controller-config", metav1.GetOptions{}); err != nil {
			t.Errorf("configuration not re-created: %v", err)
		}
		// ...and the CLI forces it.
		out, err := nest(t, "profile", "apply", dir, "--cluster", vc.Name, "--set", "DASHBOARD_TITLE=Team builds", "--force-conflicts")
		if err != nil {
			t.Fatalf("nest profile apply --force-conflicts: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Deployment.apps ci-system/pipeline-controller configured") {
			t.Errorf("apply output lacks the repairs:\n%s", out)
		}
		d, err := client.AppsV1().Deployments("ci-system").Get(ctx, "pipeline-controller", metav1.GetOptions{})
		if err != nil || *d.Spec.Replicas != 1 {
			t.Fatalf("controller replicas after apply: %v, %v", d, err)
		}
		out, err = nest(t, "profile", "diff", dir, "--cluster", vc.Name, "--set", "DASHBOARD_TITLE=Team builds")
		if err != nil {
			t.Fatalf("nest profile diff after repair: %v\n%s", err, out)
		}
		if strings.Count(out, "Applied") != 3 {
			t.Errorf("diff output:\n%s", out)
		}
		// Without the override, the dashboard's title differs.
		out, err = nest(t, "profile", "diff", dir, "--cluster", vc.Name)
		if err == nil || !strings.Contains(out, "Deployment.apps ci-dashboard/dashboard Changed (spec.template.spec.containers)") {
			t.Errorf("diff with the default title: err = %v, output:\n%s", err, out)
		}
	})

	t.Run("new version prunes, tenant objects untouched", func(t *testing.T) {
		// The tenant's own objects, one in a namespace of the profile.
		for _, ns := range []string{"ci-system", "default"} {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "tenant-notes"}, Data: map[string]string{"a": "b"}}
			if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// Version 1.1.0: no controller configuration, no dashboard.
		p2 := *p
		p2.Version = "1.1.0"
		p2.Layers = nil
		for _, l := range p.Layers {
			switch l.Name {
			case "dashboard":
				continue
			case "pipeline-operator":
				l.Manifests = dropDocument(t, l.Manifests, "name: pipeline-controller-config")
			}
			p2.Layers = append(p2.Layers, l)
		}
		res, err := profile.Apply(ctx, cfg, &p2, nil)
		if err != nil {
			t.Fatalf("apply 1.1.0: %v (%+v)", err, res)
		}
		wantStatus(t, res, map[string]profile.LayerStatus{
			"pipeline-crds": profile.StatusApplied, "pipeline-operator": profile.StatusApplied, "dashboard": profile.StatusRemoved,
		})
		pruned := false
		for _, o := range res.Layers[1].Objects {
			if o.Object.Kind == "ConfigMap" && o.Object.Name == "pipeline-controller-config" && o.Action == profile.ActionPruned {
				pruned = true
			}
		}
		if !pruned {
			t.Errorf("operator layer objects %+v: the configuration was not pruned", res.Layers[1].Objects)
		}
		if _, err := client.CoreV1().ConfigMaps("ci-system").Get(ctx, "pipeline-controller-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("pruned configuration: err = %v, want NotFound", err)
		}
		testenv.Eventually(t, 2*time.Minute, "the dashboard to be uninstalled", func() (bool, error) {
			_, err := client.AppsV1().Deployments("ci-dashboard").Get(ctx, "dashboard", metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
		for _, ns := range []string{"ci-system", "default"} {
			if _, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "tenant-notes", metav1.GetOptions{}); err != nil {
				t.Errorf("tenant's ConfigMap in %s: %v", ns, err)
			}
		}
		d, err := client.AppsV1().Deployments("ci-system").Get(ctx, "pipeline-controller", metav1.GetOptions{})
		if err != nil || d.Annotations[profile.AnnotationVersion] != "1.1.0" {
			t.Errorf("controller after 1.1.0: %v annotations %v", err, d.Annotations)
		}
		res, err = profile.Diff(ctx, cfg, &p2, nil)
		if err != nil || res.Drifted() {
			t.Errorf("diff after 1.1.0: %v %+v", err, res)
		}
	})
}

func wantStatus(t *testing.T, res *profile.Result, want map[string]profile.LayerStatus) {
	t.Helper()
	if res == nil {
		t.Fatal("no result")
	}
	got := map[string]profile.LayerStatus{}
	for _, l := range res.Layers {
		got[l.Name] = l.Status
		if want[l.Name] != l.Status {
			t.Errorf("layer %s: %s (%s), want %s", l.Name, l.Status, l.Message, want[l.Name])
		}
	}
	if len(got) != len(want) {
		t.Errorf("layers %v, want %v", got, want)
	}
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

func waitAvailable(t *testing.T, client kubernetes.Interface, ns, name string) {
	t.Helper()
	testenv.Eventually(t, 3*time.Minute, "deployment "+ns+"/"+name+" to be Available", func() (bool, error) {
		d, err := client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == *d.Spec.Replicas {
				return true, nil
			}
		}
		return false, nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// dropDocument removes the YAML document containing marker.
func dropDocument(t *testing.T, manifests, marker string) string {
	t.Helper()
	docs := strings.Split(manifests, "\n---\n")
	var kept []string
	for _, d := range docs {
		if !strings.Contains(d, marker) {
			kept = append(kept, d)
		}
	}
	if len(kept) != len(docs)-1 {
		t.Fatalf("no single document with %q", marker)
	}
	return strings.Join(kept, "\n---\n")
}
