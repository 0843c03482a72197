package api_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/time/rate"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestAPI runs the behaviour cases against SQLite and PostgreSQL.
func TestAPI(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{
		{Name: "objects have resourceVersions and stale updates conflict", Run: withHub(testOptimisticConcurrency)},
		{Name: "concurrent updates never lose one", Run: withHub(testConcurrentUpdates)},
		{Name: "lists are paged with cursors and filtered", Run: withHub(testPaging)},
		{Name: "creates are idempotent with a key", Run: withHub(testIdempotency)},
		{Name: "api keys are shown once and can be revoked", Run: withHub(testAPIKeys)},
		{Name: "every change is audited without secrets", Run: withHub(testAudit)},
		{Name: "role bindings cannot escalate", Run: withHub(testNoEscalation)},
		{Name: "teams grant their roles to members", Run: withHub(testTeams)},
		{Name: "the last hub-admin stays", Run: withHub(testLastHubAdmin)},
	})
}

func testOptimisticConcurrency(t *testing.T, h *hub) {
	var tn store.Tenant
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "acme", "displayName": "Acme"}).must(t, 201).decode(t, &tn)
	if tn.ResourceVersion != 1 || tn.ID == "" {
		t.Fatalf("created %+v", tn)
	}
	path := "/api/v1/tenants/" + tn.ID
	h.do("PUT", path, h.admin, map[string]any{"displayName": "Acme 2", "resourceVersion": 1}).must(t, 200).decode(t, &tn)
	if tn.ResourceVersion != 2 || tn.DisplayName != "Acme 2" {
		t.Fatalf("updated %+v", tn)
	}
	e := h.do("PUT", path, h.admin, map[string]any{"displayName": "lost", "resourceVersion": 1}).must(t, 409).apiError(t)
	if e.Code != api.CodeConflict || e.Details["field"] != "resourceVersion" {
		t.Fatalf("stale update: %+v", e)
	}
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "acme"}).must(t, 409)
	h.do("DELETE", path+"?resourceVersion=1", h.admin, nil).must(t, 409)
	h.do("DELETE", path+"?resourceVersion=2", h.admin, nil).must(t, 204)
	h.do("GET", path, h.admin, nil).must(t, 404)
}

func testConcurrentUpdates(t *testing.T, h *hub) {
	var tn store.Tenant
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "race"}).must(t, 201).decode(t, &tn)
	const writers = 6
	statuses := make([]int, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.do("PUT", "/api/v1/tenants/"+tn.ID, h.admin, map[string]any{"displayName": fmt.Sprint(i), "resourceVersion": 1}).status
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case 200:
			won++
		case 409:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent updates of version 1 won: %v", won, writers, statuses)
	}
}

func testPaging(t *testing.T, h *hub) {
	var tn store.Tenant
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "t"}).must(t, 201).decode(t, &tn)
	for i := range 5 {
		h.do("POST", "/api/v1/tenants/"+tn.ID+"/projects", h.admin, map[string]any{"name": fmt.Sprint("p", i)}).must(t, 201)
	}
	var names []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var page store.Page[store.Project]
		h.do("GET", "/api/v1/tenants/"+tn.ID+"/projects?limit=2&cursor="+cursor, h.admin, nil).must(t, 200).decode(t, &page)
		for _, p := range page.Items {
			names = append(names, p.Name)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if strings.Join(names, ",") != "p0,p1,p2,p3,p4" {
		t.Fatalf("paged %v", names)
	}
	var page store.Page[store.Project]
	h.do("GET", "/api/v1/tenants/"+tn.ID+"/projects?name=p3", h.admin, nil).must(t, 200).decode(t, &page)
	if len(page.Items) != 1 || page.Items[0].Name != "p3" {
		t.Fatalf("filtered %+v", page.Items)
	}
	for _, q := range []string{"limit=0", "limit=x", "cursor=nope", "colour=red"} {
		e := h.do("GET", "/api/v1/tenants/"+tn.ID+"/projects?"+q, h.admin, nil).must(t, 400).apiError(t)
		if e.Details["field"] != strings.Split(q, "=")[0] {
			t.Errorf("?%s: %+v", q, e)
		}
	}
	// A project is only reachable under its own tenant.
	var other store.Tenant
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "other"}).must(t, 201).decode(t, &other)
	h.do("GET", "/api/v1/tenants/"+tn.ID+"/projects?name=p0", h.admin, nil).must(t, 200).decode(t, &page)
	h.do("GET", "/api/v1/tenants/"+other.ID+"/projects/"+page.Items[0].ID, h.admin, nil).must(t, 404)
}

