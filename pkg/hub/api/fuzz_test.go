package api

import (
	"net/http"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder of every request type of
// the route table: it must never panic, and must either accept the body or
// answer a 400 that names a field. `go test` runs the seed corpus;
// `go test -fuzz FuzzDecode ./pkg/hub/api` explores.
func FuzzDecode(f *testing.F) {
	var types []reflect.Type
	seen := map[reflect.Type]bool{}
	for _, rt := range Routes() {
		if rt.Request != nil && !seen[rt.Request] {
			seen[rt.Request] = true
			types = append(types, rt.Request)
		}
	}
	seeds := []string{
		`{"name":"acme","displayName":"Acme"}`,
		`{"name":"bob","email":"bob@example.com","password":"correct horse battery"}`,
		`{"displayName":"x","resourceVersion":3}`,
		`{"name":"r","permissions":["project.get","virtualcluster.kubeconfig"]}`,
		`{"name":"b","role":"project-viewer","subjectKind":"team","subjectId":"0123"}`,
		`{"name":"k","expiresAt":"2100-01-01T00:00:00Z"}`,
		`{"name":"k","expiresAt":"yesterday"}`,
		`{"name":"\u0000"}`, `{"name":5}`, `{"resourceVersion":-1}`, `{"permissions":{}}`,
		`[]`, `null`, `{`, ``, `{"a":1}`, `{"name":"a"}{"name":"b"}`, "\xff\xfe",
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		typ := types[int(which)%len(types)]
		dst := reflect.New(typ).Interface()
		e := decode(body, dst)
		if e == nil {
			return
		}
		if e.Status != http.StatusBadRequest || e.Code != CodeInvalidArgument || e.Details["field"] == "" || e.Message == "" {
			t.Fatalf("decode %s of %q: %+v", typ, body, e)
		}
	})
}
