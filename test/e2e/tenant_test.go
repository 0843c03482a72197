package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	corev1apply "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestTenantSeesARealCluster checks, against one virtual cluster, what a
// tenant does with any Kubernetes cluster.
func TestTenantSeesARealCluster(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "tenant", lifecycle.CreateOptions{})
	cfg, err := kube.RESTConfig(vc.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func(t *testing.T, client kubernetes.Interface, cfg *rest.Config)
	}{
		{"discovery lists the built-in APIs", testDiscovery},
		{"namespaces are created and finalized", testNamespaces},
		{"tenant is cluster-admin and can delegate with RBAC", testRBAC},
		{"CRDs with schemas and CEL rules validate custom resources", testCRD},
		{"configmaps and secrets round-trip", testConfigMapsAndSecrets},
		{"deployments create replicasets and pods", testDeployment},
		{"watches deliver events", testWatch},
		{"server-side apply tracks field managers", testServerSideApply},
		{"service accounts get tokens", testServiceAccountToken},
		{"kubectl works", func(t *testing.T, _ kubernetes.Interface, _ *rest.Config) { testKubectl(t, vc.Kubeconfig) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, client, cfg) })
	}
}

func testDiscovery(t *testing.T, client kubernetes.Interface, _ *rest.Config) {
	lists, err := client.Discovery().ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			found[l.GroupVersion+"/"+r.Name] = true
		}
	}
	for _, want := range []string{
		"v1/pods", "v1/services", "v1/configmaps", "v1/secrets", "v1/namespaces", "v1/serviceaccounts",
		"apps/v1/deployments", "apps/v1/statefulsets", "batch/v1/jobs", "batch/v1/cronjobs",
		"rbac.authorization.k8s.io/v1/roles", "apiextensions.k8s.io/v1/customresourcedefinitions",
		"networking.k8s.io/v1/ingresses", "coordination.k8s.io/v1/leases",
	} {
		if !found[want] {
			t.Errorf("discovery lacks %s", want)
		}
	}
}

func testNamespaces(t *testing.T, client kubernetes.Interface, _ *rest.Config) {
	ctx := context.Background()
	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ConfigMaps(ns.Name).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "namespace team-a to be finalized", func() (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}

func testRBAC(t *testing.T, client kubernetes.Interface, cfg *rest.Config) {
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "pod-reader", Namespace: "default"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}},
	}
	if _, err := client.RbacV1().Roles("default").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-reads-pods", Namespace: "default"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "alice", APIGroup: rbacv1.GroupName}},
		RoleRef:    rbacv1.RoleRef{Kind: "Role", Name: "pod-reader", APIGroup: rbacv1.GroupName},
	}
	if _, err := client.RbacV1().RoleBindings("default").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	alice := rest.CopyConfig(cfg)
	alice.Impersonate = rest.ImpersonationConfig{UserName: "alice"}
	aliceClient := kubernetes.NewForConfigOrDie(alice)
	testenv.Eventually(t, 30*time.Second, "alice to list pods", func() (bool, error) {
		_, err := aliceClient.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
		return err == nil, err
	})
	if _, err := aliceClient.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice listing secrets: err = %v, want Forbidden", err)
	}
	review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "*", Group: "*", Resource: "*"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !review.Status.Allowed {
		t.Fatalf("tenant admin is not cluster-admin: %+v", review.Status)
	}
}