func testIdempotency(t *testing.T, h *hub) {
	body := map[string]any{"name": "idem"}
	var first, second store.Tenant
	h.do("POST", "/api/v1/tenants", h.admin, body, "Idempotency-Key", "k1").must(t, 201).decode(t, &first)
	r := h.do("POST", "/api/v1/tenants", h.admin, body, "Idempotency-Key", "k1").must(t, 201)
	r.decode(t, &second)
	if first.ID != second.ID || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay gave %+v (header %q), want %+v", second, r.header.Get("Idempotent-Replayed"), first)
	}
	e := h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "other"}, "Idempotency-Key", "k1").must(t, 422).apiError(t)
	if e.Code != api.CodeIdempotencyMismatch {
		t.Fatalf("reuse: %+v", e)
	}
	// Without a key, the same body is a second create (and a name clash).
	h.do("POST", "/api/v1/tenants", h.admin, body).must(t, 409)
	// Concurrent twins with one key make one tenant.
	var wg sync.WaitGroup
	ids := make([]string, 4)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tn store.Tenant
			r := h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "twin"}, "Idempotency-Key", "k2")
			if r.status == 201 {
				r.decode(t, &tn)
			}
			ids[i] = fmt.Sprint(r.status, tn.ID)
		}()
	}
	wg.Wait()
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("concurrent creates with one key: %v", ids)
		}
	}
}

func testAPIKeys(t *testing.T, h *hub) {
	var created api.CreatedAPIKey
	h.do("POST", "/api/v1/apikeys", h.admin, map[string]any{"name": "ci"}).must(t, 201).decode(t, &created)
	if !strings.HasPrefix(created.Key, "nest_") || created.Prefix == "" {
		t.Fatalf("created %+v", created)
	}
	list := h.do("GET", "/api/v1/apikeys", created.Key, nil).must(t, 200)
	if strings.Contains(string(list.body), created.Key) || strings.Contains(string(list.body), auth.HashKey(created.Key)) {
		t.Fatalf("the list shows a secret: %s", list.body)
	}
	var me api.WhoAmI
	h.do("GET", "/api/v1/whoami", created.Key, nil).must(t, 200).decode(t, &me)
	if me.User.Name != auth.AdminUser || me.KeyID != created.ID || len(me.Grants) != 1 {
		t.Fatalf("whoami %+v", me)
	}
	h.do("POST", "/api/v1/apikeys", h.admin, map[string]any{"name": "old", "expiresAt": "2001-01-01T00:00:00Z"}).must(t, 400)
	h.do("DELETE", "/api/v1/apikeys/"+created.ID, h.admin, nil).must(t, 200)
	h.do("GET", "/api/v1/whoami", created.Key, nil).must(t, 401)
	h.do("GET", "/api/v1/whoami", h.admin, nil).must(t, 200)

	// An administrator gives a new user its first key; the user sees it
	// among its own and nobody else's keys.
	var ada store.User
	h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "ada"}).must(t, 201).decode(t, &ada)
	var tn store.Tenant
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "t"}).must(t, 201).decode(t, &tn)
	bind(t, h.s, "ada", auth.RoleProjectViewer, ada.ID, tn.ID, "")
	var adaKey api.CreatedAPIKey
	h.do("POST", "/api/v1/users/"+ada.ID+"/apikeys", h.admin, map[string]any{"name": "first"}).must(t, 201).decode(t, &adaKey)
	if adaKey.UserID != ada.ID {
		t.Fatalf("key for ada belongs to %s", adaKey.UserID)
	}
	var own store.Page[store.APIKey]
	h.do("GET", "/api/v1/apikeys", adaKey.Key, nil).must(t, 200).decode(t, &own)
	if len(own.Items) != 1 || own.Items[0].ID != adaKey.ID {
		t.Fatalf("ada's keys: %+v", own.Items)
	}
	h.do("DELETE", "/api/v1/apikeys/"+created.ID, adaKey.Key, nil).must(t, 404)
	h.do("DELETE", "/api/v1/users/"+ada.ID+"/apikeys/"+adaKey.ID, h.admin, nil).must(t, 200)
	h.do("GET", "/api/v1/whoami", adaKey.Key, nil).must(t, 401)
}

