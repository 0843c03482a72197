package profile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

// Apply applies a profile to the cluster that cfg reaches, with the
// cluster's variable overrides, and returns the status of each layer.
//
// Layers are applied in order; a failed layer stops the ones after it
// (Skipped). Within a manifests layer, Namespaces and
// CustomResourceDefinitions go first and the CRDs are waited for until
// Established; then the other objects. Every object is applied server-side
// by the field manager "nest-profile", labelled with the profile and layer
// and annotated with the version; a field owned by another manager is a
// conflict (an error for that object) unless WithForceConflicts. Objects
// that the previous Apply of a layer made and that the layer no longer has
// are deleted, if they still carry the layer's labels; Namespaces and CRDs
// are never deleted (that would delete everything in them) but orphaned.
// Helm layers are installed or upgraded as releases; layers gone from the
// profile are removed.
//
// The error is nil when every layer applied; the result is returned in
// any case once the cluster was reached.
func Apply(ctx context.Context, cfg *rest.Config, p *Profile, overrides map[string]string, opts ...Option) (*Result, error) {
	rendered, err := Render(p, overrides)
	if err != nil {
		return nil, err
	}
	c, err := connect(cfg, opts)
	if err != nil {
		return nil, err
	}
	c.keepRendered(rendered)
	start := time.Now()
	log := c.log.With("profile", p.Name, "version", p.Version)
	prev, err := c.loadInventory(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	inv := &inventory{Profile: p.Name, Version: p.Version, Layers: map[string]*inventoryLayer{}}
	res := &Result{Profile: p.Name, Version: p.Version}
	failed := false
	for _, rl := range rendered {
		l := rl.Layer
		inv.Order = append(inv.Order, l.Name)
		if failed {
			res.Layers = append(res.Layers, LayerResult{Name: l.Name, Kind: l.Kind, Status: StatusSkipped, Message: "an earlier layer failed"})
			if old := prev.Layers[l.Name]; old != nil {
				inv.Layers[l.Name] = old
			}
			continue
		}
		layerStart := time.Now()
		old := prev.Layers[l.Name]
		if old != nil && old.Kind != l.Kind {
			// The layer changed kind: what the old kind made goes first.
			if lr := c.removeLayer(ctx, p, l.Name, old); lr.Status == StatusFailed {
				res.Layers = append(res.Layers, lr)
				inv.Layers[l.Name] = old
				failed = true
				continue
			}
			old = nil
		}
		var lr LayerResult
		switch l.Kind {
		case KindManifests:
			lr, inv.Layers[l.Name] = c.applyManifests(ctx, p, rl, old)
		case KindHelm:
			lr, inv.Layers[l.Name] = c.applyHelm(ctx, p, rl, old)
		}
		res.Layers = append(res.Layers, lr)
		// Record progress layer by layer, so that an interrupted Apply
		// still knows what to prune next time.
		if err := c.saveInventory(ctx, merged(inv, prev)); err != nil {
			return res, err
		}
		if lr.Status == StatusFailed {
			failed = true
			log.Warn("Profile layer failed", "layer", l.Name, "error", lr.Message)
			continue
		}
		log.Info("Profile layer applied", "layer", l.Name, "kind", l.Kind, "objects", len(lr.Objects), "elapsed", time.Since(layerStart).Round(time.Millisecond))
	}
	// Layers no longer in the profile, last first.
	for _, name := range slices.Backward(prev.Order) {
		old := prev.Layers[name]
		if old == nil || p.Layer(name) != nil {
			continue
		}
		if failed {
			inv.Layers[name] = old
			inv.Order = append(inv.Order, name)
			continue
		}
		lr := c.removeLayer(ctx, p, name, old)
		res.Layers = append(res.Layers, lr)
		if lr.Status == StatusFailed {
			inv.Layers[name] = old
			inv.Order = append(inv.Order, name)
		}
	}
	// Now inv has every layer to remember: those applied, those skipped
	// or not removed (kept from prev); removed ones are forgotten.
	if err := c.saveInventory(ctx, inv); err != nil {
		return res, err
	}
	if err := res.Err(); err != nil {
		return res, err
	}
	log.Info("Profile applied", "layers", len(res.Layers), "elapsed", time.Since(start).Round(time.Millisecond))
	return res, nil
}

// merged is inv plus the layers of prev that inv does not have yet: those
// not reached by an interrupted Apply still need pruning next time.
func merged(inv, prev *inventory) *inventory {
	out := &inventory{Profile: inv.Profile, Version: inv.Version, Layers: map[string]*inventoryLayer{}, Order: slices.Clone(inv.Order)}
	for k, v := range inv.Layers {
		out.Layers[k] = v
	}
	for _, name := range prev.Order {
		if _, ok := out.Layers[name]; ok || prev.Layers[name] == nil {
			continue
		}
		out.Layers[name] = prev.Layers[name]
		if !slices.Contains(out.Order, name) {
			out.Order = append(out.Order, name)
		}
	}
	return out
}

func (c *cluster) applyManifests(ctx context.Context, p *Profile, rl RenderedLayer, prev *inventoryLayer) (LayerResult, *inventoryLayer) {
	l := rl.Layer
	lr := LayerResult{Name: l.Name, Kind: l.Kind}
	inv := &inventoryLayer{Kind: l.Kind}
	var errs []error
	apply := func(o *unstructured.Unstructured) {
		r, err := c.applyObject(ctx, o, l.TargetNamespace())
		lr.Objects = append(lr.Objects, r)
		if err != nil {
			errs = append(errs, err)
			return
		}
		inv.Objects = append(inv.Objects, r.Object)
	}
	var crds []string
	i := 0
	for ; i < len(rl.Objects) && foundation(rl.Objects[i]); i++ {
		o := rl.Objects[i]
		before := len(errs)
		apply(o)
		if isCRD(o) && len(errs) == before {
			crds = append(crds, o.GetName())
		}
	}
	if len(crds) > 0 {
		if err := c.waitEstablished(ctx, crds); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		for _, o := range rl.Objects[i:] {
			apply(o)
		}
	}
	if len(errs) > 0 {
		lr.Status = StatusFailed
		lr.Message = errors.Join(errs...).Error()
		// Keep what the previous apply made on the books: nothing is
		// pruned after a failure.
		if prev != nil {
			inv.Objects = unionRefs(prev.Objects, inv.Objects)
		}
		return lr, inv
	}
	if prev != nil {
		pruned, kept, err := c.prune(ctx, p.Name, l.Name, minusRefs(prev.Objects, inv.Objects))
		lr.Objects = append(lr.Objects, pruned...)
		inv.Objects = append(inv.Objects, kept...)
		if err != nil {
			lr.Status, lr.Message = StatusFailed, err.Error()
			return lr, inv
		}
	}
	lr.Status = StatusApplied
	lr.Message = fmt.Sprintf("%d objects applied", len(rl.Objects))
	return lr, inv
}

// applyObject applies one object server-side.
func (c *cluster) applyObject(ctx context.Context, o *unstructured.Unstructured, defaultNamespace string) (ObjectResult, error) {
	r := ObjectResult{Object: RefOf(o), Action: ActionFailed}
	fail := func(err error) (ObjectResult, error) {
		err = fmt.Errorf("%s: %w", r.Object, err)
		r.Error = err.Error()
		return r, err
	}
	ri, err := c.place(ctx, o, defaultNamespace)
	r.Object = RefOf(o)
	if err != nil {
		return fail(err)
	}
	live, err := ri.Get(ctx, o.GetName(), getOptions)
	if err != nil && !apierrors.IsNotFound(err) {
		return fail(err)
	}
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: c.opts.force}
	applied, err := ri.Apply(ctx, o.GetName(), o, opts)
	if notServed(err) && c.newKinds {
		// A kind of a CRD just Established can be in discovery a moment
		// before its endpoint serves requests.
		_ = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, c.opts.timeout, false, func(ctx context.Context) (bool, error) {
			applied, err = ri.Apply(ctx, o.GetName(), o, opts)
			return !notServed(err), nil
		})
	}
	if apierrors.IsConflict(err) {
		return fail(fmt.Errorf("fields owned by another field manager (apply with force conflicts to take them over): %w", err))
	}
	if err != nil {
		return fail(err)
	}
	switch {
	case live == nil:
		r.Action = ActionCreated
	case live.GetResourceVersion() == applied.GetResourceVersion():
		r.Action = ActionUnchanged
	default:
		r.Action = ActionConfigured
	}
	c.log.Debug("Profile object applied", "object", r.Object.String(), "action", r.Action)
	return r, nil
}

