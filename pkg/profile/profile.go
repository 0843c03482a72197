// Package profile applies cluster profiles to Kubernetes clusters and
// reports their status and drift. A profile is a versioned, ordered list of
// layers: plain manifests (multi-doc YAML) and Helm charts with values, with
// ${VAR} variables that each cluster may override. The CLI (`nest profile`)
// and the hub call Apply and Diff; Load reads a profile directory.
package profile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// FieldManager is the server-side apply field manager of every object that a
// profile applies.
const FieldManager = "nest-profile"

// Labels and annotations set on every object a profile applies. Pruning and
// drift only ever consider objects that carry LabelProfile with the
// profile's name and LabelLayer with the layer's name.
const (
	LabelProfile      = "profile.nest.dev/name"
	LabelLayer        = "profile.nest.dev/layer"
	AnnotationVersion = "profile.nest.dev/version"
)

// LayerKind is what a layer holds.
type LayerKind string

// Layer kinds.
const (
	KindManifests LayerKind = "manifests"
	KindHelm      LayerKind = "helm"
)

// Profile is one version of a cluster profile.
type Profile struct {
	// Name is a DNS-1123 label; it names the profile's objects (labels)
	// and its inventory in the cluster.
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	// Variables are the defaults of the ${VAR} references of the layers;
	// each cluster may override them. A reference to a variable that is
	// not declared here is an error.
	Variables map[string]string `json:"variables,omitempty"`
	// Layers are applied in order.
	Layers []Layer `json:"layers"`
}

// Layer is one step of a profile.
type Layer struct {
	// Name is a DNS-1123 label, unique in the profile.
	Name string    `json:"name"`
	Kind LayerKind `json:"kind"`
	// Namespace is, for a manifests layer, the namespace of namespaced
	// objects that name none (default "default"); for a Helm layer, the
	// release's namespace (default "default"), created if missing.
	Namespace string `json:"namespace,omitempty"`
	// Manifests is the multi-doc YAML of a manifests layer.
	Manifests string `json:"manifests,omitempty"`
	// Chart, Values and Release are for Helm layers. Values is YAML; the
	// release name defaults to the layer's name.
	Chart   *Chart `json:"chart,omitempty"`
	Values  string `json:"values,omitempty"`
	Release string `json:"release,omitempty"`
}

// Chart is a Helm chart: exactly one of a packaged chart (.tgz bytes, as
// uploaded to the hub) or a chart directory on the local disk.
type Chart struct {
	Archive []byte `json:"archive,omitempty"`
	Dir     string `json:"dir,omitempty"`
}

// ReleaseName returns the Helm release name of a Helm layer.
func (l *Layer) ReleaseName() string {
	if l.Release != "" {
		return l.Release
	}
	return l.Name
}

// TargetNamespace returns the layer's namespace, "default" when unset.
func (l *Layer) TargetNamespace() string {
	if l.Namespace != "" {
		return l.Namespace
	}
	return "default"
}

var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the profile's structure. Each error names its field,
// e.g. "layers[2].chart: ...". It does not render the layers: Render does,
// and reports the errors of variables and YAML.
func (p *Profile) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if p.Name == "" {
		add("name", "required")
	} else if msgs := validation.IsDNS1123Label(p.Name); len(msgs) > 0 {
		add("name", "%q is not a DNS-1123 label: %s", p.Name, strings.Join(msgs, "; "))
	}
	if p.Version == "" {
		add("version", "required")
	} else if len(p.Version) > 128 {
		add("version", "longer than 128 characters")
	}
	for name := range p.Variables {
		if !variableName.MatchString(name) {
			add("variables", "%q is not a variable name (letters, digits and _, not starting with a digit)", name)
		}
	}
	if len(p.Layers) == 0 {
		add("layers", "at least one layer is required")
	}
	seen := map[string]int{}
	for i := range p.Layers {
		l := &p.Layers[i]
		f := fmt.Sprintf("layers[%d]", i)
		if l.Name == "" {
			add(f+".name", "required")
		} else if msgs := validation.IsDNS1123Label(l.Name); len(msgs) > 0 {
			add(f+".name", "%q is not a DNS-1123 label: %s", l.Name, strings.Join(msgs, "; "))
		} else if j, dup := seen[l.Name]; dup {
			add(f+".name", "%q is also the name of layers[%d]", l.Name, j)
		} else {
			seen[l.Name] = i
		}
		if l.Namespace != "" {
			if msgs := validation.IsDNS1123Label(l.Namespace); len(msgs) > 0 {
				add(f+".namespace", "%q is not a DNS-1123 label: %s", l.Namespace, strings.Join(msgs, "; "))
			}
		}
		switch l.Kind {
		case KindManifests:
			if strings.TrimSpace(l.Manifests) == "" {
				add(f+".manifests", "required for a manifests layer")
			}
			if l.Chart != nil {
				add(f+".chart", "only for helm layers")
			}
			if l.Values != "" {
				add(f+".values", "only for helm layers")
			}
			if l.Release != "" {
				add(f+".release", "only for helm layers")
			}
		case KindHelm:
			switch {
			case l.Chart == nil:
				add(f+".chart", "required for a helm layer")
			case len(l.Chart.Archive) > 0 && l.Chart.Dir != "":
				add(f+".chart", "set either archive or dir, not both")
			case len(l.Chart.Archive) == 0 && l.Chart.Dir == "":
				add(f+".chart", "set archive or dir")
			}
			if l.Manifests != "" {
				add(f+".manifests", "only for manifests layers")
			}
			// Helm's own limit for release names.
			if r := l.ReleaseName(); len(r) > 53 {
				add(f+".release", "%q is longer than 53 characters", r)
			} else if msgs := validation.IsDNS1123Subdomain(r); len(msgs) > 0 {
				add(f+".release", "%q is not a DNS-1123 subdomain: %s", r, strings.Join(msgs, "; "))
			}
		case "":
			add(f+".kind", "required: manifests or helm")
		default:
			add(f+".kind", "%q is not manifests or helm", l.Kind)
		}
	}
	return errors.Join(errs...)
}

// Layer returns the layer named name, or nil.
func (p *Profile) Layer(name string) *Layer {
	for i := range p.Layers {
		if p.Layers[i].Name == name {
			return &p.Layers[i]
		}
	}
	return nil
}