func testAudit(t *testing.T, h *hub) {
	var u store.User
	h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "bob", "password": "correct horse battery"},
		"X-Request-Id", "req-42").must(t, 201).decode(t, &u)
	h.do("PUT", "/api/v1/users/"+u.ID, h.admin, map[string]any{"email": "bob@example.com", "password": "another long secret", "resourceVersion": 1}).must(t, 200)
	h.do("POST", "/api/v1/apikeys", h.admin, map[string]any{"name": "audited"}).must(t, 201)

	r := h.do("GET", "/api/v1/audit?resourceId="+u.ID, h.admin, nil).must(t, 200)
	for _, secret := range []string{"correct horse", "another long", "argon2id", "nest_"} {
		if strings.Contains(string(r.body), secret) {
			t.Fatalf("audit log shows %q: %s", secret, r.body)
		}
	}
	var page store.Page[store.AuditEvent]
	r.decode(t, &page)
	if len(page.Items) != 2 || page.Items[0].Action != "user.create" || page.Items[0].RequestID != "req-42" ||
		page.Items[0].Principal != "user:admin" || page.Items[1].Before == nil || page.Items[1].After == nil {
		t.Fatalf("audit events %+v", page.Items)
	}
	csvResp := h.do("GET", "/api/v1/audit?format=csv&action=apikey.create", h.admin, nil).must(t, 200)
	rows, err := csv.NewReader(strings.NewReader(string(csvResp.body))).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][3] != "apikey.create" || strings.Contains(string(csvResp.body), "nest_") {
		t.Fatalf("csv export %q, %v", rows, err)
	}
	h.do("GET", "/api/v1/audit?format=xml", h.admin, nil).must(t, 400)

	// A tenant's audit log holds the tenant's own events, with the project
	// of project events, and nothing of other tenants.
	var tn, other store.Tenant
	var p store.Project
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "audited"}).must(t, 201).decode(t, &tn)
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "unrelated"}).must(t, 201).decode(t, &other)
	h.do("POST", "/api/v1/tenants/"+tn.ID+"/projects", h.admin, map[string]any{"name": "p"}).must(t, 201).decode(t, &p)
	var events store.Page[store.AuditEvent]
	h.do("GET", "/api/v1/tenants/"+tn.ID+"/audit", h.admin, nil).must(t, 200).decode(t, &events)
	if len(events.Items) != 2 || events.Items[0].Action != "tenant.create" || events.Items[1].ProjectID != p.ID {
		t.Fatalf("tenant audit %+v", events.Items)
	}
}

func testNoEscalation(t *testing.T, h *hub) {
	ctx := context.Background()
	var tn store.Tenant
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "t"}).must(t, 201).decode(t, &tn)
	ta, taKey := userWithKey(t, h.s, "ta")
	bind(t, h.s, "ta", auth.RoleTenantAdmin, ta.ID, tn.ID, "")
	other, _ := userWithKey(t, h.s, "other")
	path := "/api/v1/tenants/" + tn.ID + "/rolebindings"
	e := h.do("POST", path, taKey, map[string]any{"name": "up", "role": auth.RoleHubAdmin, "subjectKind": "user", "subjectId": other.ID}).must(t, 403).apiError(t)
	if e.Details["field"] != "role" {
		t.Fatalf("escalation error %+v", e)
	}
	h.do("POST", path, taKey, map[string]any{"name": "ok", "role": auth.RoleProjectEditor, "subjectKind": "user", "subjectId": other.ID}).must(t, 201)
	h.do("POST", path, taKey, map[string]any{"name": "bad", "role": "nope", "subjectKind": "user", "subjectId": other.ID}).must(t, 400)
	h.do("POST", path, taKey, map[string]any{"name": "bad", "role": auth.RoleProjectEditor, "subjectKind": "robot", "subjectId": other.ID}).must(t, 400)
	grants, err := h.s.Grants(ctx, other.ID)
	if err != nil || len(grants) != 1 {
		t.Fatalf("grants %+v, %v", grants, err)
	}
}

