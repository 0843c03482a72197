package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// testProfile is a valid profile body: one manifests layer with a variable.
func testProfile(name, version string) map[string]any {
	return map[string]any{"name": name, "version": version, "description": "test",
		"variables": map[string]string{"REPLICAS": "1"},
		"layers": []map[string]any{{"name": "base", "kind": "manifests",
			"manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  replicas: \"${REPLICAS}\"\n"}}}
}

// storeProfile stores a profile with one version straight in the store.
func storeProfile(t *testing.T, s *store.Store, name, version string) string {
	t.Helper()
	spec, err := json.Marshal(testProfile(name, version))
	mustDo(t, err)
	p := &store.ClusterProfile{Meta: store.Meta{Name: name}, Version: version, Spec: spec}
	mustDo(t, s.ClusterProfiles.Create(context.Background(), p))
	mustDo(t, s.AddProfileVersion(context.Background(), &store.ClusterProfileVersion{ProfileID: p.ID, Version: version, Spec: spec}))
	return p.ID
}

// TestClusterProfilesAPI runs the cluster profile cases against SQLite and
// PostgreSQL.
func TestClusterProfilesAPI(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{
		{Name: "bad profiles name the field", Run: withHub(testProfileValidation)},
		{Name: "versions are appended and immutable", Run: withHub(testProfileVersionsAPI)},
		{Name: "references are checked", Run: withHub(testProfileRefsAPI)},
		{Name: "an attached profile is deleted only with force", Run: withHub(testProfileDeleteForce)},
	})
}

func testProfileValidation(t *testing.T, h *hub) {
	with := func(mutate func(p map[string]any)) map[string]any {
		p := testProfile("p", "1")
		mutate(p)
		return p
	}
	layer := func(p map[string]any) map[string]any { return p["layers"].([]map[string]any)[0] }
	tests := []struct {
		name      string
		body      any
		wantField string
	}{
		{"no name", with(func(p map[string]any) { delete(p, "name") }), "name"},
		{"bad name", with(func(p map[string]any) { p["name"] = "Bad_Name" }), "name"},
		{"no version", with(func(p map[string]any) { delete(p, "version") }), "version"},
		{"no layers", with(func(p map[string]any) { p["layers"] = []any{} }), "layers"},
		{"unknown layer kind", with(func(p map[string]any) { layer(p)["kind"] = "kustomize" }), "layers[0].kind"},
		{"helm layer without chart", with(func(p map[string]any) { layer(p)["kind"] = "helm"; delete(layer(p), "manifests") }), "layers[0].chart"},
		{"chart directory", with(func(p map[string]any) {
			p["layers"] = []map[string]any{{"name": "h", "kind": "helm", "chart": map[string]any{"dir": "/tmp/chart"}}}
		}), "layers[0].chart.dir"},
		{"undeclared variable", with(func(p map[string]any) { p["variables"] = map[string]string{} }), "layers[0].manifests"},
		{"bad variable name", with(func(p map[string]any) { p["variables"] = map[string]string{"1X": "", "REPLICAS": "1"} }), "variables"},
		{"broken YAML", with(func(p map[string]any) { layer(p)["manifests"] = "a: [" }), "layers[0].manifests"},
		{"unknown field", with(func(p map[string]any) { p["chart"] = "x" }), "chart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := h.do("POST", "/api/v1/clusterprofiles", h.admin, tc.body).must(t, 400).apiError(t)
			if e.Details["field"] != tc.wantField {
				t.Fatalf("field %q, want %q: %s", e.Details["field"], tc.wantField, e.Message)
			}
		})
	}
	// Chart archives are bigger than the API's default body limit allows.
	big := testProfile("big", "1")
	big["description"] = "x"
	big["layers"] = []map[string]any{{"name": "h", "kind": "helm", "chart": map[string]any{"archive": make([]byte, 2<<20)}}}
	r := h.do("POST", "/api/v1/clusterprofiles", h.admin, big)
	if r.status == 413 {
		t.Fatalf("a 2 MiB chart archive was refused as too large: %s", r.body)
	}
	huge := testProfile("huge", "1")
	huge["layers"] = []map[string]any{{"name": "h", "kind": "helm", "chart": map[string]any{"archive": make([]byte, 7<<20)}}}
	h.do("POST", "/api/v1/clusterprofiles", h.admin, huge).must(t, 413)
}

