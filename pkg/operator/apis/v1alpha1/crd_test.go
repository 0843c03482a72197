package v1alpha1

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// crdFile is the CRD as shipped, for kubectl apply.
var crdFile = filepath.Join("..", "..", "..", "..", "api", "crds", CRDName+".yaml")

// TestCRDFileIsCurrent: the shipped CRD is the one CRD() makes;
// NEST_UPDATE_GOLDEN=1 rewrites it.
func TestCRDFileIsCurrent(t *testing.T) {
	want, err := CRDYAML()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("NEST_UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll(filepath.Dir(crdFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crdFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatalf("%v (NEST_UPDATE_GOLDEN=1 go test ./pkg/operator/apis/v1alpha1 -run CRD writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run NEST_UPDATE_GOLDEN=1 go test ./pkg/operator/apis/v1alpha1 -run CRD", crdFile)
	}
}

// TestCRDSchemaMatchesGoTypes: every JSON field of the Go types is in the
// schema with a matching type, and the schema has no field the types lack,
// so the CRD cannot drift from what the operator reads and writes.
func TestCRDSchemaMatchesGoTypes(t *testing.T) {
	root := CRD().Spec.Versions[0].Schema.OpenAPIV3Schema
	tests := []struct {
		name   string
		typ    reflect.Type
		schema apiextensionsv1.JSONSchemaProps
	}{
		{"spec", reflect.TypeFor[VirtualClusterSpec](), root.Properties["spec"]},
		{"status", reflect.TypeFor[VirtualClusterStatus](), root.Properties["status"]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			compare(t, tt.name, tt.typ, tt.schema)
		})
	}
}

var timeType = reflect.TypeFor[metav1.Time]()

func compare(t *testing.T, path string, typ reflect.Type, s apiextensionsv1.JSONSchemaProps) {
	t.Helper()
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := ""
	switch {
	case typ == timeType:
		want = "string"
	case typ.Kind() == reflect.String:
		want = "string"
	case typ.Kind() == reflect.Bool:
		want = "boolean"
	case typ.Kind() == reflect.Int64 || typ.Kind() == reflect.Int:
		want = "integer"
	case typ.Kind() == reflect.Slice:
		want = "array"
	case typ.Kind() == reflect.Struct || typ.Kind() == reflect.Map:
		want = "object"
	default:
		t.Fatalf("%s: no schema type for Go kind %s", path, typ.Kind())
	}
	if s.Type != want {
		t.Errorf("%s: schema type %q, Go type %s wants %q", path, s.Type, typ, want)
		return
	}
	switch {
	case typ.Kind() == reflect.Slice:
		if s.Items == nil || s.Items.Schema == nil {
			t.Errorf("%s: array without items", path)
			return
		}
		compare(t, path+"[]", typ.Elem(), *s.Items.Schema)
	case typ.Kind() == reflect.Map:
		if s.XPreserveUnknownFields == nil || !*s.XPreserveUnknownFields {
			t.Errorf("%s: a free-form object must preserve unknown fields", path)
		}
	case typ.Kind() == reflect.Struct && typ != timeType:
		var fields []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				t.Fatalf("%s.%s: field without a JSON name", path, f.Name)
			}
			fields = append(fields, name)
			ps, ok := s.Properties[name]
			if !ok {
				t.Errorf("%s.%s: in the Go type, not in the schema", path, name)
				continue
			}
			compare(t, path+"."+name, f.Type, ps)
		}
		for name := range s.Properties {
			if !slices.Contains(fields, name) {
				t.Errorf("%s.%s: in the schema, not in the Go type %s", path, name, typ)
			}
		}
	}
}