func testTeams(t *testing.T, h *hub) {
	var tn store.Tenant
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "t"}).must(t, 201).decode(t, &tn)
	var team store.Team
	h.do("POST", "/api/v1/tenants/"+tn.ID+"/teams", h.admin, map[string]any{"name": "devs"}).must(t, 201).decode(t, &team)
	dev, devKey := userWithKey(t, h.s, "dev")
	h.do("GET", "/api/v1/tenants/"+tn.ID, devKey, nil).must(t, 403)
	h.do("POST", "/api/v1/tenants/"+tn.ID+"/rolebindings", h.admin, map[string]any{"name": "devs", "role": auth.RoleTenantAdmin, "subjectKind": "team", "subjectId": team.ID}).must(t, 201)
	h.do("PUT", "/api/v1/tenants/"+tn.ID+"/teams/"+team.ID+"/members/"+dev.ID, h.admin, nil).must(t, 200)
	h.do("GET", "/api/v1/tenants/"+tn.ID, devKey, nil).must(t, 200)
	var members api.TeamMembers
	h.do("GET", "/api/v1/tenants/"+tn.ID+"/teams/"+team.ID+"/members", devKey, nil).must(t, 200).decode(t, &members)
	if len(members.Items) != 1 || members.Items[0].UserID != dev.ID {
		t.Fatalf("members %+v", members)
	}
	h.do("DELETE", "/api/v1/tenants/"+tn.ID+"/teams/"+team.ID+"/members/"+dev.ID, h.admin, nil).must(t, 204)
	h.do("GET", "/api/v1/tenants/"+tn.ID, devKey, nil).must(t, 403)
}

// TestRequests covers what every request goes through, on SQLite.
func TestRequests(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64)
	tests := []struct {
		name      string
		method    string
		path      string
		body      any
		status    int
		field     string
		anonymous bool
	}{
		{"unknown field", "POST", "/api/v1/tenants", `{"name":"a","colour":"red"}`, 400, "colour", false},
		{"wrong type", "POST", "/api/v1/tenants", `{"name":5}`, 400, "name", false},
		{"malformed", "POST", "/api/v1/tenants", `{"name":`, 400, "body", false},
		{"trailing data", "POST", "/api/v1/tenants", `{"name":"a"} {}`, 400, "body", false},
		{"empty body", "POST", "/api/v1/tenants", ``, 400, "body", false},
		{"missing name", "POST", "/api/v1/tenants", `{}`, 400, "name", false},
		{"bad name", "POST", "/api/v1/tenants", `{"name":"Not_OK"}`, 400, "name", false},
		{"long name", "POST", "/api/v1/tenants", `{"name":"` + long + `"}`, 400, "name", false},
		{"control characters", "POST", "/api/v1/tenants", `{"name":"a","displayName":"x\u0007"}`, 400, "displayName", false},
		{"bad email", "POST", "/api/v1/users", `{"name":"a","email":"nope"}`, 400, "email", false},
		{"short password", "POST", "/api/v1/users", `{"name":"a","password":"short"}`, 400, "password", false},
		{"unknown permission", "POST", "/api/v1/roles", `{"name":"a","permissions":["tenant.fly"]}`, 400, "permissions", false},
		{"missing resourceVersion", "PUT", "/api/v1/users/x", `{"email":"a@b.co"}`, 400, "resourceVersion", false},
		{"body on a get", "GET", "/api/v1/tenants", `{}`, 400, "body", false},
		{"unknown query parameter", "GET", "/api/v1/tenants?colour=red", nil, 400, "colour", false},
		{"too large", "POST", "/api/v1/tenants", `{"name":"a","displayName":"` + strings.Repeat("x", 2000) + `"}`, 413, "body", false},
		{"no key", "GET", "/api/v1/tenants", nil, 401, "", true},
		{"no route", "GET", "/api/v1/nothing", nil, 404, "", false},
		{"wrong method", "PATCH", "/api/v1/tenants", nil, 405, "", false},
		{"disable yourself", "PUT", "/api/v1/users/{admin}", `{"disabled":true,"resourceVersion":1}`, 400, "disabled", false},
		{"built-in role", "DELETE", "/api/v1/roles/{hub-admin}", nil, 400, "role", false},
		{"idempotency key on update", "PUT", "/api/v1/users/x", `{"resourceVersion":1}`, 400, "Idempotency-Key", false},
	}
	h := newHub(t, storetest.SQLite.Open(t), func(c *api.Config) { c.MaxBodyBytes = 1024 })
	hubAdmin, err := h.s.Roles.Find(context.Background(), map[string]string{"name": auth.RoleHubAdmin})
	mustDo(t, err)
	admin, err := h.s.Users.Find(context.Background(), map[string]string{"name": auth.AdminUser})
	mustDo(t, err)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := h.admin
			if tc.anonymous {
				key = ""
			}
			var headers []string
			if tc.field == "Idempotency-Key" {
				headers = []string{"Idempotency-Key", "k"}
			}
			path := strings.NewReplacer("{hub-admin}", hubAdmin.ID, "{admin}", admin.ID).Replace(tc.path)
			r := h.do(tc.method, path, key, tc.body, headers...).must(t, tc.status)
			e := r.apiError(t)
			if e.Code == "" || e.Message == "" || e.Details["field"] != tc.field {
				t.Fatalf("error %+v, want one naming field %q", e, tc.field)
			}
			if r.header.Get("X-Request-Id") == "" || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", r.header)
			}
		})
	}
}

