package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI 3 document is generated from the route table: paths,
// methods, parameters, permissions and the schemas of the very Go types
// the handlers decode and return.

type schemas map[string]any

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// schemaName names a Go type in components/schemas; a generic page of T
// is "TPage".
func schemaName(t reflect.Type) string {
	name := t.Name()
	if base, arg, ok := strings.Cut(name, "["); ok {
		arg = strings.TrimSuffix(arg, "]")
		if i := strings.LastIndex(arg, "."); i >= 0 {
			arg = arg[i+1:]
		}
		return arg + base
	}
	return name
}

// schemaOf returns the schema of t, adding named structs to s.
func (s schemas) schemaOf(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"description": "any JSON value"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return s.schemaOf(t.Elem())
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer", "format": "int64"}
	case reflect.Int32:
		return map[string]any{"type": "integer", "format": "int32"}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		return map[string]any{"type": "array", "items": s.schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": s.schemaOf(t.Elem())}
	case reflect.Struct:
		name := schemaName(t)
		if _, done := s[name]; !done {
			s[name] = nil // break cycles
			props := map[string]any{}
			var required []string
			s.fields(t, props, &required)
			obj := map[string]any{"type": "object", "properties": props}
			if len(required) > 0 {
				obj["required"] = required
			}
			s[name] = obj
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	panic(fmt.Sprintf("openapi: no schema for Go type %s", t))
}

// fields adds t's JSON fields as encoding/json sees them: embedded structs
// without a tag are flattened, "-" is skipped, omitempty and omitzero
// fields are optional.
func (s schemas) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			s.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = s.schemaOf(f.Type)
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}

var pathParam = regexp.MustCompile(`\{([a-z]+)\}`)

var queryDocs = map[string]string{
	"limit":           "Page size, 1 to 1000 (default 50).",
	"cursor":          "The nextCursor of the previous page.",
	"name":            "Only objects with this name.",
	"resourceVersion": "Delete only if the object still has this resourceVersion.",
	"format":          "json (default) or csv.",
	"force":           "true also deletes the virtual clusters inside (for a cluster profile: detaches it from the groups and virtual clusters that use it); without it, such a delete fails with 409.",
}

// OpenAPI returns the OpenAPI 3 document of routes.
func OpenAPI(routes []Route) map[string]any {
	s := schemas{}
	errRef := s.schemaOf(reflect.TypeFor[Error]())
	paths := map[string]any{}
	for _, rt := range routes {
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		query := rt.Query
		if rt.List {
			query = append([]string{"limit", "cursor"}, query...)
		}
		for _, q := range query {
			p := map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}}
			if q == "limit" || q == "resourceVersion" {
				p["schema"] = map[string]any{"type": "integer"}
			}
			if d, ok := queryDocs[q]; ok {
				p["description"] = d
			} else {
				p["description"] = "Only entries whose " + q + " is this."
			}
			params = append(params, p)
		}
		if rt.Method == http.MethodPost && !rt.Public {
			params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "schema": map[string]any{"type": "string", "maxLength": 255},
				"description": "Retrying with the same key and body returns the first result; the same key with another body is refused with 422."})
		}
		params = append(params, map[string]any{"name": "X-Request-Id", "in": "header", "schema": map[string]any{"type": "string"},
			"description": "Echoed in the response and logged; generated when absent."})
		perm := string(rt.Permission)
		if perm == "" {
			perm = "(any authenticated caller)"
		}
		description := fmt.Sprintf("Needs permission `%s` at %s scope.", perm, rt.Scope)
		if rt.Public {
			description = "Needs no API key: the route authenticates the caller itself."
		}
		op := map[string]any{
			"operationId":       rt.ID,
			"summary":           rt.Summary,
			"description":       description,
			"x-nest-permission": string(rt.Permission),
			"x-nest-scope":      string(rt.Scope),
			"parameters":        params,
		}
		if rt.Request != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": s.schemaOf(rt.Request)}}}
		}
		ok := map[string]any{"description": http.StatusText(rt.Status)}
		if rt.Response != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": s.schemaOf(rt.Response)}}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(rt.Status): ok,
			"default": map[string]any{"description": "An error", "content": map[string]any{
				"application/json": map[string]any{"schema": errRef}}},
		}
		if rt.Public {
			op["security"] = []any{}
		}
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "Nest hub API",
			"version":     "v1",
			"description": "The management plane of Nest: tenants, projects, users, teams, roles, role bindings, API keys, host clusters, cluster groups, cluster profiles, virtual clusters and the audit log. Generated from the hub's route table. Request bodies with unknown fields are refused with 400.",
		},
		"servers":    []any{map[string]any{"url": "/"}},
		"security":   []any{map[string]any{"apiKey": []any{}}},
		"paths":      paths,
		"components": map[string]any{"schemas": map[string]any(s), "securitySchemes": map[string]any{"apiKey": map[string]any{"type": "http", "scheme": "bearer", "description": "An API key: Authorization: Bearer nest_..."}}},
	}
}

// OpenAPIJSON is the document as indented JSON (keys sorted).
func OpenAPIJSON(routes []Route) ([]byte, error) {
	data, err := json.MarshalIndent(OpenAPI(routes), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the OpenAPI document: %w", err)
	}
	return append(data, '\n'), nil
}