func testCRD(t *testing.T, _ kubernetes.Interface, cfg *rest.Config) {
	ctx := context.Background()
	ext := apiextensionsclient.NewForConfigOrDie(cfg)
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "pipelines.ci.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "ci.example.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "pipelines", Singular: "pipeline", Kind: "Pipeline", ListKind: "PipelineList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec": {
							Type:     "object",
							Required: []string{"stages"},
							Properties: map[string]apiextensionsv1.JSONSchemaProps{
								"stages":      {Type: "integer", Minimum: ptrFloat(1)},
								"maxParallel": {Type: "integer"},
							},
							XValidations: apiextensionsv1.ValidationRules{{
								Rule:    "!has(self.maxParallel) || self.maxParallel <= self.stages",
								Message: "maxParallel must not exceed stages",
							}},
						},
					},
				}},
			}},
		},
	}
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "CRD to be established", func() (bool, error) {
		got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	dyn := dynamic.NewForConfigOrDie(cfg)
	gvr := schema.GroupVersionResource{Group: "ci.example.com", Version: "v1", Resource: "pipelines"}
	pipeline := func(name string, spec map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "ci.example.com/v1", "kind": "Pipeline",
			"metadata": map[string]any{"name": name}, "spec": spec,
		}}
	}
	tests := []struct {
		name    string
		spec    map[string]any
		wantErr string
	}{
		{name: "valid", spec: map[string]any{"stages": int64(3), "maxParallel": int64(2)}},
		{name: "cel-violation", spec: map[string]any{"stages": int64(1), "maxParallel": int64(5)}, wantErr: "maxParallel must not exceed stages"},
		{name: "schema-violation", spec: map[string]any{"stages": int64(0)}, wantErr: "should be greater than or equal to 1"},
		{name: "missing-required", spec: map[string]any{}, wantErr: "Required value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			// The new API may take a moment to be served after Established.
			testenv.Eventually(t, 30*time.Second, "pipelines to be served", func() (bool, error) {
				_, err = dyn.Resource(gvr).Namespace("default").Create(ctx, pipeline(tt.name, tt.spec), metav1.CreateOptions{})
				return !apierrors.IsNotFound(err), err
			})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("create valid pipeline: %v", err)
				}
				return
			}
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("create %s: err = %v, want Invalid with %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

func testConfigMapsAndSecrets(t *testing.T, client kubernetes.Interface, _ *rest.Config) {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "fast"}}
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token"}, StringData: map[string]string{"password": "hunter2"}}
	if _, err := client.CoreV1().Secrets("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gotCM, err := client.CoreV1().ConfigMaps("default").Get(ctx, "settings", metav1.GetOptions{})
	if err != nil || gotCM.Data["mode"] != "fast" {
		t.Fatalf("configmap = %v, %v", gotCM, err)
	}
	gotS, err := client.CoreV1().Secrets("default").Get(ctx, "token", metav1.GetOptions{})
	if err != nil || string(gotS.Data["password"]) != "hunter2" {
		t.Fatalf("secret = %v, %v", gotS, err)
	}
}

func testDeployment(t *testing.T, client kubernetes.Interface, _ *rest.Config) {
	ctx := context.Background()
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("api", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "a replicaset and 3 pods", func() (bool, error) {
		rs, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
		if err != nil || len(rs.Items) != 1 {
			return false, err
		}
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 3, fmt.Errorf("%d pods", len(pods.Items))
	})
	// Garbage collection: deleting the deployment removes what it owns.
	fg := metav1.DeletePropagationForeground
	if err := client.AppsV1().Deployments("default").Delete(ctx, "api", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "replicasets to be garbage-collected", func() (bool, error) {
		rs, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{LabelSelector: "app=api"})
		return err == nil && len(rs.Items) == 0, err
	})
}

func testWatch(t *testing.T, client kubernetes.Interface, _ *rest.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w, err := client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=watched"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added {
			t.Fatalf("first event = %s (%+v), want ADDED", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no watch event")
	}
}

func testServerSideApply(t *testing.T, client kubernetes.Interface, _ *rest.Config) {
	ctx := context.Background()
	cm := corev1apply.ConfigMap("applied", "default").WithData(map[string]string{"owner": "ci"})
	if _, err := client.CoreV1().ConfigMaps("default").Apply(ctx, cm, metav1.ApplyOptions{FieldManager: "ci"}); err != nil {
		t.Fatal(err)
	}
	other := corev1apply.ConfigMap("applied", "default").WithData(map[string]string{"owner": "human"})
	_, err := client.CoreV1().ConfigMaps("default").Apply(ctx, other, metav1.ApplyOptions{FieldManager: "human"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("apply by a second manager: err = %v, want a conflict", err)
	}
	if _, err := client.CoreV1().ConfigMaps("default").Apply(ctx, other, metav1.ApplyOptions{FieldManager: "human", Force: true}); err != nil {
		t.Fatalf("forced apply: %v", err)
	}
}

func testServiceAccountToken(t *testing.T, client kubernetes.Interface, _ *rest.Config) {
	ctx := context.Background()
	tr, err := client.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationTokenRequest, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status.Token == "" {
		t.Fatal("empty token")
	}
}

func testKubectl(t *testing.T, kubeconfig string) {
	kubectl := testenv.KubectlBinary(t)
	run := func(stdin string, args ...string) string {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("", "api-resources"); !strings.Contains(out, "deployments") || !strings.Contains(out, "customresourcedefinitions") {
		t.Fatalf("kubectl api-resources lacks built-ins:\n%s", out)
	}
	run("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-kubectl\ndata:\n  a: b\n", "apply", "--server-side", "-f", "-")
	if out := run("", "get", "configmap", "from-kubectl", "-o", "jsonpath={.data.a}"); out != "b" {
		t.Fatalf("kubectl get = %q, want b", out)
	}
}

func ptrFloat(f float64) *float64 { return &f }

var authenticationTokenRequest = authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{"https://kubernetes.default.svc.cluster.local"}}}
