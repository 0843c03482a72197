package profile

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The inventory records, in the cluster, what the last Apply of a profile
// made: per layer, the objects applied (or the Helm release). Pruning
// works from it, so Apply never has to search the cluster for labels.
const (
	inventoryNamespace = "kube-system"
	inventoryKey       = "inventory.json"
)

var (
	getOptions        = metav1.GetOptions{}
	configMapResource = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// InventoryName returns the name of the ConfigMap (in kube-system) that
// records what a profile applied.
func InventoryName(profile string) string { return "nest-profile-" + profile }

type inventory struct {
	Profile string                     `json:"profile"`
	Version string                     `json:"version"`
	Layers  map[string]*inventoryLayer `json:"layers"`
	// Order is the layers' order, to remove layers in reverse.
	Order []string `json:"order"`
}

type inventoryLayer struct {
	Kind    LayerKind   `json:"kind"`
	Objects []ObjectRef `json:"objects,omitempty"`
	// Release and Namespace of a Helm layer.
	Release   string `json:"release,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

func (c *cluster) loadInventory(ctx context.Context, profile string) (*inventory, error) {
	inv := &inventory{Profile: profile, Layers: map[string]*inventoryLayer{}}
	cm, err := c.dyn.Resource(configMapResource).Namespace(inventoryNamespace).Get(ctx, InventoryName(profile), getOptions)
	if apierrors.IsNotFound(err) {
		return inv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the inventory of profile %s: %w", profile, err)
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", inventoryKey)
	if data == "" {
		return inv, nil
	}
	if err := json.Unmarshal([]byte(data), inv); err != nil {
		return nil, fmt.Errorf("read the inventory of profile %s: %w", profile, err)
	}
	if inv.Layers == nil {
		inv.Layers = map[string]*inventoryLayer{}
	}
	return inv, nil
}

func (c *cluster) saveInventory(ctx context.Context, inv *inventory) error {
	data, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata": map[string]any{
			"name":        InventoryName(inv.Profile),
			"namespace":   inventoryNamespace,
			"labels":      map[string]any{LabelProfile: inv.Profile},
			"annotations": map[string]any{AnnotationVersion: inv.Version},
		},
		"data": map[string]any{inventoryKey: string(data)},
	}}
	_, err = c.dyn.Resource(configMapResource).Namespace(inventoryNamespace).Apply(ctx, cm.GetName(), cm,
		metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("save the inventory of profile %s: %w", inv.Profile, err)
	}
	return nil
}
