package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/profile"
)

// The tests below apply profiles to the local host cluster itself (a real
// kube-apiserver): the cases of pruning and failure, quicker than through a
// virtual cluster. TestProfile applies the sample profile to a virtual
// cluster.

func profileHost(t *testing.T) (*rest.Config, dynamic.Interface) {
	t.Helper()
	env := testenv.Get(t)
	cfg, err := kube.RESTConfig(env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, dynamic.NewForConfigOrDie(cfg)
}

var (
	profConfigMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	profNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	profCRDs       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

func profConfigMap(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: v\n", name)
}

func profNamespace(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
}

func profCRD(group string) string {
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.%[1]s
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`, group)
}

func profDocs(d ...string) string { return strings.Join(d, "---\n") }

func profLayer(name, ns string, manifests ...string) profile.Layer {
	return profile.Layer{Name: name, Kind: profile.KindManifests, Namespace: ns, Manifests: profDocs(manifests...)}
}

// statuses returns "layer=Status" for each layer, in order.
func profStatuses(res *profile.Result) string {
	var out []string
	for _, l := range res.Layers {
		out = append(out, l.Name+"="+string(l.Status))
	}
	return strings.Join(out, " ")
}

func profActions(res *profile.Result, layer string) map[string]profile.Action {
	out := map[string]profile.Action{}
	for _, l := range res.Layers {
		if l.Name != layer {
			continue
		}
		for _, o := range l.Objects {
			out[o.Object.Kind+"/"+o.Object.Name] = o.Action
		}
	}
	return out
}

func profDrifts(res *profile.Result) map[string]profile.DriftReason {
	out := map[string]profile.DriftReason{}
	for _, l := range res.Layers {
		for _, d := range l.Drift {
			out[l.Name+":"+d.Object.Kind+"/"+d.Object.Name] = d.Reason
		}
	}
	return out
}

func profCleanup(t *testing.T, dyn dynamic.Interface, name, ns, crdName string) {
	t.Cleanup(func() {
		ctx := context.Background()
		_ = dyn.Resource(profConfigMaps).Namespace("kube-system").Delete(ctx, profile.InventoryName(name), metav1.DeleteOptions{})
		_ = dyn.Resource(profNamespaces).Delete(ctx, ns, metav1.DeleteOptions{})
		if crdName != "" {
			_ = dyn.Resource(profCRDs).Delete(ctx, crdName, metav1.DeleteOptions{})
		}
	})
}

// TestProfileMovesOrphansAndPrunes: a new version that moves an object to
// another layer keeps it (same UID), orphans the Namespace and the CRD it
// dropped, prunes the other objects it dropped, and leaves the tenant's
// objects alone; Diff predicts all that.
func TestProfileMovesOrphansAndPrunes(t *testing.T) {
	t.Parallel()
	cfg, dyn := profileHost(t)
	ctx := context.Background()
	const ns, group = "prof-moves", "moves.test.nest.dev"
	profCleanup(t, dyn, "moves", ns, "gadgets."+group)
	gadget := "apiVersion: " + group + "/v1\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  size: ${SIZE}\n"
	v1 := &profile.Profile{Name: "moves", Version: "1", Variables: map[string]string{"SIZE": "1"}, Layers: []profile.Layer{
		profLayer("base", ns, gadget, profConfigMap("cx"), profConfigMap("cy"), profCRD(group), profNamespace(ns)),
		profLayer("extra", ns, profConfigMap("cz")),
	}}
	res, err := profile.Apply(ctx, cfg, v1, map[string]string{"SIZE": "3"})
	if err != nil {
		t.Fatalf("apply v1: %v", err)
	}
	if got := profStatuses(res); got != "base=Applied extra=Applied" {
		t.Fatalf("v1: %s", got)
	}
	if got := profActions(res, "base"); got["Gadget/g1"] != profile.ActionCreated || got["ConfigMap/cy"] != profile.ActionCreated {
		t.Fatalf("v1 base actions %v", got)
	}
	gadgets := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}
	g1, err := dyn.Resource(gadgets).Namespace(ns).Get(ctx, "g1", metav1.GetOptions{})
	if err != nil || g1.Object["spec"].(map[string]any)["size"] != int64(3) {
		t.Fatalf("gadget g1: %v %v", g1, err)
	}
	y, err := dyn.Resource(profConfigMaps).Namespace(ns).Get(ctx, "cy", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Applying the same version again changes nothing.
	res, err = profile.Apply(ctx, cfg, v1, map[string]string{"SIZE": "3"})
	if err != nil {
		t.Fatal(err)
	}
	for obj, a := range profActions(res, "base") {
		if a != profile.ActionUnchanged {
			t.Errorf("re-apply: %s %s", obj, a)
		}
	}
	if _, err := dyn.Resource(profConfigMaps).Namespace(ns).Create(ctx, profObject(t, profConfigMap("mine")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	v2 := &profile.Profile{Name: "moves", Version: "2", Layers: []profile.Layer{
		profLayer("base", ns, profConfigMap("cx")),
		profLayer("extra", ns, profConfigMap("cy")),
	}}
	d, err := profile.Diff(ctx, cfg, v2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]profile.DriftReason{
		"base:Gadget/g1": profile.DriftExtra, "base:CustomResourceDefinition/gadgets." + group: profile.DriftExtra,
		"base:Namespace/" + ns: profile.DriftExtra, "base:ConfigMap/cx": profile.DriftChanged,
		"extra:ConfigMap/cy": profile.DriftChanged, "extra:ConfigMap/cz": profile.DriftExtra,
	}
	if got := profDrifts(d); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("diff v2:\n got %v\nwant %v", got, want)
	}

	res, err = profile.Apply(ctx, cfg, v2, nil)
	if err != nil {
		t.Fatalf("apply v2: %v", err)
	}
	if got := profActions(res, "base"); got["Gadget/g1"] != profile.ActionPruned || got["Namespace/"+ns] != profile.ActionOrphaned ||
		got["CustomResourceDefinition/gadgets."+group] != profile.ActionOrphaned || got["ConfigMap/cy"] != "" {
		t.Errorf("v2 base actions %v", got)
	}
	if got := profActions(res, "extra"); got["ConfigMap/cz"] != profile.ActionPruned || got["ConfigMap/cy"] != profile.ActionConfigured {
		t.Errorf("v2 extra actions %v", got)
	}
	y2, err := dyn.Resource(profConfigMaps).Namespace(ns).Get(ctx, "cy", metav1.GetOptions{})
	if err != nil || y2.GetUID() != y.GetUID() || y2.GetLabels()[profile.LabelLayer] != "extra" {
		t.Errorf("moved ConfigMap cy: %v, uid %s was %s, labels %v", err, y2.GetUID(), y.GetUID(), y2.GetLabels())
	}
	for _, gone := range []string{"cz"} {
		if _, err := dyn.Resource(profConfigMaps).Namespace(ns).Get(ctx, gone, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s: %v, want NotFound", gone, err)
		}
	}
	if _, err := dyn.Resource(profConfigMaps).Namespace(ns).Get(ctx, "mine", metav1.GetOptions{}); err != nil {
		t.Errorf("the tenant's ConfigMap: %v", err)
	}
	if _, err := dyn.Resource(profCRDs).Get(ctx, "gadgets."+group, metav1.GetOptions{}); err != nil {
		t.Errorf("orphaned CRD: %v", err)
	}
	d, err = profile.Diff(ctx, cfg, v2, nil)
	if err != nil || d.Drifted() {
		t.Errorf("diff after v2: %v %v", err, profDrifts(d))
	}
}

// TestProfileFailedLayer: a layer that fails stops the layers after it and
// prunes nothing; the next good apply prunes what was left.
func TestProfileFailedLayer(t *testing.T) {
	t.Parallel()
	cfg, dyn := profileHost(t)
	ctx := context.Background()
	const ns = "prof-fail"
	profCleanup(t, dyn, "fail", ns, "")
	v1 := &profile.Profile{Name: "fail", Version: "1", Layers: []profile.Layer{
		profLayer("a", ns, profNamespace(ns), profConfigMap("c1"), profConfigMap("c2")),
		profLayer("b", ns, profConfigMap("c3")),
	}}
	if _, err := profile.Apply(ctx, cfg, v1, nil); err != nil {
		t.Fatalf("apply v1: %v", err)
	}
	unknown := "apiVersion: nope.test.nest.dev/v1\nkind: Nope\nmetadata:\n  name: nope\n"
	v2 := &profile.Profile{Name: "fail", Version: "2", Layers: []profile.Layer{
		profLayer("a", ns, profNamespace(ns), profConfigMap("c1"), unknown),
		profLayer("b", ns, profConfigMap("c3")),
	}}
	res, err := profile.Apply(ctx, cfg, v2, nil, profile.WithTimeout(2*time.Second))
	if err == nil || !strings.Contains(err.Error(), "layer a: Nope.nope.test.nest.dev nope:") || !strings.Contains(err.Error(), "no matches for kind") {
		t.Fatalf("apply v2: err = %v, want the unknown kind named", err)
	}
	if got := profStatuses(res); got != "a=Failed b=Skipped" {
		t.Errorf("v2: %s", got)
	}
	if _, err := dyn.Resource(profConfigMaps).Namespace(ns).Get(ctx, "c2", metav1.GetOptions{}); err != nil {
		t.Errorf("c2 after a failed apply: %v, want it kept", err)
	}
	d, err := profile.Diff(ctx, cfg, v2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := profDrifts(d); got["a:Nope/nope"] != profile.DriftMissing || got["a:ConfigMap/c2"] != profile.DriftExtra {
		t.Errorf("diff v2: %v", got)
	}
	v3 := &profile.Profile{Name: "fail", Version: "3", Layers: []profile.Layer{
		profLayer("a", ns, profNamespace(ns), profConfigMap("c1")),
		profLayer("b", ns, profConfigMap("c3")),
	}}
	res, err = profile.Apply(ctx, cfg, v3, nil)
	if err != nil {
		t.Fatalf("apply v3: %v", err)
	}
	if got := profActions(res, "a"); got["ConfigMap/c2"] != profile.ActionPruned {
		t.Errorf("v3 actions %v, want c2 pruned", got)
	}
}

func profObject(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}
