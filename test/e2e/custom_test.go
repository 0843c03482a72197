package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
)

var widgetsGVR = schema.GroupVersionResource{Group: "shop.example.com", Version: "v1", Resource: "widgets"}

// TestSyncerCustomResources: a custom resource kind named in
// sync.customResources is copied down once both sides serve it (here the
// tenant installs its CRD after the cluster started), kept equal to the
// tenant's object, its host status copied up, deleted with it; a foreign
// host object of the translated name is left alone.
func TestSyncerCustomResources(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	installWidgetCRD(ctx, t, env.Kubeconfig, true)

	cfg := config.Default()
	cfg.Sync.CustomResources = []config.CustomResource{{Group: widgetsGVR.Group, Version: widgetsGVR.Version, Kind: "Widget"}}
	vc, client := env.VirtualCluster(t, "shop", lifecycle.CreateOptions{Config: cfg})
	installWidgetCRD(ctx, t, vc.Kubeconfig, false)
	virtual := dynamicFor(t, vc.Kubeconfig).Resource(widgetsGVR).Namespace("default")
	host := dynamicFor(t, env.Kubeconfig).Resource(widgetsGVR).Namespace(vc.HostNamespace)

	w := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "shop.example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w1", "labels": map[string]any{"tier": "gold"}},
		"spec":     map[string]any{"size": int64(3)},
	}}
	// The CRD was just made: the virtual apiserver may take a moment to serve it.
	testenv.Eventually(t, time.Minute, "the widget to be created", func() (bool, error) {
		_, err := virtual.Create(ctx, w, metav1.CreateOptions{})
		return err == nil, err
	})
	hname := names.HostNameWithLimit(253, vc.Name, "default", "w1")
	hostSize := func() (int64, error) {
		h, err := host.Get(ctx, hname, metav1.GetOptions{})
		if err != nil {
			return 0, err
		}
		size, _, err := unstructured.NestedInt64(h.Object, "spec", "size")
		return size, err
	}
	testenv.Eventually(t, time.Minute, "the widget on the host with size 3", func() (bool, error) {
		size, err := hostSize()
		return size == 3, err
	})
	h, err := host.Get(ctx, hname, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.GetLabels()["tier"] != "gold" || h.GetLabels()[names.LabelVirtualCluster] != vc.Name {
		t.Errorf("host widget labels = %v", h.GetLabels())
	}

	// A host controller reports status: it shows in the virtual cluster.
	if err := unstructured.SetNestedField(h.Object, true, "status", "ready"); err != nil {
		t.Fatal(err)
	}
	if _, err := host.UpdateStatus(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the host's status in the virtual cluster", func() (bool, error) {
		v, err := virtual.Get(ctx, "w1", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		ready, _, _ := unstructured.NestedBool(v.Object, "status", "ready")
		return ready, nil
	})

	// The tenant's change goes down; a change made on the host is reverted.
	v, err := virtual.Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(v.Object, int64(5), "spec", "size")
	if _, err := virtual.Update(ctx, v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "size 5 on the host", func() (bool, error) {
		size, err := hostSize()
		return size == 5, err
	})
	h, err = host.Get(ctx, hname, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(h.Object, int64(99), "spec", "size")
	if _, err := host.Update(ctx, h, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the host edit reverted to size 5", func() (bool, error) {
		size, err := hostSize()
		return size == 5, fmt.Errorf("size %d: %v", size, err)
	})

	// A foreign host object with w2's translated name stays untouched.
	foreign := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "shop.example.com/v1", "kind": "Widget",
		"metadata": map[string]any{"name": names.HostNameWithLimit(253, vc.Name, "default", "w2")},
		"spec":     map[string]any{"size": int64(42)},
	}}
	if _, err := host.Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w2 := w.DeepCopy()
	w2.SetName("w2")
	if _, err := virtual.Create(ctx, w2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "a HostNameTaken warning on w2", func() (bool, error) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "reason=HostNameTaken,involvedObject.name=w2"})
		return err == nil && len(evs.Items) > 0, err
	})

	// Deleting the tenant's object deletes the copy, and only the copy.
	if err := virtual.Delete(ctx, "w1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := virtual.Delete(ctx, "w2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the host copy gone", func() (bool, error) {
		_, err := host.Get(ctx, hname, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
	got, err := host.Get(ctx, foreign.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the foreign host widget is gone: %v", err)
	}
	if size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size"); size != 42 {
		t.Fatalf("the foreign host widget was changed: size %d", size)
	}
}

// installWidgetCRD installs the Widget CRD and waits until it is
// established; on the host it is removed when the test ends.
func installWidgetCRD(ctx context.Context, t *testing.T, kubeconfig string, removeAfter bool) {
	t.Helper()
	cfg, err := kube.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	client, err := apiextensions.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	preserve := true
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: widgetsGVR.Resource + "." + widgetsGVR.Group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: widgetsGVR.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: widgetsGVR.Version, Served: true, Storage: true,
				Schema:       &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
			}},
		},
	}
	if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if removeAfter {
		t.Cleanup(func() {
			_ = client.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), crd.Name, metav1.DeleteOptions{})
		})
	}
	testenv.Eventually(t, time.Minute, "the Widget CRD established", func() (bool, error) {
		got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
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
}

func dynamicFor(t *testing.T, kubeconfig string) dynamic.Interface {
	t.Helper()
	cfg, err := kube.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return client
}