func TestRequestIDHealthAndMetrics(t *testing.T) {
	t.Parallel()
	h := newHub(t, storetest.SQLite.Open(t))
	if id := h.do("GET", "/api/v1/whoami", h.admin, nil, "X-Request-Id", "abc-123").header.Get("X-Request-Id"); id != "abc-123" {
		t.Fatalf("request id %q not echoed", id)
	}
	if id := h.do("GET", "/api/v1/whoami", h.admin, nil, "X-Request-Id", "bad id\n").header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Fatalf("unsafe request id handled as %q", id)
	}
	if r := h.do("GET", "/healthz", "", nil).must(t, 200); string(r.body) != "ok\n" {
		t.Fatalf("healthz %q", r.body)
	}
	m := string(h.do("GET", "/metrics", "", nil).must(t, 200).body)
	for _, want := range []string{`nest_hub_http_requests_total{code="200",route="GET /api/v1/whoami"} 2`, "nest_hub_http_request_duration_seconds_bucket"} {
		if !strings.Contains(m, want) {
			t.Fatalf("metrics lack %q:\n%s", want, m)
		}
	}
}

func TestAuthRateLimit(t *testing.T) {
	t.Parallel()
	h := newHub(t, storetest.SQLite.Open(t), func(c *api.Config) { c.AuthFailures, c.AuthBurst = rate.Limit(1e-6), 3 })
	for i := range 3 {
		h.do("GET", "/api/v1/whoami", auth.NewKey(), nil).must(t, 401)
		_ = i
	}
	e := h.do("GET", "/api/v1/whoami", h.admin, nil).must(t, http.StatusTooManyRequests).apiError(t)
	if e.Code != api.CodeTooManyRequests || e.Details["retryAfterSeconds"] == "" {
		t.Fatalf("rate limit error %+v", e)
	}
}

func testLastHubAdmin(t *testing.T, h *hub) {
	var page store.Page[store.RoleBinding]
	h.do("GET", "/api/v1/rolebindings", h.admin, nil).must(t, 200).decode(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("global bindings %+v", page.Items)
	}
	first := page.Items[0]
	h.do("DELETE", "/api/v1/rolebindings/"+first.ID, h.admin, nil).must(t, 409)

	bob, bobKey := userWithKey(t, h.s, "bob")
	var second store.RoleBinding
	h.do("POST", "/api/v1/rolebindings", h.admin, map[string]any{"name": "bob-admin", "role": auth.RoleHubAdmin, "subjectKind": "user", "subjectId": bob.ID}).
		must(t, 201).decode(t, &second)
	h.do("DELETE", "/api/v1/rolebindings/"+first.ID, h.admin, nil).must(t, 204)
	// The admin is no hub-admin any more; bob is the last one and stays.
	h.do("GET", "/api/v1/users", h.admin, nil).must(t, 403)
	h.do("DELETE", "/api/v1/rolebindings/"+second.ID, bobKey, nil).must(t, 409)
	var admins store.Page[store.User]
	h.do("GET", "/api/v1/users?name=admin", bobKey, nil).must(t, 200).decode(t, &admins)
	h.do("DELETE", "/api/v1/users/"+admins.Items[0].ID, bobKey, nil).must(t, 204)
}
