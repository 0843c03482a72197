package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/terraform/tfrun"
)

// pipelineYAML is a custom resource of the operator the example's profile
// installs.
const pipelineYAML = `apiVersion: ci.example.com/v1
kind: Pipeline
metadata:
  name: hello
  namespace: default
spec:
  repository: https://git.example.com/team/hello.git
  stages:
    - name: build
      image: golang:1.26
      command: [go, build, ./...]
`

// TestTerraformCICD runs the real terraform on examples/ci-cd against a
// hub on the local host: apply makes a cluster group, a profile with a
// pipeline operator and a virtual cluster with it; the kubeconfig output
// works with kubectl, which creates a Pipeline; a changed profile variable
// updates the virtual cluster in place; destroy leaves nothing on the
// host or in the hub (the host cluster stays registered).
func TestTerraformCICD(t *testing.T) {
	t.Parallel()
	tf, err := tfrun.Terraform()
	if err != nil {
		t.Skip(err)
	}
	env := testenv.Get(t)
	ctx := context.Background()
	h := startHub(t, t.TempDir(), auth.NewKey())

	// The hub knows the local host; the tenant's project exists.
	kc, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var host store.HostCluster
	h.must(201, "POST", "/hostclusters", map[string]any{"name": "local", "kubeconfig": string(kc)}, &host)
	testenv.Eventually(t, 2*time.Minute, "the host cluster is Ready in the hub", func() (bool, error) {
		h.must(200, "GET", "/hostclusters/"+host.ID, nil, &host)
		return host.Status.Phase == store.HostReady, nil
	})
	var tn, p struct{ ID string }
	h.must(201, "POST", "/tenants", map[string]any{"name": "acme"}, &tn)
	h.must(201, "POST", "/tenants/"+tn.ID+"/projects", map[string]any{"name": "ci"}, &p)
	vcs := "/tenants/" + tn.ID + "/projects/" + p.ID + "/virtualclusters"

	pem, err := os.ReadFile(filepath.Join(h.dataDir, "tls", "hub.crt"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := tfrun.Start(ctx, tfrun.Config{Terraform: tf, Source: filepath.Join(testenv.RepoRoot(), "examples", "ci-cd"), Dir: t.TempDir(),
		Env: map[string]string{"NEST_HUB_URL": h.url, "NEST_API_KEY": h.key, "NEST_HUB_CA_CERT": string(pem)}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	vars := map[string]string{"tenant_id": tn.ID, "project_id": p.ID, "host_cluster": "local", "name": "ci"}

	start := time.Now()
	if err := ws.Apply(ctx, vars); err != nil {
		t.Fatal(err)
	}
	t.Logf("terraform apply took %s", time.Since(start).Round(time.Millisecond))
	if changes, err := ws.Plan(ctx, vars); err != nil || changes {
		t.Errorf("a plan after the apply: changes %v, error %v", changes, err)
	}

	// The kubeconfig output reaches the virtual cluster, which serves the
	// operator's API at once: kubectl creates a Pipeline.
	kubeconfig, err := ws.Output(ctx, "kubeconfig")
	if err != nil {
		t.Fatal(err)
	}
	kcPath := filepath.Join(t.TempDir(), "ci.kubeconfig")
	if err := os.WriteFile(kcPath, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := kubectl(t, kcPath, pipelineYAML, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of a Pipeline: %v: %s", err, out)
	}
	if out, err := kubectl(t, kcPath, "", "get", "pipelines.ci.example.com", "hello", "-o", "jsonpath={.spec.repository}"); err != nil || !strings.Contains(out, "hello.git") {
		t.Fatalf("kubectl get pipeline: %v: %s", err, out)
	}
	if out, err := kubectl(t, kcPath, "", "-n", "ci-system", "get", "deployment", "pipeline-controller", "-o", "jsonpath={.spec.replicas}"); err != nil || out != "1" {
		t.Fatalf("the controller Deployment: %v: %q", err, out)
	}
	// The profile's variables change in place: the same virtual cluster,
	// and the apply returns once the hub applied them.
	id, err := ws.Output(ctx, "virtual_cluster_id")
	if err != nil {
		t.Fatal(err)
	}
	vars["controller_replicas"] = "2"
	start = time.Now()
	if err := ws.Apply(ctx, vars); err != nil {
		t.Fatal(err)
	}
	t.Logf("terraform apply of a variable took %s", time.Since(start).Round(time.Millisecond))
	if again, err := ws.Output(ctx, "virtual_cluster_id"); err != nil || again != id {
		t.Fatalf("virtual cluster %s after changing a profile variable, was %s (%v): replaced instead of updated", again, id, err)
	}
	if out, err := kubectl(t, kcPath, "", "-n", "ci-system", "get", "deployment", "pipeline-controller", "-o", "jsonpath={.spec.replicas}"); err != nil || out != "2" {
		t.Fatalf("the controller Deployment after the update: %v: %q", err, out)
	}
	namespace, err := ws.Output(ctx, "host_namespace")
	if err != nil || namespace == "" {
		t.Fatalf("host_namespace output %q: %v", namespace, err)
	}

	start = time.Now()
	if err := ws.Destroy(ctx, vars); err != nil {
		t.Fatal(err)
	}
	t.Logf("terraform destroy took %s", time.Since(start).Round(time.Millisecond))

	// Nothing left on the host: the namespace is gone (or holds nothing
	// of Nest's).
	ns, err := env.Client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Fatal(err)
	default:
		sel := metav1.ListOptions{LabelSelector: names.LabelManagedBy}
		pods, err := env.Client.CoreV1().Pods(namespace).List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		secrets, err := env.Client.CoreV1().Secrets(namespace).List(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items)+len(secrets.Items) > 0 || ns.Labels[names.LabelManagedBy] != "" {
			t.Errorf("host namespace %s after destroy: labels %v, %d pods and %d secrets of Nest", namespace, ns.Labels, len(pods.Items), len(secrets.Items))
		}
	}
	// Nothing left in the hub but the host cluster.
	var vcList, groups, profiles store.Page[struct{ ID, Name string }]
	h.must(200, "GET", vcs, nil, &vcList)
	h.must(200, "GET", "/clustergroups", nil, &groups)
	h.must(200, "GET", "/clusterprofiles", nil, &profiles)
	if len(vcList.Items)+len(groups.Items)+len(profiles.Items) > 0 {
		t.Errorf("left in the hub: virtual clusters %v, groups %v, profiles %v", vcList.Items, groups.Items, profiles.Items)
	}
	h.must(200, "GET", "/hostclusters/"+host.ID, nil, &host)
}
