package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/profile"
)

// TestHubProfile uploads the sample CI/CD profile to a hub, attaches it to
// a cluster group and creates a virtual cluster there: the profile is
// applied layer by layer once the cluster is Ready, a hand-made change
// shows as drift, and a new version of the profile is applied again and
// takes the change back. Detached, the profile is uninstalled.
func TestHubProfile(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	h := startHub(t, t.TempDir(), auth.NewKey())
	group, vcs := hubSetup(t, h, env, map[string]any{"cpu": "2", "memory": "4Gi", "storage": "10Gi", "pods": "20"})

	// Upload: the profile directory as portable JSON (the chart packaged).
	p, err := profile.Load(filepath.Join(testenv.RepoRoot(), "examples", "profiles", "cicd"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err = p.Portable(); err != nil {
		t.Fatal(err)
	}
	var cp store.ClusterProfile
	h.must(201, "POST", "/clusterprofiles", p, &cp)
	if cp.Version != p.Version {
		t.Fatalf("uploaded %+v", cp)
	}

	// Attach it to the group, with one variable overridden.
	var g store.ClusterGroup
	h.must(200, "GET", "/clustergroups/"+group, nil, &g)
	refs := []store.ProfileRef{{ProfileID: cp.ID, Variables: map[string]string{"DASHBOARD_TITLE": "Team builds"}}}
	h.must(200, "PUT", "/clustergroups/"+group, map[string]any{"resourceVersion": g.ResourceVersion,
		"hostClusterIds": g.HostClusterIDs, "quota": g.Quota, "profiles": refs}, &g)

	var vc store.VirtualCluster
	h.must(201, "POST", vcs, map[string]any{"name": "ci", "clusterGroupId": group}, &vc)
	path := vcs + "/" + vc.ID
	start := time.Now()
	got := waitProfile(t, h, path, "profile applied", func(st *store.ProfileStatus) bool {
		return st.Phase == store.ProfileApplied && st.Version == p.Version
	})
	t.Logf("profile applied %s after the create", time.Since(start).Round(time.Second))
	st := got.Status.Profiles[0]
	if st.Name != "cicd" || len(st.Layers) != 3 || st.AppliedAt.IsZero() {
		t.Fatalf("profile status %+v", st)
	}
	for _, l := range st.Layers {
		if l.Status != string(profile.StatusApplied) {
			t.Errorf("layer %s: %s %s", l.Name, l.Status, l.Message)
		}
	}
	if got.Status.Phase != store.VCReady || !conditionTrue(got, reconciler.CondProfiles) {
		t.Fatalf("status %+v", got.Status)
	}

	// What it applied is in the virtual cluster.
	var kc api.VirtualClusterKubeconfig
	h.must(200, "GET", path+"/kubeconfig", nil, &kc)
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc.Kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg = kube.Tune(cfg)
	client := kubernetes.NewForConfigOrDie(cfg)
	ext := apiextensionsclient.NewForConfigOrDie(cfg)
	for _, name := range []string{"pipelines.ci.example.com", "pipelineruns.ci.example.com"} {
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("CRD %s: %v", name, err)
		}
	}
	for _, d := range []struct{ ns, name string }{{"ci-system", "pipeline-controller"}, {"ci-dashboard", "dashboard"}} {
		dep, err := client.AppsV1().Deployments(d.ns).Get(ctx, d.name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("deployment %s/%s: %v", d.ns, d.name, err)
		}
		if dep.Labels[profile.LabelProfile] != "cicd" {
			t.Errorf("deployment %s/%s labels %v", d.ns, d.name, dep.Labels)
		}
	}

	// Scaled by hand: Drifted after a resync, not repaired.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := client.AppsV1().Deployments("ci-system").GetScale(ctx, "pipeline-controller", metav1.GetOptions{})
		if err != nil {
			return err
		}
		scale.Spec.Replicas = 3
		_, err = client.AppsV1().Deployments("ci-system").UpdateScale(ctx, "pipeline-controller", scale, metav1.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got = waitProfile(t, h, path, "drift", func(st *store.ProfileStatus) bool { return st.Phase == store.ProfileDrifted })
	found := false
	for _, l := range got.Status.Profiles[0].Layers {
		for _, d := range l.Drift {
			found = found || (l.Name == "pipeline-operator" && d.Reason == string(profile.DriftChanged) && slices.Contains(d.Fields, "spec.replicas"))
		}
	}
	if !found || conditionTrue(got, reconciler.CondProfiles) {
		t.Fatalf("drift not shown: %+v", got.Status)
	}
	if dep, err := client.AppsV1().Deployments("ci-system").Get(ctx, "pipeline-controller", metav1.GetOptions{}); err != nil || *dep.Spec.Replicas != 3 {
		t.Fatalf("the hand-made change was repaired without a new version: %v", err)
	}

	// A new version: applied again, the change taken back.
	p.Version = "1.1.0"
	body, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var upd map[string]any
	if err := json.Unmarshal(body, &upd); err != nil {
		t.Fatal(err)
	}
	h.must(200, "GET", "/clusterprofiles/"+cp.ID, nil, &cp)
	upd["resourceVersion"] = cp.ResourceVersion
	h.must(200, "PUT", "/clusterprofiles/"+cp.ID, upd, &cp)
	got = waitProfile(t, h, path, "new version applied", func(st *store.ProfileStatus) bool {
		return st.Phase == store.ProfileApplied && st.Version == "1.1.0"
	})
	if !conditionTrue(got, reconciler.CondProfiles) {
		t.Fatalf("status after the new version %+v", got.Status)
	}
	dep, err := client.AppsV1().Deployments("ci-system").Get(ctx, "pipeline-controller", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 1 || dep.Annotations[profile.AnnotationVersion] != "1.1.0" {
		t.Fatalf("controller after the new version: %v %v", dep, err)
	}
	// And it stays without drift on the next resyncs.
	time.Sleep(5 * time.Second)
	h.must(200, "GET", path, nil, got)
	if st := got.Status.Profiles[0]; st.Phase != store.ProfileApplied {
		t.Fatalf("after resyncs: %+v", st)
	}

	// The virtual cluster's own reference replaces the group's: pinned
	// to the first version, with its own variables.
	own := []store.ProfileRef{{ProfileID: cp.ID, Version: "1.0.0", Variables: map[string]string{"CONTROLLER_REPLICAS": "2"}}}
	h.must(200, "PUT", path, map[string]any{"resourceVersion": got.ResourceVersion, "profiles": own}, &vc)
	got = waitProfile(t, h, path, "pinned version applied", func(st *store.ProfileStatus) bool {
		return st.Phase == store.ProfileApplied && st.Version == "1.0.0"
	})
	if len(got.Status.Profiles) != 1 || got.Status.Profiles[0].Variables["CONTROLLER_REPLICAS"] != "2" {
		t.Fatalf("profiles after pinning %+v", got.Status.Profiles)
	}
	dep, err = client.AppsV1().Deployments("ci-system").Get(ctx, "pipeline-controller", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 2 || dep.Annotations[profile.AnnotationVersion] != "1.0.0" {
		t.Fatalf("controller after pinning 1.0.0 with 2 replicas: %v %v", dep, err)
	}

	// Detached from the group and then from the virtual cluster: what it
	// applied is uninstalled (objects pruned, the Helm release uninstalled;
	// Namespaces and CRDs orphaned, not deleted), its inventory deleted,
	// and the profile is gone from the status.
	h.must(200, "GET", "/clustergroups/"+group, nil, &g)
	h.must(200, "PUT", "/clustergroups/"+group, map[string]any{"resourceVersion": g.ResourceVersion,
		"hostClusterIds": g.HostClusterIDs, "quota": g.Quota, "profiles": []store.ProfileRef{}}, &g)
	h.must(200, "GET", path, nil, got)
	h.must(200, "PUT", path, map[string]any{"resourceVersion": got.ResourceVersion, "profiles": []store.ProfileRef{}}, &vc)
	deadline := time.Now().Add(5 * time.Minute)
	got = h.waitVC(path, "detached profile removed", func(vc *store.VirtualCluster, code int) bool {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for the detached profile to be removed: %+v", vc.Status)
		}
		return code == 200 && len(vc.Status.Profiles) == 0 && conditionReason(vc, reconciler.CondProfiles) == "NoProfiles"
	})
	if !conditionTrue(got, reconciler.CondProfiles) || got.Status.Phase != store.VCReady {
		t.Fatalf("status after detaching: %+v", got.Status)
	}
	for _, d := range []struct{ ns, name string }{{"ci-system", "pipeline-controller"}, {"ci-dashboard", "dashboard"}} {
		if _, err := client.AppsV1().Deployments(d.ns).Get(ctx, d.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("deployment %s/%s after detaching: %v, want NotFound", d.ns, d.name, err)
		}
	}
	if _, err := client.CoreV1().ConfigMaps("kube-system").Get(ctx, profile.InventoryName("cicd"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("inventory after detaching: %v, want NotFound", err)
	}
	if secrets, err := client.CoreV1().Secrets("ci-dashboard").List(ctx, metav1.ListOptions{LabelSelector: "owner=helm"}); err != nil || len(secrets.Items) != 0 {
		t.Errorf("Helm release records after detaching: %v %v", secrets, err)
	}
	for _, name := range []string{"pipelines.ci.example.com", "pipelineruns.ci.example.com"} {
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("CRD %s was deleted (it should be orphaned): %v", name, err)
		}
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, "ci-system", metav1.GetOptions{}); err != nil {
		t.Errorf("namespace ci-system was deleted (it should be orphaned): %v", err)
	}

	h.must(202, "DELETE", path, nil, &vc)
	h.waitVC(path, "gone", func(_ *store.VirtualCluster, code int) bool { return code == 404 })
	h.stop()
	if logs := h.logs.String(); strings.Contains(logs, "BEGIN CERTIFICATE") || strings.Contains(logs, "client-key-data") {
		t.Fatal("the hub's log holds credentials")
	}
}

// waitProfile waits (at most 5 minutes) until the virtual cluster's first
// profile status meets cond; a Failed one ends the test.
func waitProfile(t *testing.T, h *testHub, path, what string, cond func(*store.ProfileStatus) bool) *store.VirtualCluster {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	lastFailure := ""
	return h.waitVC(path, what, func(vc *store.VirtualCluster, code int) bool {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %+v", what, vc.Status)
		}
		if code != 200 || vc.Status.Phase != store.VCReady || len(vc.Status.Profiles) == 0 {
			return false
		}
		st := &vc.Status.Profiles[0]
		if st.Phase == store.ProfileFailed && st.Message != lastFailure {
			// Retried with backoff; the deadline ends a failure that stays.
			t.Logf("profile failed while waiting for %s: %s %+v", what, st.Message, st.Layers)
			lastFailure = st.Message
		}
		return cond(st)
	})
}

func conditionReason(vc *store.VirtualCluster, typ string) string {
	for _, c := range vc.Status.Conditions {
		if c.Type == typ {
			return c.Reason
		}
	}
	return ""
}

func conditionTrue(vc *store.VirtualCluster, typ string) bool {
	for _, c := range vc.Status.Conditions {
		if c.Type == typ {
			return c.Status == "True"
		}
	}
	return false
}