// notServed tells a 404 of the resource itself (not of the object's
// namespace), as for a kind that is not served yet.
func notServed(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsNotFound(err) || !errors.As(err, &status) {
		return false
	}
	d := status.Status().Details
	return d == nil || d.Kind != "namespaces"
}

// owned tells whether a live object carries the labels of the layer.
func owned(o *unstructured.Unstructured, profile, layer string) bool {
	l := o.GetLabels()
	return l[LabelProfile] == profile && l[LabelLayer] == layer
}

// prune deletes the objects of refs that still carry the layer's labels,
// namespaced objects first, and returns what it did and the references to
// keep on the books (not deleted: failed, or orphaned Namespaces and CRDs).
func (c *cluster) prune(ctx context.Context, profile, layer string, refs []ObjectRef) ([]ObjectResult, []ObjectRef, error) {
	var results []ObjectResult
	var kept []ObjectRef
	var errs []error
	for _, ref := range refs {
		if c.keep[ref.key()] {
			continue // moved to another layer, which applies it
		}
		ri, err := c.resource(ctx, ref)
		if meta.IsNoMatchError(err) {
			continue // the kind is gone, and its objects with it
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", ref, err))
			kept = append(kept, ref)
			continue
		}
		live, err := ri.Get(ctx, ref.Name, getOptions)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("prune %s: %w", ref, err))
			kept = append(kept, ref)
			continue
		}
		if !owned(live, profile, layer) {
			continue // taken over by another layer, or by someone else
		}
		if foundationRef(ref) {
			c.log.Warn("Profile object orphaned, not pruned: deleting it would delete everything in it", "layer", layer, "object", ref.String())
			results = append(results, ObjectResult{Object: ref, Action: ActionOrphaned})
			continue
		}
		policy := metav1.DeletePropagationBackground
		err = ri.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: ptr(live.GetUID())}})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("prune %s: %w", ref, err))
			kept = append(kept, ref)
			results = append(results, ObjectResult{Object: ref, Action: ActionFailed, Error: err.Error()})
			continue
		}
		c.log.Info("Profile object pruned", "layer", layer, "object", ref.String())
		results = append(results, ObjectResult{Object: ref, Action: ActionPruned})
	}
	return results, kept, errors.Join(errs...)
}

