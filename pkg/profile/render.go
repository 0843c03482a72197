package profile

import (
	"encoding/json"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// RenderedLayer is a layer with its variables substituted.
type RenderedLayer struct {
	Layer *Layer
	// Objects of a manifests layer, in apply order (see Order), each
	// labelled with the profile and layer and annotated with the version.
	Objects []*unstructured.Unstructured
	// Values of a Helm layer.
	Values map[string]any
}

// Render validates the profile, substitutes the cluster's variables and
// parses every layer, without a cluster. Errors name the layer and the
// document, e.g. "layers[1].manifests: document 3: ...".
func Render(p *Profile, overrides map[string]string) ([]RenderedLayer, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("invalid profile: %w", err)
	}
	vars, err := p.ResolveVariables(overrides)
	if err != nil {
		return nil, err
	}
	out := make([]RenderedLayer, 0, len(p.Layers))
	for i := range p.Layers {
		l := &p.Layers[i]
		r := RenderedLayer{Layer: l}
		switch l.Kind {
		case KindManifests:
			objs, err := parseManifests(l.Manifests, vars)
			if err != nil {
				return nil, fmt.Errorf("layers[%d].manifests: %w", i, err)
			}
			for _, o := range objs {
				stamp(o, p, l)
			}
			r.Objects = Order(objs)
		case KindHelm:
			values, err := parseValues(l.Values, vars)
			if err != nil {
				return nil, fmt.Errorf("layers[%d].values: %w", i, err)
			}
			r.Values = values
		}
		out = append(out, r)
	}
	return out, nil
}

// parseManifests turns multi-doc YAML into objects, variables substituted.
func parseManifests(data string, vars map[string]string) ([]*unstructured.Unstructured, error) {
	docs, err := substituteYAML(data, vars)
	if err != nil {
		return nil, err
	}
	seen := map[ObjectRef]int{}
	objs := make([]*unstructured.Unstructured, 0, len(docs))
	for i, doc := range docs {
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", i+1, err)
		}
		var m map[string]any
		if err := json.Unmarshal(j, &m); err != nil {
			return nil, fmt.Errorf("object %d: not a YAML mapping: %w", i+1, err)
		}
		o := &unstructured.Unstructured{Object: m}
		switch {
		case o.GetAPIVersion() == "":
			return nil, fmt.Errorf("object %d: apiVersion is required", i+1)
		case o.GetKind() == "":
			return nil, fmt.Errorf("object %d: kind is required", i+1)
		case o.GetName() == "":
			return nil, fmt.Errorf("object %d (%s): metadata.name is required (generateName is not supported)", i+1, o.GetKind())
		}
		if _, err := schema.ParseGroupVersion(o.GetAPIVersion()); err != nil {
			return nil, fmt.Errorf("object %d: %w", i+1, err)
		}
		ref := RefOf(o)
		if prev, dup := seen[ref]; dup {
			return nil, fmt.Errorf("object %d: %s is also object %d", i+1, ref, prev)
		}
		seen[ref] = i + 1
		objs = append(objs, o)
	}
	return objs, nil
}

func parseValues(data string, vars map[string]string) (map[string]any, error) {
	docs, err := substituteYAML(data, vars)
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	switch len(docs) {
	case 0:
	case 1:
		if err := yaml.Unmarshal(docs[0], &values); err != nil {
			return nil, fmt.Errorf("not a YAML mapping: %w", err)
		}
	default:
		return nil, fmt.Errorf("%d YAML documents, want one", len(docs))
	}
	return values, nil
}

// stamp labels an object with its profile and layer, and annotates it with
// the profile's version.
func stamp(o *unstructured.Unstructured, p *Profile, l *Layer) {
	labels := o.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelProfile] = p.Name
	labels[LabelLayer] = l.Name
	o.SetLabels(labels)
	ann := o.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationVersion] = p.Version
	o.SetAnnotations(ann)
}

// isCRD tells CustomResourceDefinitions.
func isCRD(o *unstructured.Unstructured) bool {
	return o.GetKind() == "CustomResourceDefinition" && o.GroupVersionKind().Group == "apiextensions.k8s.io"
}

func isNamespace(o *unstructured.Unstructured) bool {
	return o.GetKind() == "Namespace" && o.GroupVersionKind().Group == ""
}

// foundation tells the objects applied first in a layer, before the
// others: Namespaces, then CustomResourceDefinitions (which are waited for
// until Established).
func foundation(o *unstructured.Unstructured) bool { return isNamespace(o) || isCRD(o) }

// Order returns objs in apply order: Namespaces, then
// CustomResourceDefinitions, then everything else, each group in the order
// given.
func Order(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	rank := func(o *unstructured.Unstructured) int {
		switch {
		case isNamespace(o):
			return 0
		case isCRD(o):
			return 1
		}
		return 2
	}
	out := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// ObjectRef names one object in a cluster.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf returns the reference of an object.
func RefOf(o *unstructured.Unstructured) ObjectRef {
	gvk := o.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: o.GetNamespace(), Name: o.GetName()}
}

// GroupVersionKind returns the reference's kind.
func (r ObjectRef) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// key identifies the object regardless of the API version it is served at.
func (r ObjectRef) key() ObjectRef { r.Version = ""; return r }

// String is "Kind.group namespace/name" (no namespace for cluster objects).
func (r ObjectRef) String() string {
	k := r.Kind
	if r.Group != "" {
		k += "." + r.Group
	}
	if r.Namespace != "" {
		return k + " " + r.Namespace + "/" + r.Name
	}
	return k + " " + r.Name
}
