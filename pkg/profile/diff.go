package profile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"helm.sh/helm/v3/pkg/release"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// maxDriftFields bounds the field paths reported per changed object.
const maxDriftFields = 8

// Diff compares the cluster with what Apply of the profile (with the
// cluster's overrides) would make, without changing anything, and returns
// each layer's status: Applied (no drift), Drifted (with the objects
// missing, changed or left over) or Failed. An object is changed when a
// server-side dry-run apply of the profile's version of it would change the
// live object: only fields the profile sets count, whoever changed them;
// fields others added do not.
func Diff(ctx context.Context, cfg *rest.Config, p *Profile, overrides map[string]string, opts ...Option) (*Result, error) {
	rendered, err := Render(p, overrides)
	if err != nil {
		return nil, err
	}
	c, err := connect(cfg, opts)
	if err != nil {
		return nil, err
	}
	c.keepRendered(rendered)
	inv, err := c.loadInventory(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	res := &Result{Profile: p.Name, Version: p.Version}
	for _, rl := range rendered {
		var lr LayerResult
		switch rl.Layer.Kind {
		case KindManifests:
			lr = c.diffManifests(ctx, p, rl, inv.Layers[rl.Layer.Name])
		case KindHelm:
			lr = c.diffHelm(ctx, p, rl)
		}
		res.Layers = append(res.Layers, lr)
	}
	for _, name := range inv.Order {
		old := inv.Layers[name]
		if old == nil || p.Layer(name) != nil {
			continue
		}
		lr := LayerResult{Name: name, Kind: old.Kind, Status: StatusDrifted, Message: "layer no longer in the profile: Apply removes it"}
		if old.Kind == KindHelm {
			lr.Drift = []Drift{{Object: releaseRef(old.Release, old.Namespace), Reason: DriftExtra}}
		} else {
			extra, err := c.extras(ctx, p.Name, name, pruneOrder(old.Objects))
			if err != nil {
				lr.Status, lr.Message = StatusFailed, err.Error()
			}
			lr.Drift = extra
		}
		res.Layers = append(res.Layers, lr)
	}
	return res, nil
}

func releaseRef(name, namespace string) ObjectRef {
	return ObjectRef{Group: "helm.sh", Version: "v3", Kind: "Release", Namespace: namespace, Name: name}
}

func (c *cluster) diffManifests(ctx context.Context, p *Profile, rl RenderedLayer, prev *inventoryLayer) LayerResult {
	l := rl.Layer
	lr := LayerResult{Name: l.Name, Kind: l.Kind}
	var errs []error
	var refs []ObjectRef
	for _, o := range rl.Objects {
		ref, d, err := c.diffObject(ctx, o, l.TargetNamespace())
		refs = append(refs, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d != nil {
			lr.Drift = append(lr.Drift, *d)
		}
	}
	if prev != nil {
		extra, err := c.extras(ctx, p.Name, l.Name, minusRefs(prev.Objects, refs))
		if err != nil {
			errs = append(errs, err)
		}
		lr.Drift = append(lr.Drift, extra...)
	}
	lr.Status, lr.Message = layerStatus(lr.Drift, errs)
	return lr
}

func layerStatus(drift []Drift, errs []error) (LayerStatus, string) {
	switch {
	case len(errs) > 0:
		return StatusFailed, errors.Join(errs...).Error()
	case len(drift) > 0:
		return StatusDrifted, fmt.Sprintf("%d objects drifted", len(drift))
	}
	return StatusApplied, ""
}

// diffObject compares one object with the cluster; nil when in sync. It
// returns the object's reference, its namespace resolved.
func (c *cluster) diffObject(ctx context.Context, o *unstructured.Unstructured, defaultNamespace string) (ObjectRef, *Drift, error) {
	o = o.DeepCopy()
	ri, err := c.place(ctx, o, defaultNamespace)
	ref := RefOf(o)
	if meta.IsNoMatchError(err) {
		if o.GetNamespace() == "" {
			ref.Namespace = defaultNamespace // a guess: the kind's scope is unknown
		}
		return ref, &Drift{Object: ref, Reason: DriftMissing, Message: "its kind is not served (is its CustomResourceDefinition missing?)"}, nil
	}
	if err != nil {
		return ref, nil, fmt.Errorf("%s: %w", ref, err)
	}
	live, err := ri.Get(ctx, o.GetName(), getOptions)
	if apierrors.IsNotFound(err) {
		return ref, &Drift{Object: ref, Reason: DriftMissing}, nil
	}
	if err != nil {
		return ref, nil, fmt.Errorf("%s: %w", ref, err)
	}
	// What the object would be after Apply, forced so that fields that
	// another manager took over show as changed too.
	want, err := ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{
		FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
	})
	if err != nil {
		return ref, nil, fmt.Errorf("%s: dry-run apply: %w", ref, err)
	}
	fields := diffFields(comparable(want.Object), comparable(live.Object), "", nil)
	if len(fields) == 0 {
		return ref, nil, nil
	}
	sort.Strings(fields)
	if len(fields) > maxDriftFields {
		fields = append(fields[:maxDriftFields], "...")
	}
	return ref, &Drift{Object: ref, Reason: DriftChanged, Fields: fields}, nil
}

// comparable drops what changes on every write and status.
func comparable(obj map[string]any) map[string]any {
	o := (&unstructured.Unstructured{Object: obj}).DeepCopy().Object
	unstructured.RemoveNestedField(o, "metadata", "managedFields")
	unstructured.RemoveNestedField(o, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(o, "metadata", "generation")
	unstructured.RemoveNestedField(o, "status")
	return o
}

// diffFields lists the paths where a and b differ.
func diffFields(a, b any, path string, out []string) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out = diffFields(am[k], bm[k], p, out)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		out = append(out, path)
	}
	return out
}

