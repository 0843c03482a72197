// Package charts holds Nest's Helm charts (embedded) and renders them with
// the Helm SDK: charts/nest runs one virtual cluster's control plane as a
// StatefulSet in a namespace of any host cluster (docs/chart.md).
package charts

//go:generate go run ../hack/chartrules

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/pkg/hostaccess"
)

//go:embed all:nest all:nest-operator
var files embed.FS

// NestChart is the directory of the nest chart in FS.
const NestChart = "nest"

// NestOperatorChart is the directory of the nest-operator chart in FS: the
// operator in the host cluster (docs/operator.md).
const NestOperatorChart = "nest-operator"

// SyncerRulesFile is the file of the nest chart that holds its Role's rules,
// generated from pkg/hostaccess.Rules by `go generate ./charts`.
const SyncerRulesFile = "files/syncer-rules.yaml"

// SyncerClusterRulesFile holds the chart's ClusterRole rules by sync
// setting, generated from pkg/hostaccess.ClusterRulesBySetting: the
// template grants those of the settings its config turns on.
const SyncerClusterRulesFile = "files/syncer-cluster-rules.yaml"

// FS returns the charts' files.
func FS() fs.FS { return files }

// Load loads the embedded chart in dir (NestChart).
func Load(dir string) (*chart.Chart, error) {
	var bufs []*loader.BufferedFile
	err := fs.WalkDir(files, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		bufs = append(bufs, &loader.BufferedFile{Name: strings.TrimPrefix(p, dir+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read chart %s: %w", dir, err)
	}
	c, err := loader.LoadFiles(bufs)
	if err != nil {
		return nil, fmt.Errorf("load chart %s: %w", dir, err)
	}
	return c, nil
}

// Release names one installation of a chart.
type Release struct {
	Name, Namespace string
	// Values override the chart's values.yaml, as `helm install -f` does.
	Values map[string]any
}

// Rendered is a rendered chart: its objects in file order, and NOTES.txt.
type Rendered struct {
	Objects []*unstructured.Unstructured
	Notes   string
}

// Render renders c for r as `helm template` does: values merged over the
// chart's defaults and checked against values.schema.json (a bad value is
// an error naming it), then every template.
func Render(c *chart.Chart, r Release) (*Rendered, error) {
	if r.Values == nil {
		r.Values = map[string]any{}
	}
	caps := chartutil.DefaultCapabilities.Copy()
	vals, err := chartutil.ToRenderValues(c, r.Values, chartutil.ReleaseOptions{
		Name: r.Name, Namespace: r.Namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, fmt.Errorf("values of chart %s: %w", c.Name(), err)
	}
	out, err := engine.Render(c, vals)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", c.Name(), err)
	}
	rendered := &Rendered{}
	for _, name := range slices.Sorted(maps.Keys(out)) {
		if path.Base(name) == "NOTES.txt" {
			rendered.Notes = out[name]
			continue
		}
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		objs, err := decode(out[name])
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", c.Name(), name, err)
		}
		rendered.Objects = append(rendered.Objects, objs...)
	}
	return rendered, nil
}

// decode splits a rendered template into objects, skipping empty documents.
func decode(manifest string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	d := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode: %w", err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, fmt.Errorf("object without kind or apiVersion: %v", m)
		}
		objs = append(objs, u)
	}
}

// SyncerRules returns the content of SyncerRulesFile: pkg/hostaccess.Rules,
// the one list of what the syncer may do on its host namespace, as YAML.
func SyncerRules() ([]byte, error) {
	data, err := yaml.Marshal(hostaccess.Rules())
	if err != nil {
		return nil, fmt.Errorf("encode syncer rules: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("# Generated from pkg/hostaccess.Rules by `go generate ./charts`. DO NOT EDIT.\n")
	b.Write(data)
	return b.Bytes(), nil
}

// SyncerClusterRules returns the content of SyncerClusterRulesFile.
func SyncerClusterRules() ([]byte, error) {
	data, err := yaml.Marshal(hostaccess.ClusterRulesBySetting())
	if err != nil {
		return nil, fmt.Errorf("encode syncer cluster rules: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("# Generated from pkg/hostaccess.ClusterRulesBySetting by `go generate ./charts`. DO NOT EDIT.\n")
	b.Write(data)
	return b.Bytes(), nil
}
