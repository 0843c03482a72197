package profile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const cm = `apiVersion: v1
kind: ConfigMap
metadata:
  name: c
data:
  k: v
`

func valid() *Profile {
	return &Profile{
		Name: "cicd", Version: "1.0.0",
		Variables: map[string]string{"REPLICAS": "1"},
		Layers: []Layer{
			{Name: "base", Kind: KindManifests, Manifests: cm},
			{Name: "dash", Kind: KindHelm, Chart: &Chart{Dir: "/charts/dash"}, Values: "a: 1"},
		},
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		edit   func(p *Profile)
		errors []string // substrings; none means valid
	}{
		{name: "valid", edit: func(*Profile) {}},
		{name: "no name", edit: func(p *Profile) { p.Name = "" }, errors: []string{"name: required"}},
		{name: "bad name", edit: func(p *Profile) { p.Name = "CI_CD" }, errors: []string{`name: "CI_CD" is not a DNS-1123 label`}},
		{name: "no version", edit: func(p *Profile) { p.Version = "" }, errors: []string{"version: required"}},
		{name: "bad variable", edit: func(p *Profile) { p.Variables["1X"] = "" }, errors: []string{`variables: "1X" is not a variable name`}},
		{name: "no layers", edit: func(p *Profile) { p.Layers = nil }, errors: []string{"layers: at least one layer"}},
		{name: "duplicate layer", edit: func(p *Profile) { p.Layers[1].Name = "base" }, errors: []string{`layers[1].name: "base" is also the name of layers[0]`}},
		{name: "no kind", edit: func(p *Profile) { p.Layers[0].Kind = "" }, errors: []string{"layers[0].kind: required"}},
		{name: "bad kind", edit: func(p *Profile) { p.Layers[0].Kind = "kustomize" }, errors: []string{`layers[0].kind: "kustomize" is not manifests or helm`}},
		{name: "empty manifests", edit: func(p *Profile) { p.Layers[0].Manifests = " \n" }, errors: []string{"layers[0].manifests: required"}},
		{name: "chart on manifests", edit: func(p *Profile) { p.Layers[0].Chart = &Chart{Dir: "x"} }, errors: []string{"layers[0].chart: only for helm layers"}},
		{name: "no chart", edit: func(p *Profile) { p.Layers[1].Chart = nil }, errors: []string{"layers[1].chart: required for a helm layer"}},
		{name: "empty chart", edit: func(p *Profile) { p.Layers[1].Chart = &Chart{} }, errors: []string{"layers[1].chart: set archive or dir"}},
		{name: "both charts", edit: func(p *Profile) { p.Layers[1].Chart.Archive = []byte{1} }, errors: []string{"layers[1].chart: set either archive or dir, not both"}},
		{name: "long release", edit: func(p *Profile) { p.Layers[1].Release = strings.Repeat("a", 54) }, errors: []string{"layers[1].release: "}},
		{name: "bad namespace", edit: func(p *Profile) { p.Layers[1].Namespace = "Ns" }, errors: []string{`layers[1].namespace: "Ns"`}},
		{name: "several", edit: func(p *Profile) { p.Version = ""; p.Layers[1].Chart = nil }, errors: []string{"version: required", "layers[1].chart: required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := valid()
			tc.edit(p)
			err := p.Validate()
			if len(tc.errors) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors %q, got none", tc.errors)
			}
			for _, e := range tc.errors {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q does not contain %q", err, e)
				}
			}
		})
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"A": "x", "B_2": "y z", "EMPTY": ""}
	cases := []struct {
		name, in, want string
		missing        []string
		err            string
	}{
		{name: "none", in: "plain $HOME and $(cmd)", want: "plain $HOME and $(cmd)"},
		{name: "one", in: "${A}", want: "x"},
		{name: "embedded", in: "img:${A}-${B_2}", want: "img:x-y z"},
		{name: "empty value", in: "[${EMPTY}]", want: "[]"},
		{name: "escaped", in: "$${A} and ${A}", want: "${A} and x"},
		{name: "unknown", in: "${NOPE} ${ALSO}", missing: []string{"ALSO", "NOPE"}},
		{name: "no shell syntax", in: "${A:-d}", err: "invalid variable reference ${A:-d}"},
		{name: "nested", in: "${${A}}", err: "invalid variable reference"},
		{name: "unterminated", in: "${A", err: "unterminated"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			missing := map[string]bool{}
			got, err := expand(tc.in, vars, missing)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var m []string
			for k := range missing {
				m = append(m, k)
			}
			if len(tc.missing) > 0 {
				if len(m) != len(tc.missing) {
					t.Fatalf("missing %v, want %v", m, tc.missing)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSubstituteYAML(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"N": "3", "TAG": "1.10", "EVIL": "x\nkind: Secret", "NAME": "web"}
	cases := []struct {
		name string
		in   string
		want []map[string]any
		err  string
	}{
		{
			name: "typed when plain, string when quoted",
			in:   "replicas: ${N}\nquoted: \"${N}\"\nversion: '${TAG}'\n",
			want: []map[string]any{{"replicas": float64(3), "quoted": "3", "version": "1.10"}},
		},
		{
			name: "values cannot inject structure",
			in:   "name: ${EVIL}\n",
			want: []map[string]any{{"name": "x\nkind: Secret"}},
		},
		{
			name: "keys, lists, several documents, empty ones skipped",
			in:   "---\n${NAME}:\n- a-${NAME}\n---\n---\n# only a comment ${NOPE}\nb: 1\n",
			want: []map[string]any{{"web": []any{"a-web"}}, {"b": float64(1)}},
		},
		{name: "undeclared variables named", in: "a: ${X}\nb: ${Y}\n", err: "undeclared variable(s) X, Y"},
		{name: "bad YAML", in: "a: [\n", err: "document 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			docs, err := substituteYAML(tc.in, vars)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			for _, d := range docs {
				v, err := parseValues(string(d), nil)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestResolveVariables(t *testing.T) {
	t.Parallel()
	p := valid()
	got, err := p.ResolveVariables(map[string]string{"REPLICAS": "2"})
	if err != nil || got["REPLICAS"] != "2" {
		t.Fatalf("got %v, %v", got, err)
	}
	if p.Variables["REPLICAS"] != "1" {
		t.Fatal("overrides changed the profile's defaults")
	}
	if _, err := p.ResolveVariables(map[string]string{"REPLICA": "2"}); err == nil || !strings.Contains(err.Error(), "declares no variable REPLICA") {
		t.Fatalf("want an error naming REPLICA, got %v", err)
	}
}

func obj(apiVersion, kind, name string) string {
	return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata:\n  name: " + name + "\n"
}

func TestOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		docs []string
		want []string
	}{
		{
			name: "namespaces then CRDs then the rest in file order",
			docs: []string{
				obj("apps/v1", "Deployment", "d"),
				obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "crd1"),
				obj("ci.example.com/v1", "Pipeline", "p"),
				obj("v1", "Namespace", "ns"),
				obj("v1", "ServiceAccount", "sa"),
				obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "crd2"),
			},
			want: []string{"Namespace/ns", "CustomResourceDefinition/crd1", "CustomResourceDefinition/crd2", "Deployment/d", "Pipeline/p", "ServiceAccount/sa"},
		},
		{
			name: "a kind called Namespace in another group is not a namespace",
			docs: []string{obj("v1", "ConfigMap", "c"), obj("example.com/v1", "Namespace", "x")},
			want: []string{"ConfigMap/c", "Namespace/x"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := valid()
			p.Layers[0].Manifests = strings.Join(tc.docs, "---\n")
			r, err := Render(p, nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range r[0].Objects {
				got = append(got, o.GetKind()+"/"+o.GetName())
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		manifests string
		values    string
		overrides map[string]string
		err       string
		check     func(t *testing.T, r []RenderedLayer)
	}{
		{
			name:      "stamped and substituted",
			manifests: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  labels: {app: d}\nspec:\n  replicas: ${REPLICAS}\n",
			values:    "replicas: ${REPLICAS}\n",
			overrides: map[string]string{"REPLICAS": "4"},
			check: func(t *testing.T, r []RenderedLayer) {
				o := r[0].Objects[0]
				if n, _, _ := unstructured.NestedFloat64(o.Object, "spec", "replicas"); n != 4 {
					if i, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); i != 4 {
						t.Errorf("replicas = %v", o.Object["spec"])
					}
				}
				want := map[string]string{"app": "d", LabelProfile: "cicd", LabelLayer: "base"}
				if !reflect.DeepEqual(o.GetLabels(), want) {
					t.Errorf("labels %v, want %v", o.GetLabels(), want)
				}
				if o.GetAnnotations()[AnnotationVersion] != "1.0.0" {
					t.Errorf("annotations %v", o.GetAnnotations())
				}
				if r[1].Values["replicas"] != float64(4) {
					t.Errorf("values %v", r[1].Values)
				}
			},
		},
		{name: "no kind", manifests: "apiVersion: v1\nmetadata: {name: x}\n", err: "layers[0].manifests: object 1: kind is required"},
		{name: "no name", manifests: "apiVersion: v1\nkind: ConfigMap\n", err: "metadata.name is required"},
		{name: "duplicate", manifests: cm + "---\n" + cm, err: "object 2: ConfigMap c is also object 1"},
		{name: "undeclared variable", manifests: cm + "---\n" + obj("v1", "ConfigMap", "${WHO}"), err: "layers[0].manifests: undeclared variable(s) WHO"},
		{name: "values not a mapping", manifests: cm, values: "- a\n", err: "layers[1].values: not a YAML mapping"},
		{name: "unknown override", manifests: cm, overrides: map[string]string{"X": "1"}, err: "declares no variable X"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := valid()
			p.Layers[0].Manifests = tc.manifests
			p.Layers[1].Values = tc.values
			r, err := Render(p, tc.overrides)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
		})
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoad(t *testing.T) {
	t.Parallel()
	chart := map[string]string{"charts/dash/Chart.yaml": "apiVersion: v2\nname: dash\nversion: 0.1.0\n"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range chart {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	cases := []struct {
		name  string
		files map[string]string
		err   string
		check func(t *testing.T, dir string, p *Profile)
	}{
		{
			name: "files, globs, inline, chart directory and values file",
			files: with(map[string]string{
				"profile.yaml": `name: cicd
version: "2"
variables: {TITLE: CI}
layers:
- name: crds
  kind: manifests
  files: [crds/*.yaml]
- name: app
  kind: manifests
  manifests: |
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: inline}
  files: [app.yaml]
- name: dash
  kind: helm
  chart: charts/dash
  namespace: dash
  valuesFile: values.yaml
`,
				"crds/b.yaml": obj("v1", "ConfigMap", "b"),
				"crds/a.yaml": obj("v1", "ConfigMap", "a") + "---\n",
				"app.yaml":    obj("v1", "ConfigMap", "c"),
				"values.yaml": "title: ${TITLE}\n",
			}),
			check: func(t *testing.T, dir string, p *Profile) {
				r, err := Render(p, nil)
				if err != nil {
					t.Fatal(err)
				}
				names := func(objs []*unstructured.Unstructured) (out []string) {
					for _, o := range objs {
						out = append(out, o.GetName())
					}
					return out
				}
				if got := names(r[0].Objects); !reflect.DeepEqual(got, []string{"a", "b"}) {
					t.Errorf("crds layer: %v", got)
				}
				if got := names(r[1].Objects); !reflect.DeepEqual(got, []string{"inline", "c"}) {
					t.Errorf("app layer: %v", got)
				}
				if p.Layers[2].Chart.Dir != filepath.Join(dir, "charts/dash") || r[2].Values["title"] != "CI" {
					t.Errorf("helm layer: %+v values %v", p.Layers[2].Chart, r[2].Values)
				}
			},
		},
		{
			name: "packaged chart read into the archive",
			files: map[string]string{
				"profile.yaml":   "name: p\nversion: v\nlayers:\n- {name: h, kind: helm, chart: dash-0.1.0.tgz}\n",
				"dash-0.1.0.tgz": "not really gzip",
			},
			check: func(t *testing.T, _ string, p *Profile) {
				if string(p.Layers[0].Chart.Archive) != "not really gzip" {
					t.Errorf("archive %q", p.Layers[0].Chart.Archive)
				}
			},
		},
		{name: "unknown field", files: map[string]string{"profile.yaml": "name: p\nversion: v\nlayer: []\n"}, err: `unknown field "layer"`},
		{name: "path outside", files: map[string]string{"profile.yaml": "name: p\nversion: v\nlayers:\n- {name: a, kind: manifests, files: [../x.yaml]}\n"}, err: "layers[0].files[0]: \"../x.yaml\" is not a path inside the profile directory"},
		{name: "no match", files: map[string]string{"profile.yaml": "name: p\nversion: v\nlayers:\n- {name: a, kind: manifests, files: [nope/*.yaml]}\n"}, err: "layers[0].files[0]: no file matches"},
		{name: "not a chart", files: map[string]string{"profile.yaml": "name: p\nversion: v\nlayers:\n- {name: a, kind: helm, chart: .}\n"}, err: "layers[0].chart: . is not a chart directory"},
		{name: "invalid", files: map[string]string{"profile.yaml": "name: p\nlayers:\n- {name: a, kind: manifests, manifests: 'a: b'}\n"}, err: "version: required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, tc.files)
			p, err := Load(dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, dir, p)
		})
	}
}

func TestLoadExample(t *testing.T) {
	t.Parallel()
	p, err := Load(filepath.Join("..", "..", "examples", "profiles", "cicd"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(p, map[string]string{"DASHBOARD_TITLE": "Builds"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := LoadChart(p.Layer("dashboard").Chart)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.Name == "" || len(r) != len(p.Layers) {
		t.Fatalf("chart %+v, %d layers rendered", ch.Metadata, len(r))
	}

	// What the hub stores: the profile as JSON, charts packaged.
	portable, err := p.Portable()
	if err != nil {
		t.Fatal(err)
	}
	if p.Layer("dashboard").Chart.Dir == "" {
		t.Fatal("Portable changed the original profile")
	}
	data, err := json.Marshal(portable)
	if err != nil {
		t.Fatal(err)
	}
	var back Profile
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}
	c := back.Layer("dashboard").Chart
	if c.Dir != "" || len(c.Archive) == 0 {
		t.Fatalf("portable chart: dir %q, %d bytes of archive", c.Dir, len(c.Archive))
	}
	packed, err := LoadChart(c)
	if err != nil {
		t.Fatal(err)
	}
	if packed.Metadata.Name != ch.Metadata.Name || packed.Metadata.Version != ch.Metadata.Version || len(packed.Templates) != len(ch.Templates) {
		t.Fatalf("packaged chart %+v, want %+v", packed.Metadata, ch.Metadata)
	}

	// A profile file naming the packaged chart loads it as an archive.
	dir := writeFiles(t, map[string]string{
		"profile.yaml": "name: p\nversion: v\nlayers:\n- {name: h, kind: helm, chart: dash.tgz}\n",
		"dash.tgz":     string(c.Archive),
	})
	fromFile, err := Load(filepath.Join(dir, "profile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadChart(fromFile.Layers[0].Chart); err != nil {
		t.Fatal(err)
	}
}

func TestDiffFields(t *testing.T) {
	t.Parallel()
	a := map[string]any{"spec": map[string]any{"replicas": 1.0, "x": "a"}, "metadata": map[string]any{"labels": map[string]any{"a": "b"}}}
	b := map[string]any{"spec": map[string]any{"replicas": 2.0, "x": "a"}, "metadata": map[string]any{}}
	got := diffFields(a, b, "", nil)
	if len(got) != 2 || !strings.Contains(strings.Join(got, ","), "spec.replicas") || !strings.Contains(strings.Join(got, ","), "metadata.labels") {
		t.Fatalf("got %v", got)
	}
}

func TestPruneSets(t *testing.T) {
	t.Parallel()
	ns := ObjectRef{Version: "v1", Kind: "Namespace", Name: "ci"}
	crd := ObjectRef{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "pipelines.ci.example.com"}
	cmA := ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "ci", Name: "a"}
	cmB := ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "ci", Name: "b"}
	dep := ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ci", Name: "d"}
	depOld := dep
	depOld.Version = "v1beta2"
	cases := []struct {
		name       string
		prev, curr []ObjectRef
		want       []ObjectRef
	}{
		{name: "nothing gone", prev: []ObjectRef{cmA, dep}, curr: []ObjectRef{dep, cmA}},
		{name: "one gone", prev: []ObjectRef{cmA, cmB}, curr: []ObjectRef{cmA}, want: []ObjectRef{cmB}},
		{name: "another API version is the same object", prev: []ObjectRef{depOld}, curr: []ObjectRef{dep}},
		{name: "namespaces and CRDs last", prev: []ObjectRef{ns, crd, cmA, dep}, curr: nil, want: []ObjectRef{cmA, dep, crd, ns}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := minusRefs(tc.prev, tc.curr); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	if got := unionRefs([]ObjectRef{cmA, dep}, []ObjectRef{depOld, cmB}); !reflect.DeepEqual(got, []ObjectRef{cmA, dep, cmB}) {
		t.Fatalf("union %v", got)
	}
}

func TestMergedInventory(t *testing.T) {
	t.Parallel()
	prev := &inventory{Layers: map[string]*inventoryLayer{"a": {Kind: KindManifests}, "b": {Kind: KindHelm}, "c": {Kind: KindManifests}}, Order: []string{"a", "b", "c"}}
	inv := &inventory{Layers: map[string]*inventoryLayer{"a": {Kind: KindManifests}}, Order: []string{"a", "new"}}
	got := merged(inv, prev)
	if !reflect.DeepEqual(got.Order, []string{"a", "new", "b", "c"}) || len(got.Layers) != 3 || got.Layers["a"] != inv.Layers["a"] {
		t.Fatalf("merged %+v", got)
	}
}

func TestLabeller(t *testing.T) {
	t.Parallel()
	p := valid()
	rendered := "---\n# Source: dash/templates/cm.yaml\n" + obj("v1", "ConfigMap", "x") + "---\n# Source: dash/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels: {app: s}\n  annotations: {a: \"${not-a-variable}\"}\n"
	out, err := (&labeller{profile: p, layer: &p.Layers[1]}).Run(bytes.NewBufferString(rendered))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseManifests(out.String(), nil)
	if err != nil || len(objs) != 2 {
		t.Fatalf("%d objects, %v:\n%s", len(objs), err, out)
	}
	for _, o := range objs {
		if o.GetLabels()[LabelLayer] != "dash" || o.GetLabels()[LabelProfile] != "cicd" || o.GetAnnotations()[AnnotationVersion] != "1.0.0" {
			t.Errorf("%s: labels %v annotations %v", o.GetName(), o.GetLabels(), o.GetAnnotations())
		}
	}
	if objs[1].GetLabels()["app"] != "s" || objs[1].GetAnnotations()["a"] != "${not-a-variable}" {
		t.Errorf("the chart's own metadata changed: %v %v", objs[1].GetLabels(), objs[1].GetAnnotations())
	}
}