// extras returns the objects of refs that still exist with the layer's
// labels: what Apply would prune (or orphan).
func (c *cluster) extras(ctx context.Context, profile, layer string, refs []ObjectRef) ([]Drift, error) {
	var out []Drift
	var errs []error
	for _, ref := range refs {
		if c.keep[ref.key()] {
			continue // moved to another layer
		}
		ri, err := c.resource(ctx, ref)
		if meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref, err))
			continue
		}
		live, err := ri.Get(ctx, ref.Name, getOptions)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ref, err))
			continue
		}
		if !owned(live, profile, layer) {
			continue
		}
		msg := "no longer in the layer: Apply prunes it"
		if foundationRef(ref) {
			msg = "no longer in the layer: Apply orphans it (kept with everything in it, and forgotten)"
		}
		out = append(out, Drift{Object: ref, Reason: DriftExtra, Message: msg})
	}
	return out, errors.Join(errs...)
}

// diffHelm compares a Helm layer with its release and the release's
// objects with the cluster.
func (c *cluster) diffHelm(ctx context.Context, p *Profile, rl RenderedLayer) LayerResult {
	l := rl.Layer
	ns, name := l.TargetNamespace(), l.ReleaseName()
	lr := LayerResult{Name: l.Name, Kind: l.Kind}
	ref := releaseRef(name, ns)
	fail := func(err error) LayerResult {
		lr.Status, lr.Message = StatusFailed, err.Error()
		return lr
	}
	cfg, err := c.helmConfig(ns)
	if err != nil {
		return fail(err)
	}
	last, err := lastRelease(cfg, name)
	if err != nil {
		return fail(err)
	}
	if last == nil {
		lr.Drift = []Drift{{Object: ref, Reason: DriftMissing, Message: "release not installed"}}
		lr.Status, lr.Message = layerStatus(lr.Drift, nil)
		return lr
	}
	lr.Release = releaseInfo(last)
	if last.Info != nil && last.Info.Status != release.StatusDeployed {
		lr.Drift = append(lr.Drift, Drift{Object: ref, Reason: DriftChanged, Fields: []string{"status"}, Message: fmt.Sprintf("release is %s", last.Info.Status)})
	}
	ch, want, err := c.renderHelm(ctx, cfg, p, rl, true)
	if err != nil {
		return fail(err)
	}
	var fields []string
	if last.Chart == nil || last.Chart.Metadata == nil || last.Chart.Metadata.Name != ch.Metadata.Name || last.Chart.Metadata.Version != ch.Metadata.Version {
		fields = append(fields, "chart")
	}
	if !sameValues(last.Config, rl.Values) {
		fields = append(fields, "values")
	}
	if len(fields) > 0 {
		lr.Drift = append(lr.Drift, Drift{Object: ref, Reason: DriftChanged, Fields: fields, Message: "the release differs from the profile's chart or values"})
	}
	objs, err := parseManifests(want.Manifest, nil)
	if err != nil {
		return fail(fmt.Errorf("rendered chart: %w", err))
	}
	var errs []error
	for _, o := range Order(objs) {
		_, d, err := c.diffObject(ctx, o, ns)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if d != nil {
			lr.Drift = append(lr.Drift, *d)
		}
	}
	lr.Status, lr.Message = layerStatus(lr.Drift, errs)
	return lr
}

// sameValues compares Helm values as JSON would (numbers as float64).
func sameValues(a, b map[string]any) bool {
	norm := func(m map[string]any) any {
		if len(m) == 0 {
			return nil
		}
		data, err := yaml.Marshal(m)
		if err != nil {
			return m
		}
		var out any
		if err := yaml.Unmarshal(data, &out); err != nil {
			return m
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