func ptr[T any](v T) *T { return &v }

// foundationRef tells Namespaces and CRDs, which pruning orphans.
func foundationRef(r ObjectRef) bool {
	return r.Kind == "Namespace" && r.Group == "" || r.Kind == "CustomResourceDefinition" && r.Group == "apiextensions.k8s.io"
}

// removeLayer removes what a layer that left the profile made.
func (c *cluster) removeLayer(ctx context.Context, p *Profile, name string, old *inventoryLayer) LayerResult {
	lr := LayerResult{Name: name, Kind: old.Kind, Status: StatusRemoved}
	switch old.Kind {
	case KindHelm:
		if err := c.uninstall(ctx, old.Release, old.Namespace); err != nil {
			lr.Status, lr.Message = StatusFailed, err.Error()
			return lr
		}
		lr.Message = fmt.Sprintf("release %s/%s uninstalled", old.Namespace, old.Release)
	default:
		pruned, _, err := c.prune(ctx, p.Name, name, pruneOrder(old.Objects))
		lr.Objects = pruned
		if err != nil {
			lr.Status, lr.Message = StatusFailed, err.Error()
			return lr
		}
		lr.Message = fmt.Sprintf("layer no longer in the profile: %d objects pruned", len(pruned))
	}
	c.log.Info("Profile layer removed", "profile", p.Name, "layer", name)
	return lr
}

// minusRefs returns the references of a that are not in b (any version),
// in prune order.
func minusRefs(a, b []ObjectRef) []ObjectRef {
	in := map[ObjectRef]bool{}
	for _, r := range b {
		in[r.key()] = true
	}
	var out []ObjectRef
	for _, r := range a {
		if !in[r.key()] {
			out = append(out, r)
		}
	}
	return pruneOrder(out)
}

func unionRefs(a, b []ObjectRef) []ObjectRef {
	in := map[ObjectRef]bool{}
	var out []ObjectRef
	for _, r := range append(slices.Clone(a), b...) {
		if !in[r.key()] {
			in[r.key()] = true
			out = append(out, r)
		}
	}
	return out
}

// pruneOrder puts the namespaced and ordinary objects before CRDs and
// Namespaces: the reverse of apply order.
func pruneOrder(refs []ObjectRef) []ObjectRef {
	out := slices.Clone(refs)
	rank := func(r ObjectRef) int {
		switch {
		case r.Kind == "Namespace" && r.Group == "":
			return 2
		case r.Kind == "CustomResourceDefinition" && r.Group == "apiextensions.k8s.io":
			return 1
		}
		return 0
	}
	slices.SortStableFunc(out, func(a, b ObjectRef) int { return rank(a) - rank(b) })
	return out
}