func testProfileVersionsAPI(t *testing.T, h *hub) {
	var p store.ClusterProfile
	h.do("POST", "/api/v1/clusterprofiles", h.admin, testProfile("cicd", "1.0.0")).must(t, 201).decode(t, &p)
	if p.Version != "1.0.0" || len(p.Spec) == 0 {
		t.Fatalf("created %+v", p)
	}
	h.do("POST", "/api/v1/clusterprofiles", h.admin, testProfile("cicd", "2")).must(t, 409)
	path := "/api/v1/clusterprofiles/" + p.ID

	var page store.Page[store.ClusterProfile]
	h.do("GET", "/api/v1/clusterprofiles?name=cicd", h.admin, nil).must(t, 200).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Spec != nil {
		t.Fatalf("list: %+v", page)
	}

	upd := testProfile("cicd", "1.0.0")
	upd["resourceVersion"] = p.ResourceVersion
	e := h.do("PUT", path, h.admin, upd).must(t, 409).apiError(t)
	if e.Details["field"] != "version" {
		t.Fatalf("same version: %+v", e)
	}
	upd = testProfile("cicd", "1.1.0")
	h.do("PUT", path, h.admin, upd).must(t, 400) // no resourceVersion
	upd["resourceVersion"] = p.ResourceVersion + 5
	h.do("PUT", path, h.admin, upd).must(t, 409)
	renamed := testProfile("other", "1.1.0")
	renamed["resourceVersion"] = p.ResourceVersion
	h.do("PUT", path, h.admin, renamed).must(t, 400)
	upd["resourceVersion"] = p.ResourceVersion
	upd["description"] = "second"
	var p2 store.ClusterProfile
	h.do("PUT", path, h.admin, upd).must(t, 200).decode(t, &p2)
	if p2.Version != "1.1.0" || p2.Description != "second" || p2.ResourceVersion != p.ResourceVersion+1 {
		t.Fatalf("updated %+v", p2)
	}

	var vs struct{ Items []store.ClusterProfileVersion }
	h.do("GET", path+"/versions", h.admin, nil).must(t, 200).decode(t, &vs)
	if len(vs.Items) != 2 || vs.Items[0].Version != "1.0.0" || vs.Items[1].Version != "1.1.0" {
		t.Fatalf("versions %+v", vs.Items)
	}
	var v store.ClusterProfileVersion
	h.do("GET", path+"/versions/1.0.0", h.admin, nil).must(t, 200).decode(t, &v)
	var spec struct{ Version, Description string }
	mustDo(t, json.Unmarshal(v.Spec, &spec))
	if spec.Version != "1.0.0" || spec.Description != "test" {
		t.Fatalf("version 1.0.0 spec: %s", v.Spec)
	}
	h.do("GET", path+"/versions/9", h.admin, nil).must(t, 404)

	// Audit events carry the profile without its layers.
	var events store.Page[store.AuditEvent]
	h.do("GET", "/api/v1/audit?resource=clusterprofile", h.admin, nil).must(t, 200).decode(t, &events)
	if len(events.Items) != 2 || strings.Contains(string(events.Items[1].After), "manifests") {
		t.Fatalf("audit events: %+v", events.Items)
	}
}

