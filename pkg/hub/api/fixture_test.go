package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/secrets"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// hub is an API over a store, with the admin's key.
type hub struct {
	t       *testing.T
	s       *store.Store
	handler http.Handler
	admin   string
	fleet   *testFleet
}

// withHub adapts a case on a hub to storetest's cases on a store.
func withHub(run func(*testing.T, *hub)) func(*testing.T, *store.Store) {
	return func(t *testing.T, s *store.Store) { run(t, newHub(t, s)) }
}

func newHub(t *testing.T, s *store.Store, mutate ...func(*api.Config)) *hub {
	t.Helper()
	ctx := context.Background()
	if err := auth.EnsureBuiltinRoles(ctx, s); err != nil {
		t.Fatal(err)
	}
	key, err := auth.Bootstrap(ctx, s, "")
	if err != nil {
		t.Fatal(err)
	}
	box, err := secrets.New(bytes.Repeat([]byte{42}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	fleet := &testFleet{}
	// Event streams end at once here (the permission tests call every
	// route): TestEventStream keeps its own open.
	cfg := api.Config{Store: s, Secrets: box, Fleet: fleet, StreamMaxAge: time.Millisecond}
	for _, m := range mutate {
		m(&cfg)
	}
	a, err := api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &hub{t: t, s: s, handler: a.Handler(), admin: key, fleet: fleet}
}

// testFleet stands in for the reconciler: it records the changes it is
// told of and hands out a fixed kubeconfig.
type testFleet struct {
	mu      sync.Mutex
	changes []string
}

const testVCKubeconfig = "apiVersion: v1\nkind: Config\n# test virtual cluster\n"

func (f *testFleet) Changed(resource, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, resource+"/"+id)
}

func (f *testFleet) Kubeconfig(context.Context, *store.VirtualCluster) ([]byte, error) {
	return []byte(testVCKubeconfig), nil
}

func (f *testFleet) changed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.changes...)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) apiError(t *testing.T) api.Error {
	t.Helper()
	var e api.Error
	r.decode(t, &e)
	return e
}

// do sends a request with key; body is JSON-encoded unless it is a string.
func (h *hub) do(method, path, key string, body any, headers ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// must fails unless the response has status want.
func (r response) must(t *testing.T, want int) response {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.body)
	}
	return r
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// userWithKey makes a user and an API key for it.
func userWithKey(t *testing.T, s *store.Store, name string) (*store.User, string) {
	t.Helper()
	ctx := context.Background()
	u := &store.User{Meta: store.Meta{Name: name}}
	mustDo(t, s.Users.Create(ctx, u))
	key := auth.NewKey()
	prefix, hash, _ := auth.SplitKey(key)
	mustDo(t, s.APIKeys.Create(ctx, &store.APIKey{Meta: store.Meta{Name: "k"}, UserID: u.ID, Prefix: prefix, KeyHash: hash}))
	return u, key
}

// bind binds a role (by name) to a user at a scope.
func bind(t *testing.T, s *store.Store, name, role, userID, tenantID, projectID string) *store.RoleBinding {
	t.Helper()
	ctx := context.Background()
	r, err := s.Roles.Find(ctx, map[string]string{"name": role})
	mustDo(t, err)
	rb := &store.RoleBinding{Meta: store.Meta{Name: name}, TenantID: tenantID, ProjectID: projectID, RoleID: r.ID,
		SubjectKind: store.SubjectUser, SubjectID: userID}
	mustDo(t, s.RoleBindings.Create(ctx, rb))
	return rb
}

// testHostKubeconfig is a well-formed host kubeconfig; nothing listens at
// its server.
const testHostKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: host
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: secret-host-token-1234
contexts:
- name: host
  context: {cluster: host, user: admin}
current-context: host
`
