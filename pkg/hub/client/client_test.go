package client_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

func newClient(t *testing.T, key string) *client.Client {
	t.Helper()
	h := hub(t)
	c, err := client.New(client.Config{URL: h.URL, APIKey: key, CACert: h.CACert, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func admin(t *testing.T) *client.Client { return newClient(t, hub(t).AdminKey) }

func newTenant(t *testing.T, c *client.Client) *store.Tenant {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-", " ", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[len(name)-50:]
	}
	name = strings.Trim(name, "-")
	tn, err := c.CreateTenant(context.Background(), api.CreateTenantRequest{Name: "t-" + name})
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	return tn
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  client.Config
		want string
	}{
		{"no url", client.Config{APIKey: "k"}, "URL is required"},
		{"bad scheme", client.Config{URL: "ftp://x", APIKey: "k"}, "want https://"},
		{"no key", client.Config{URL: "https://x"}, "API key is required"},
		{"bad CA", client.Config{URL: "https://x", APIKey: "k", CACert: []byte("nope")}, "no PEM certificate"},
		{"ok", client.Config{URL: "https://x:8443/", APIKey: "k"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.New(tc.cfg)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error about %q", err, tc.want)
			}
			if tc.cfg.APIKey != "" && strings.Contains(err.Error(), tc.cfg.APIKey+"\"") {
				t.Fatal("the error shows the key")
			}
		})
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	h := hub(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		cfg     client.Config
		wantErr string
	}{
		{"pinned CA", client.Config{CACert: h.CACert}, ""},
		{"insecure", client.Config{Insecure: true}, ""},
		{"unknown CA", client.Config{}, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.cfg.URL, tc.cfg.APIKey, tc.cfg.Retries = h.URL, h.AdminKey, -1
			c, err := client.New(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			w, err := c.WhoAmI(ctx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("WhoAmI = %v, want an error about %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || w.User.Name != "admin" {
				t.Fatalf("WhoAmI = %+v, %v", w, err)
			}
		})
	}
}

func TestProjectLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := admin(t)
	tn := newTenant(t, c)

	key := client.NewIdempotencyKey()
	p, err := c.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "web", DisplayName: "Web"}, client.WithIdempotencyKey(key))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "web", DisplayName: "Web"}, client.WithIdempotencyKey(key))
	if err != nil || again.ID != p.ID {
		t.Fatalf("replayed create = %+v, %v; want project %s again", again, err, p.ID)
	}
	_, err = c.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "other"}, client.WithIdempotencyKey(key))
	if e := client.AsError(err); e == nil || e.Code != client.CodeIdempotencyMismatch || e.Status != 422 {
		t.Fatalf("reused key with another body = %v", err)
	}
	if _, err := c.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "web"}); !client.IsAlreadyExists(err) || !client.IsConflict(err) {
		t.Fatalf("second project named web = %v", err)
	}

	got, err := c.GetProject(ctx, tn.ID, p.ID)
	if err != nil || got.DisplayName != "Web" || got.TenantID != tn.ID {
		t.Fatalf("GetProject = %+v, %v", got, err)
	}
	up, err := c.UpdateProject(ctx, tn.ID, p.ID, api.UpdateProjectRequest{DisplayName: "Web shop", ResourceVersion: got.ResourceVersion})
	if err != nil || up.DisplayName != "Web shop" || up.ResourceVersion <= got.ResourceVersion {
		t.Fatalf("UpdateProject = %+v, %v", up, err)
	}
	// The version read before the update is stale now.
	_, err = c.UpdateProject(ctx, tn.ID, p.ID, api.UpdateProjectRequest{DisplayName: "lost", ResourceVersion: got.ResourceVersion})
	if !client.IsConflict(err) || client.AsError(err).Field() != "resourceVersion" {
		t.Fatalf("stale update = %v", err)
	}
	if err := c.DeleteProject(ctx, tn.ID, p.ID, got.ResourceVersion); !client.IsConflict(err) {
		t.Fatalf("stale delete = %v", err)
	}
	if err := c.DeleteProject(ctx, tn.ID, p.ID, up.ResourceVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetProject(ctx, tn.ID, p.ID); !client.IsNotFound(err) {
		t.Fatalf("deleted project: %v", err)
	}
	// Audit names what happened, under the caller's request ids.
	events, err := client.All(ctx, client.ListOptions{Filters: map[string]string{"resourceId": p.ID}},
		func(ctx context.Context, o client.ListOptions) (store.Page[store.AuditEvent], error) {
			return c.ListAudit(ctx, tn.ID, o)
		})
	if err != nil || len(events) != 3 {
		t.Fatalf("audit of the project = %d events, %v; want create, update, delete", len(events), err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := admin(t)
	tn := newTenant(t, c)
	p, err := c.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	// A viewer of the project, with its own key.
	u, err := c.CreateUser(ctx, api.CreateUserRequest{Name: "viewer-" + tn.ID[len(tn.ID)-8:]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRoleBinding(ctx, client.Scope{TenantID: tn.ID, ProjectID: p.ID},
		api.CreateRoleBindingRequest{Name: "viewer", Role: "project-viewer", SubjectKind: "user", SubjectID: u.ID}); err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateAPIKey(ctx, u.ID, api.CreateAPIKeyRequest{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	viewer := newClient(t, k.Key)
	bad, err := client.New(client.Config{URL: hub(t).URL, APIKey: "nest_" + strings.Repeat("A", 43), CACert: hub(t).CACert})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		call      func() error
		is        func(error) bool
		status    int
		field     string
		inMessage string
	}{
		{"bad name", func() error {
			_, err := c.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "Not_A_Label"})
			return err
		}, client.IsInvalid, 400, "name", ""},
		{"unknown permission", func() error {
			_, err := c.CreateRole(ctx, api.CreateRoleRequest{Name: "r", Permissions: []string{"project.fly"}})
			return err
		}, client.IsInvalid, 400, "permissions", ""},
		{"viewer cannot update", func() error {
			_, err := viewer.UpdateProject(ctx, tn.ID, p.ID, api.UpdateProjectRequest{DisplayName: "x", ResourceVersion: p.ResourceVersion})
			return err
		}, client.IsForbidden, 403, "", "project.update"},
		{"viewer reads", func() error {
			_, err := viewer.GetProject(ctx, tn.ID, p.ID)
			return err
		}, func(err error) bool { return err == nil }, 0, "", ""},
		{"unknown key", func() error {
			_, err := bad.WhoAmI(ctx)
			return err
		}, client.IsUnauthenticated, 401, "", ""},
		{"not found", func() error {
			_, err := c.GetTeam(ctx, tn.ID, "0000000000000000000000000000")
			return err
		}, client.IsNotFound, 404, "", ""},
		{"other tenant's project", func() error {
			_, err := c.GetProject(ctx, "0000000000000000000000000000", p.ID)
			return err
		}, client.IsNotFound, 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !tc.is(err) {
				t.Fatalf("error = %v", err)
			}
			if err == nil {
				return
			}
			e := client.AsError(err)
			if e.Status != tc.status || e.Field() != tc.field || e.RequestID == "" || !strings.Contains(e.Message, tc.inMessage) {
				t.Fatalf("error = %+v, want status %d, field %q, a request id, %q in the message", e, tc.status, tc.field, tc.inMessage)
			}
			if strings.Contains(err.Error(), k.Key) || strings.Contains(err.Error(), hub(t).AdminKey) {
				t.Fatal("the error shows an API key")
			}
		})
	}
}

func TestTeamsRolesBindingsKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := admin(t)
	tn := newTenant(t, c)
	p, err := c.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.CreateUser(ctx, api.CreateUserRequest{Name: "dev-" + tn.ID[len(tn.ID)-8:]})
	if err != nil {
		t.Fatal(err)
	}
	team, err := c.CreateTeam(ctx, tn.ID, api.CreateTeamRequest{Name: "devs", Description: "Developers"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddTeamMember(ctx, tn.ID, team.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	members, err := c.ListTeamMembers(ctx, tn.ID, team.ID)
	if err != nil || len(members) != 1 || members[0].UserID != u.ID {
		t.Fatalf("members = %+v, %v", members, err)
	}
	role, err := c.CreateRole(ctx, api.CreateRoleRequest{Name: "reader-" + tn.ID[len(tn.ID)-8:], Permissions: []string{"project.get", "project.list"}})
	if err != nil {
		t.Fatal(err)
	}
	role, err = c.UpdateRole(ctx, role.ID, api.UpdateRoleRequest{Description: "Reads", Permissions: []string{"project.get"}, ResourceVersion: role.ResourceVersion})
	if err != nil || len(role.Permissions) != 1 {
		t.Fatalf("UpdateRole = %+v, %v", role, err)
	}

	scopes := []struct {
		name  string
		scope client.Scope
		kind  string
		subj  string
	}{
		{"global", client.Global, "user", u.ID},
		{"tenant", client.Scope{TenantID: tn.ID}, "team", team.ID},
		{"project", client.Scope{TenantID: tn.ID, ProjectID: p.ID}, "user", u.ID},
	}
	for _, s := range scopes {
		t.Run("bindings/"+s.name, func(t *testing.T) {
			name := "b-" + s.name + "-" + tn.ID[len(tn.ID)-8:]
			b, err := c.CreateRoleBinding(ctx, s.scope, api.CreateRoleBindingRequest{Name: name, Role: role.Name, SubjectKind: s.kind, SubjectID: s.subj})
			if err != nil {
				t.Fatal(err)
			}
			if b.TenantID != s.scope.TenantID || b.ProjectID != s.scope.ProjectID || b.RoleID != role.ID {
				t.Fatalf("binding = %+v", b)
			}
			page, err := c.ListRoleBindings(ctx, s.scope, client.ListOptions{Filters: map[string]string{"name": name}})
			if err != nil || len(page.Items) != 1 || page.Items[0].ID != b.ID {
				t.Fatalf("list = %+v, %v", page, err)
			}
			if _, err := c.GetRoleBinding(ctx, s.scope, b.ID); err != nil {
				t.Fatal(err)
			}
			if err := c.DeleteRoleBinding(ctx, s.scope, b.ID, b.ResourceVersion); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetRoleBinding(ctx, s.scope, b.ID); !client.IsNotFound(err) {
				t.Fatalf("deleted binding: %v", err)
			}
		})
	}

	t.Run("api keys", func(t *testing.T) {
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		k, err := c.CreateAPIKey(ctx, u.ID, api.CreateAPIKeyRequest{Name: "ci", ExpiresAt: exp})
		if err != nil || !strings.HasPrefix(k.Key, "nest_") || !k.ExpiresAt.Equal(exp) {
			t.Fatalf("CreateAPIKey = %+v, %v", k, err)
		}
		got, err := c.GetAPIKey(ctx, u.ID, k.ID)
		if err != nil || got.Prefix != k.Prefix {
			t.Fatalf("GetAPIKey = %+v, %v", got, err)
		}
		if _, err := c.GetAPIKey(ctx, u.ID, "0000000000000000000000000000"); !client.IsNotFound(err) {
			t.Fatalf("GetAPIKey of an unknown key = %v", err)
		}
		own := newClient(t, k.Key)
		if w, err := own.WhoAmI(ctx); err != nil || w.User.ID != u.ID || w.KeyID != k.ID {
			t.Fatalf("WhoAmI with the new key = %+v, %v", w, err)
		}
		revoked, err := c.RevokeAPIKey(ctx, u.ID, k.ID)
		if err != nil || revoked.RevokedAt.IsZero() {
			t.Fatalf("RevokeAPIKey = %+v, %v", revoked, err)
		}
		if _, err := own.WhoAmI(ctx); !client.IsUnauthenticated(err) {
			t.Fatalf("a revoked key still works: %v", err)
		}
	})

	if err := c.RemoveTeamMember(ctx, tn.ID, team.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRole(ctx, role.ID, 0); err != nil {
		t.Fatal(err)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := admin(t)
	tn := newTenant(t, c)
	for i := range 5 {
		if _, err := c.CreateTeam(ctx, tn.ID, api.CreateTeamRequest{Name: fmt.Sprintf("team-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := c.ListTeams(ctx, tn.ID, client.ListOptions{Limit: 2})
	if err != nil || len(first.Items) != 2 || first.NextCursor == "" {
		t.Fatalf("first page = %+v, %v", first, err)
	}
	all, err := client.All(ctx, client.ListOptions{Limit: 2}, func(ctx context.Context, o client.ListOptions) (store.Page[store.Team], error) {
		return c.ListTeams(ctx, tn.ID, o)
	})
	if err != nil || len(all) != 5 || all[0].Name != "team-0" || all[4].Name != "team-4" {
		t.Fatalf("All = %d teams, %v", len(all), err)
	}
	one, err := c.ListTeams(ctx, tn.ID, client.ListOptions{Filters: map[string]string{"name": "team-3"}})
	if err != nil || len(one.Items) != 1 {
		t.Fatalf("filtered = %+v, %v", one, err)
	}
	if _, err := c.ListTeams(ctx, tn.ID, client.ListOptions{Cursor: "bogus"}); !client.IsInvalid(err) || client.AsError(err).Field() != "cursor" {
		t.Fatalf("bad cursor = %v", err)
	}
}

// TestRetries checks that only requests safe to repeat are retried, and
// that a retried create sends the same Idempotency-Key.
func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		call      func(*client.Client) error
		failFirst int
		wantCalls int
		wantErr   bool
	}{
		{"get retried", func(c *client.Client) error { _, err := c.GetTenant(context.Background(), "x"); return err }, 2, 3, false},
		{"create retried", func(c *client.Client) error {
			_, err := c.CreateTenant(context.Background(), api.CreateTenantRequest{Name: "x"})
			return err
		}, 1, 2, false},
		{"update not retried", func(c *client.Client) error {
			_, err := c.UpdateTenant(context.Background(), "x", api.UpdateTenantRequest{ResourceVersion: 1})
			return err
		}, 1, 1, true},
		{"gives up", func(c *client.Client) error { _, err := c.GetTenant(context.Background(), "x"); return err }, 5, 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			calls := 0
			keys := map[string]bool{}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				calls++
				n := calls
				if k := r.Header.Get("Idempotency-Key"); k != "" {
					keys[k] = true
				}
				mu.Unlock()
				if r.Header.Get("Authorization") != "Bearer k" {
					t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
				}
				if n <= tc.failFirst {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"id":"x","name":"x","resourceVersion":1}`))
			}))
			defer srv.Close()
			c, err := client.New(client.Config{URL: srv.URL, APIKey: "k"})
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("call = %v", err)
			}
			if tc.wantErr && client.AsError(err) == nil {
				t.Fatalf("error %v is not a *client.Error", err)
			}
			if calls != tc.wantCalls || len(keys) > 1 {
				t.Fatalf("%d calls with %d idempotency keys, want %d calls and at most one key", calls, len(keys), tc.wantCalls)
			}
		})
	}
}

// TestCreateRetryAfterLostResponse puts a proxy in front of the hub that
// lets the first create through but loses its response, as a timeout
// would: the client's retry gets the same object, and the hub holds one.
func TestCreateRetryAfterLostResponse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := admin(t)
	tn := newTenant(t, c)
	target, err := url.Parse(hub(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a test proxy to the test hub
	var mu sync.Mutex
	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.Method == http.MethodPost {
			posts++
		}
		first := r.Method == http.MethodPost && posts == 1
		mu.Unlock()
		if first {
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r)                  // the hub makes the project...
			w.WriteHeader(http.StatusGatewayTimeout) // ...and the answer is lost
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	viaProxy, err := client.New(client.Config{URL: srv.URL, APIKey: hub(t).AdminKey})
	if err != nil {
		t.Fatal(err)
	}
	p, err := viaProxy.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "once"})
	if err != nil {
		t.Fatalf("create through a lossy proxy: %v", err)
	}
	page, err := c.ListProjects(ctx, tn.ID, client.ListOptions{})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != p.ID || posts != 2 {
		t.Fatalf("after %d POSTs the tenant has %+v, %v; want only project %s", posts, page.Items, err, p.ID)
	}
}