func testProfileRefsAPI(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "1"}, "8")
	var p store.ClusterProfile
	h.do("POST", "/api/v1/clusterprofiles", h.admin, testProfile("cicd", "1")).must(t, 201).decode(t, &p)
	tests := []struct {
		name      string
		refs      []map[string]any
		wantField string
	}{
		{"unknown profile", []map[string]any{{"profileId": "nope"}}, "profiles[0].profileId"},
		{"unknown version", []map[string]any{{"profileId": p.ID, "version": "7"}}, "profiles[0].version"},
		{"undeclared variable", []map[string]any{{"profileId": p.ID, "variables": map[string]string{"TYPO": "1"}}}, "profiles[0].variables"},
		{"twice", []map[string]any{{"profileId": p.ID}, {"profileId": p.ID}}, "profiles[1].profileId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group, "profiles": tc.refs}).must(t, 400).apiError(t)
			if e.Details["field"] != tc.wantField {
				t.Fatalf("vc: field %q, want %q: %s", e.Details["field"], tc.wantField, e.Message)
			}
			e = h.do("POST", "/api/v1/clustergroups", h.admin, map[string]any{"name": "g2", "profiles": tc.refs}).must(t, 400).apiError(t)
			if e.Details["field"] != tc.wantField {
				t.Fatalf("group: field %q, want %q: %s", e.Details["field"], tc.wantField, e.Message)
			}
		})
	}
	ref := []map[string]any{{"profileId": p.ID, "version": "1", "variables": map[string]string{"REPLICAS": "3"}}}
	var vc store.VirtualCluster
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group, "profiles": ref}).must(t, 201).decode(t, &vc)
	want := []store.ProfileRef{{ProfileID: p.ID, Version: "1", Variables: map[string]string{"REPLICAS": "3"}}}
	if fmt.Sprint(vc.Profiles) != fmt.Sprint(want) {
		t.Fatalf("vc profiles %+v", vc.Profiles)
	}
	var g store.ClusterGroup
	h.do("GET", "/api/v1/clustergroups/"+f.group, h.admin, nil).must(t, 200).decode(t, &g)
	h.do("PUT", "/api/v1/clustergroups/"+f.group, h.admin, map[string]any{"resourceVersion": g.ResourceVersion,
		"hostClusterIds": g.HostClusterIDs, "quota": g.Quota, "profiles": []map[string]any{{"profileId": p.ID}}}).must(t, 200).decode(t, &g)
	if len(g.Profiles) != 1 || g.Profiles[0].ProfileID != p.ID {
		t.Fatalf("group profiles %+v", g.Profiles)
	}
	// Changing the group's profiles reaches its virtual clusters.
	found := false
	for _, c := range h.fleet.changed() {
		found = found || c == "virtualcluster/"+vc.ID
	}
	if !found {
		t.Fatalf("virtual cluster %s not enqueued after the group's profiles changed: %v", vc.ID, h.fleet.changed())
	}
	// A new version of the profile reaches every virtual cluster.
	before := len(h.fleet.changed())
	upd := testProfile("cicd", "2")
	upd["resourceVersion"] = p.ResourceVersion
	h.do("PUT", "/api/v1/clusterprofiles/"+p.ID, h.admin, upd).must(t, 200)
	if after := h.fleet.changed()[before:]; len(after) != 1 || after[0] != "virtualcluster/"+vc.ID {
		t.Fatalf("enqueued after a new profile version: %v", after)
	}
	// The pinned version stays valid; an override checked against it.
	var got store.VirtualCluster
	h.do("GET", f.vcs+"/"+vc.ID, h.admin, nil).must(t, 200).decode(t, &got)
	h.do("PUT", f.vcs+"/"+vc.ID, h.admin, map[string]any{"resourceVersion": got.ResourceVersion,
		"profiles": []map[string]any{{"profileId": p.ID, "version": "2", "variables": map[string]string{"NOPE": "1"}}}}).must(t, 400)
}

func testProfileDeleteForce(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "1"}, "8")
	var p store.ClusterProfile
	h.do("POST", "/api/v1/clusterprofiles", h.admin, testProfile("cicd", "1")).must(t, 201).decode(t, &p)
	var vc store.VirtualCluster
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group, "profiles": []map[string]any{{"profileId": p.ID}}}).
		must(t, 201).decode(t, &vc)
	path := "/api/v1/clusterprofiles/" + p.ID
	e := h.do("DELETE", path, h.admin, nil).must(t, 409).apiError(t)
	if !strings.Contains(e.Message, "virtual cluster dev") {
		t.Fatalf("409 message: %s", e.Message)
	}
	h.do("DELETE", path+"?force=maybe", h.admin, nil).must(t, 400)
	h.do("DELETE", path+"?force=true", h.admin, nil).must(t, 204)
	h.do("GET", path, h.admin, nil).must(t, 404)
	var got store.VirtualCluster
	h.do("GET", f.vcs+"/"+vc.ID, h.admin, nil).must(t, 200).decode(t, &got)
	if len(got.Profiles) != 0 || got.Generation != vc.Generation+1 {
		t.Fatalf("after force delete: profiles %+v generation %d", got.Profiles, got.Generation)
	}
}
