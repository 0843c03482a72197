package ui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/pkg/hub/hubtest"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/ui/uitest"
)

// startHub runs a real hub without its reconciler (the seeded statuses
// stay as written) and seeds count virtual clusters through its store.
func startHub(t *testing.T, count int) (*hubtest.Hub, *store.Store, *uitest.Fleet) {
	t.Helper()
	h := hubtest.Run(t, func(c *server.Config) { c.NoReconciler = true })
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(h.DataDir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f, err := uitest.Seed(ctx, s, count)
	if err != nil {
		t.Fatalf("seed the hub: %v", err)
	}
	return h, s, f
}

// browserOrSkip starts headless Chromium, or skips the test without one.
func browserOrSkip(t *testing.T) context.Context {
	t.Helper()
	if _, err := uitest.Chromium(); err != nil {
		t.Skipf("skipping the browser test: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	bctx, stop, err := uitest.Browser(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return bctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, script string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return v
}

// waitFor polls a script until it returns true.
func waitFor(t *testing.T, ctx context.Context, what, script string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script)); err == nil && ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + ' | ' + document.querySelector('main').innerText.slice(0, 600)`))
	t.Fatalf("timed out waiting for %s (%s); the page: %s", what, script, page)
}

var clearSearch = Eval(`(s => { s.value = ''; s.dispatchEvent(new Event('input')); })(document.getElementById('search'))`)

const rowsJS = `document.querySelectorAll('#vcs tbody tr[data-id]').length`

// TestUIAdminFlow signs in as the bootstrap admin and goes through the
// fleet: counts, search, a cluster's page, its kubeconfig, pause, delete.
func TestUIAdminFlow(t *testing.T) {
	h, s, f := startHub(t, 12)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()

	// Sign-in: the key field has focus, and Tab reaches the button.
	do(t, tab, chromedp.Navigate(h.URL+"/"), chromedp.WaitVisible(chromedp.ID("apikey")))
	// The password form is there exactly when the hub serves POST /login.
	if !eval[bool](t, tab, `fetch('/api/v1/openapi.json').then(r => r.json()).then(d => new Promise(done => setTimeout(() =>
		done(!!d.paths['/api/v1/login'] === !!document.getElementById('password-form')), 500)))`) {
		t.Fatal("the password form and the hub's login route disagree")
	}
	if id := eval[string](t, tab, `document.activeElement.id`); id != "apikey" {
		t.Fatalf("focus is on %q, want the API key field", id)
	}
	do(t, tab, chromedp.KeyEvent("\t"))
	if id := eval[string](t, tab, `document.activeElement.id`); id != "signin" {
		t.Fatalf("Tab moved focus to %q, want the sign-in button", id)
	}
	// A wrong key is refused with a message.
	do(t, tab, chromedp.SendKeys(chromedp.ID("apikey"), "nest_wrong"), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.CSS(`#signin-status [role=alert]`)))
	do(t, tab, Eval(`document.getElementById("apikey").value = ""`), chromedp.SendKeys(chromedp.ID("apikey"), h.AdminKey), chromedp.KeyEvent("\r"))

	// The fleet: every cluster, counted per state.
	waitFor(t, tab, "the fleet table", rowsJS+` === 12`)
	counts := eval[map[string]string](t, tab, `Object.fromEntries([...document.querySelectorAll('.counts button')].map(b => [b.dataset.phase, b.querySelector('.count-n').textContent]))`)
	want := map[string]string{"all": "12"}
	for _, vc := range f.VirtualClusters {
		n := 0
		fmt.Sscan(want[vc.Status.Phase], &n)
		want[vc.Status.Phase] = fmt.Sprint(n + 1)
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", counts, want)
	}
	if headers := eval[string](t, tab, `document.querySelector('#nav').textContent`); !strings.Contains(headers, "Users") || !strings.Contains(headers, "Host clusters") {
		t.Fatalf("the admin's navigation lacks pages: %q", headers)
	}

	// Search narrows the table; a state button filters by phase.
	do(t, tab, chromedp.SendKeys(chromedp.ID("search"), "vc-0003"))
	waitFor(t, tab, "the search", rowsJS+` === 1`)
	do(t, tab, clearSearch, chromedp.SendKeys(chromedp.ID("search"), "data"))
	waitFor(t, tab, "the search by project", rowsJS+` === 6`)
	do(t, tab, clearSearch,
		chromedp.Click(chromedp.CSS(`.counts button[data-phase="Paused"]`)))
	waitFor(t, tab, "the Paused filter", rowsJS+` === 2`)
	do(t, tab, chromedp.Click(chromedp.CSS(`.counts button[data-phase="all"]`)))
	waitFor(t, tab, "all states again", rowsJS+` === 12`)

	// Open vc-0001 (Ready, in project web).
	vc := f.VirtualClusters[0]
	do(t, tab, chromedp.Click(chromedp.CSS(`#vcs tr[data-id="`+vc.ID+`"] a`)), chromedp.WaitVisible(chromedp.ID("conditions")))
	if title := eval[string](t, tab, `document.querySelector('main h1').textContent`); title != vc.Name {
		t.Fatalf("the page is titled %q, want %q", title, vc.Name)
	}
	if n := eval[int](t, tab, `document.querySelectorAll('#conditions tbody tr').length`); n != 2 {
		t.Fatalf("%d conditions shown, want 2", n)
	}

	// Kubeconfig: the request reaches the hub with the key; without a
	// reconciler the hub has no control plane to ask and answers 409,
	// which the page shows. Then the test answers the same request with a
	// kubeconfig, and the browser saves the file.
	downloads := t.TempDir()
	do(t, tab, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := cdp.Call(ctx, chromedp.FromContext(tab).Browser, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
		return err
	}))
	do(t, tab, chromedp.Click(chromedp.ID("kubeconfig")))
	waitFor(t, tab, "the hub's answer", `(document.querySelector('#action-status [role=alert]') || {}).textContent?.includes('no reconciler')`)
	answered := interceptKubeconfig(t, tab, "apiVersion: v1\nkind: Config\n# seeded\n")
	do(t, tab, chromedp.Click(chromedp.ID("kubeconfig")))
	select {
	case got := <-answered:
		if got.status != http.StatusConflict || got.auth != "Bearer "+h.AdminKey {
			t.Fatalf("kubeconfig request: hub status %d, authorization sent: %t", got.status, got.auth == "Bearer "+h.AdminKey)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the kubeconfig button sent no request")
	}
	file := filepath.Join(downloads, vc.Name+".kubeconfig")
	waitForFile(t, file, "# seeded")

	// Pause sends the PUT: the store says paused and the button turns
	// to Resume. The reconciler writing the status meanwhile (a new
	// resourceVersion, the same generation) does not stop it.
	cur, err := s.VirtualClusters.Get(context.Background(), vc.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Status.Message = "a status write between the page's read and the click"
	if err := s.VirtualClusters.Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Click(chromedp.ID("pause")))
	waitFor(t, tab, "the Resume button", `document.getElementById('resume') !== null`)
	if got, err := s.VirtualClusters.Get(context.Background(), vc.ID); err != nil || !got.Paused || got.Generation != 2 {
		t.Fatalf("after Pause the store has paused=%v generation=%v (%v)", got.Paused, got.Generation, err)
	}

	// Delete asks first: Cancel keeps the cluster, Delete sends DELETE.
	do(t, tab, chromedp.Click(chromedp.ID("delete")))
	waitFor(t, tab, "the confirmation", `document.getElementById('confirm').open`)
	if id := eval[string](t, tab, `document.activeElement.id`); id != "confirm-cancel" {
		t.Fatalf("the dialog put focus on %q, want Cancel", id)
	}
	do(t, tab, chromedp.Click(chromedp.ID("confirm-cancel")))
	if got, _ := s.VirtualClusters.Get(context.Background(), vc.ID); got.Deleting {
		t.Fatal("Cancel deleted the cluster")
	}
	do(t, tab, chromedp.Click(chromedp.ID("delete")), chromedp.Click(chromedp.ID("confirm-ok")))
	waitFor(t, tab, "the delete", `document.getElementById('delete') === null`)
	if got, err := s.VirtualClusters.Get(context.Background(), vc.ID); err != nil || !got.Deleting {
		t.Fatalf("after Delete the store has deleting=%v (%v)", got.Deleting, err)
	}
	// The audit events of the cluster are on its page.
	waitFor(t, tab, "the audit events", `[...document.querySelectorAll('#events td')].some(td => td.textContent === 'virtualcluster.delete')`)
}

type kubeconfigRequest struct {
	status int
	auth   string
}

// interceptKubeconfig lets the next kubeconfig request reach the hub,
// reports the hub's status and the request's Authorization header, and
// answers the page with kubeconfig instead.
func interceptKubeconfig(t *testing.T, tab context.Context, kubeconfig string) <-chan kubeconfigRequest {
	t.Helper()
	ctx, stop := context.WithCancel(tab)
	t.Cleanup(stop)
	events := chromedp.Events(ctx, fetch.RequestPaused)
	do(t, tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: "*/kubeconfig", RequestStage: fetch.RequestStageResponse}}})
		return err
	}))
	out := make(chan kubeconfigRequest, 1)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			body, _ := json.Marshal(map[string]string{"virtualClusterId": "seeded", "kubeconfig": kubeconfig})
			auth := ""
			if ev.Request != nil {
				if v, ok := ev.Request.Headers["Authorization"].(string); ok {
					auth = v
				}
			}
			_ = chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: ev.RequestID, ResponseCode: 200,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}}, Body: body})
				return err
			}))
			out <- kubeconfigRequest{status: int(ev.ResponseStatusCode), auth: auth}
			stop()
			return
		}
	}()
	return out
}

func waitForFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		data, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(data), want) {
			return
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	t.Fatalf("no download %s with %q (the folder has %v)", path, want, entries)
}

// Eval is uitest.Eval, shorter.
func Eval(script string) chromedp.Action[chromedp.Void] { return uitest.Eval(script) }

// TestUIViewer signs in as a project viewer: the fleet shows only that
// project's clusters, and a cluster's page has no buttons to change it.
func TestUIViewer(t *testing.T) {
	h, _, f := startHub(t, 12)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	do(t, tab, uitest.SignIn(h.URL, f.ViewerKey, "#/"))
	waitFor(t, tab, "the fleet table", rowsJS+` === 6`)
	if nav := eval[string](t, tab, `document.querySelector('#nav').textContent`); strings.Contains(nav, "Users") || strings.Contains(nav, "Host clusters") || strings.Contains(nav, "Audit") {
		t.Fatalf("the viewer's navigation shows admin pages: %q", nav)
	}
	vc := f.VirtualClusters[0]
	do(t, tab, chromedp.Click(chromedp.CSS(`#vcs tr[data-id="`+vc.ID+`"] a`)), chromedp.WaitVisible(chromedp.ID("conditions")))
	buttons := eval[[]string](t, tab, `[...document.querySelectorAll('#vc-actions button')].map(b => b.id)`)
	if len(buttons) != 0 {
		t.Fatalf("the viewer sees the buttons %v", buttons)
	}
	// The API refuses it regardless of what the page shows.
	status := eval[int](t, tab, `fetch('/api/v1/tenants/`+vc.TenantID+`/projects/`+vc.ProjectID+`/virtualclusters/`+vc.ID+`?resourceVersion=1',
		{method: 'DELETE', headers: {Authorization: 'Bearer ' + sessionStorage.getItem('nest.apiKey')}}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Fatalf("the viewer's DELETE got %d, want 403", status)
	}
}

// TestUICataloguePages opens every catalogue page as the admin: each
// loads its table without an error, and a new API key is shown once.
func TestUICataloguePages(t *testing.T) {
	h, _, _ := startHub(t, 3)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/"))
	waitFor(t, tab, "the fleet table", rowsJS+` === 3`)
	tests := []struct {
		route, table string
		minRows      int
	}{
		{"projects", "projects", 2},
		{"teams", "teams", 0},
		{"users", "users", 2},
		{"roles", "roles", 6},
		{"apikeys", "apikeys", 1},
		{"hosts", "hosts", 2},
		{"groups", "groups", 1},
		{"audit", "audit", 0},
		{"bindings", "bindings", 2},
		{"profiles", "profiles", 1},
	}
	for _, tc := range tests {
		t.Run(tc.route, func(t *testing.T) {
			do(t, tab, chromedp.Navigate(h.URL+"/#/"+tc.route))
			waitFor(t, tab, "the page", `document.querySelector('main').dataset.loaded === 'true'`)
			if alert := eval[string](t, tab, `(document.querySelector('main [role=alert]') || {}).textContent || ''`); alert != "" {
				t.Fatalf("the page shows an error: %s", alert)
			}
			if n := eval[int](t, tab, `document.querySelectorAll('#`+tc.table+` tbody tr').length`); n < tc.minRows {
				t.Fatalf("%d rows, want at least %d", n, tc.minRows)
			}
		})
	}
	do(t, tab, chromedp.Navigate(h.URL+"/#/apikeys"))
	waitFor(t, tab, "the API keys page", `document.querySelector('main').dataset.loaded === 'true'`)
	do(t, tab, chromedp.SendKeys(chromedp.ID("key-name"), "ci"), chromedp.KeyEvent("\r"))
	waitFor(t, tab, "the new key", `(document.querySelector('code.secret') || {}).textContent?.startsWith('nest_')`)
	waitFor(t, tab, "the new key in the list", `document.querySelectorAll('#apikeys tbody tr').length === 2`)
}
