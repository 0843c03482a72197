package profile

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Remove uninstalls the profile named name from the cluster: every layer
// its inventory records is removed, last first, the way Apply removes a
// layer that left the profile (objects pruned if they still carry the
// profile's and the layer's labels, Namespaces and CRDs orphaned, Helm
// releases uninstalled); then the inventory itself is deleted. Nothing
// else is touched. A profile the cluster has no inventory of is removed
// already (an empty result). Layers that fail stay in the inventory, so a
// later Remove (or Apply) tries them again.
//
// The error is nil when every layer was removed; the result is returned in
// any case once the cluster was reached.
func Remove(ctx context.Context, cfg *rest.Config, name string, opts ...Option) (*Result, error) {
	c, err := connect(cfg, opts)
	if err != nil {
		return nil, err
	}
	c.keep = map[ObjectRef]bool{}
	start := time.Now()
	prev, err := c.loadInventory(ctx, name)
	if err != nil {
		return nil, err
	}
	res := &Result{Profile: name, Version: prev.Version}
	if len(prev.Layers) == 0 && len(prev.Order) == 0 {
		if err := c.deleteInventory(ctx, name); err != nil {
			return res, err
		}
		return res, nil
	}
	p := &Profile{Name: name, Version: prev.Version}
	left := &inventory{Profile: name, Version: prev.Version, Layers: map[string]*inventoryLayer{}}
	for _, layer := range slices.Backward(prev.Order) {
		old := prev.Layers[layer]
		if old == nil {
			continue
		}
		lr := c.removeLayer(ctx, p, layer, old)
		res.Layers = append(res.Layers, lr)
		if lr.Status == StatusFailed {
			left.Layers[layer] = old
			left.Order = append([]string{layer}, left.Order...)
		}
	}
	if err := res.Err(); err != nil {
		if serr := c.saveInventory(ctx, left); serr != nil {
			return res, fmt.Errorf("%w; %w", err, serr)
		}
		return res, err
	}
	if err := c.deleteInventory(ctx, name); err != nil {
		return res, err
	}
	c.log.Info("Profile removed", "profile", name, "layers", len(res.Layers), "elapsed", time.Since(start).Round(time.Millisecond))
	return res, nil
}

func (c *cluster) deleteInventory(ctx context.Context, profile string) error {
	err := c.dyn.Resource(configMapResource).Namespace(inventoryNamespace).Delete(ctx, InventoryName(profile), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the inventory of profile %s: %w", profile, err)
	}
	return nil
}
