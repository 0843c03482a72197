package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// goldenPath is the OpenAPI document checked into the repository.
var goldenPath = filepath.Join("..", "..", "..", "api", "openapi.json")

// TestOpenAPIGolden fails when the route table and the checked-in
// document differ. Regenerate with NEST_UPDATE_GOLDEN=1 go test ./pkg/hub/api.
func TestOpenAPIGolden(t *testing.T) {
	t.Parallel()
	got, err := api.OpenAPIJSON(api.Routes())
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("NEST_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (generate it with NEST_UPDATE_GOLDEN=1 go test ./pkg/hub/api)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with the route table: run NEST_UPDATE_GOLDEN=1 go test ./pkg/hub/api and commit it", goldenPath)
	}

	h := newHub(t, storetest.SQLite.Open(t))
	served := h.do(http.MethodGet, "/api/v1/openapi.json", "", nil).must(t, http.StatusOK)
	if !bytes.Equal(served.body, want) {
		t.Fatal("the served document differs from the golden one")
	}
}

// TestOpenAPIDescribesEveryRoute checks the document's shape: every route
// is an operation with its permission, and every $ref resolves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	data, err := api.OpenAPIJSON(api.Routes())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, rt := range api.Routes() {
		op, ok := doc.Paths[rt.Path][map[string]string{"GET": "get", "POST": "post", "PUT": "put", "DELETE": "delete"}[rt.Method]]
		if !ok {
			t.Errorf("%s is not in the document", rt.Pattern())
			continue
		}
		if op["operationId"] != rt.ID || op["x-nest-permission"] != string(rt.Permission) {
			t.Errorf("%s: operationId %v permission %v", rt.Pattern(), op["operationId"], op["x-nest-permission"])
		}
	}
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if s, ok := val.(string); ok && k == "$ref" {
					refs = append(refs, s)
				}
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	var all any
	_ = json.Unmarshal(data, &all)
	walk(all)
	for _, ref := range refs {
		name := filepath.Base(ref)
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("dangling $ref %s", ref)
		}
	}
	for _, want := range []string{"TenantPage", "CreateTenantRequest", "CreatedAPIKey", "Error", "AuditEventPage"} {
		if _, ok := doc.Components.Schemas[want]; !ok {
			t.Errorf("schema %s missing", want)
		}
	}
}

// TestDocsListEveryRoute keeps docs/hub.md true to the route table and the
// built-in roles.
func TestDocsListEveryRoute(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "hub.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for _, rt := range api.Routes() {
		perm := string(rt.Permission)
		if perm == "" {
			perm = "(any caller)"
		}
		row := fmt.Sprintf("| %s | `%s` | `%s` | %s |", rt.Method, strings.TrimPrefix(rt.Path, api.V1), perm, rt.Scope)
		if !strings.Contains(doc, row) {
			t.Errorf("docs/hub.md lacks the route row %s", row)
		}
	}
	for _, r := range auth.BuiltinRoles() {
		row := fmt.Sprintf("| `%s` | %s | %s |", r.Name, r.Description, strings.Join(r.Permissions, ", "))
		if !strings.Contains(doc, row) {
			t.Errorf("docs/hub.md lacks the role row %s", row)
		}
	}
}
