package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/ui/uitest"
)

// uiProfile is a small manifest profile: a namespace and a ConfigMap.
const uiProfile = `{"name": "hello", "version": "1.0.0", "description": "A greeting",
 "layers": [{"name": "base", "kind": "manifests", "manifests": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hello\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n  namespace: hello\ndata:\n  greeting: hi\n"}]}`

// TestHubUIFullPath drives the web UI in headless Chromium against a real
// hub with its reconciler on the local host: sign in with the form,
// create a virtual cluster with a profile through the wizard (a bad name
// first shows its error), see it and its profile's layer become Ready and
// Applied without reloading, see its used resources, download its
// kubeconfig and use it with bin/kubectl, pause and resume, then delete;
// a project viewer sees no delete button and gets 403 from the API.
// Screenshots of each main page go to .tmp/ui-screenshots (git-ignored).
func TestHubUIFullPath(t *testing.T) {
	t.Parallel()
	if _, err := uitest.Chromium(); err != nil {
		t.Skipf("skipping the browser test: %v", err)
	}
	env := testenv.Get(t)
	h := startHub(t, t.TempDir(), auth.NewKey())
	_, vcs := hubSetup(t, h, env, map[string]any{"cpu": "2", "memory": "4Gi", "pods": "20"})
	parts := strings.Split(vcs, "/") // /tenants/T/projects/P/virtualclusters
	tenantID, projectID := parts[2], parts[4]
	var profile store.ClusterProfile
	if code := h.do("POST", "/clusterprofiles", json.RawMessage(uiProfile), &profile); code != 201 {
		t.Fatalf("upload the profile: %d", code)
	}
	// A project viewer with an API key.
	var viewer store.User
	h.must(201, "POST", "/users", map[string]any{"name": "viewer"}, &viewer)
	h.must(201, "POST", "/tenants/"+tenantID+"/projects/"+projectID+"/rolebindings",
		map[string]any{"name": "viewer", "role": auth.RoleProjectViewer, "subjectKind": "user", "subjectId": viewer.ID}, nil)
	var viewerKey struct{ Key string }
	h.must(201, "POST", "/users/"+viewer.ID+"/apikeys", map[string]any{"name": "ui"}, &viewerKey)

	shots := filepath.Join(testenv.RepoRoot(), ".tmp", "ui-screenshots")
	shot := func(tab context.Context, name string) {
		t.Helper()
		if err := uitest.Screenshot(tab, shots, name); err != nil {
			t.Fatal(err)
		}
	}
	// A deadlock guard only: the steps wait for the hub, not for a time.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bctx, stop, err := uitest.Browser(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	tab, closeTab := chromedp.NewContext(bctx)
	defer closeTab()
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(tab context.Context, what, script string) {
		t.Helper()
		waitPage(t, tab, what, script)
	}
	set := func(id, value string) chromedp.Action[chromedp.Void] {
		return uitest.Eval(fmt.Sprintf(`(c => { c.value = %q; c.dispatchEvent(new Event('input', {bubbles: true})); c.dispatchEvent(new Event('change', {bubbles: true})); })(document.getElementById(%q))`, value, id))
	}

	// Sign in with the form.
	run(chromedp.Navigate(h.url+"/"), chromedp.WaitVisible(chromedp.ID("apikey")))
	shot(tab, "signin")
	run(chromedp.SendKeys(chromedp.ID("apikey"), h.key+"\r"))
	wait(tab, "the fleet", `document.querySelector('main').dataset.loaded === 'true' && !!document.getElementById('new-vc')`)
	shot(tab, "fleet-empty")

	// The wizard: a bad name shows its error; then the cluster with the
	// profile.
	run(chromedp.Click(chromedp.ID("new-vc")))
	wait(tab, "the wizard", `document.activeElement.id === 'vc-name'`)
	run(chromedp.SendKeys(chromedp.ID("vc-name"), "Web UI\r"))
	wait(tab, "the name's error", `(e => !e.hidden && e.textContent.includes('lower-case'))(document.getElementById('vc-name-error'))`)
	shot(tab, "wizard-error")
	run(set("vc-name", "web-ui"), chromedp.Click(chromedp.ID("wizard-next")))
	wait(tab, "the version step", `document.activeElement.id === 'vc-version'`)
	run(chromedp.Click(chromedp.ID("wizard-next")))
	wait(tab, "the quota step", `document.activeElement.id === 'vc-cpu'`)
	run(set("vc-cpu", "1"), chromedp.Click(chromedp.ID("wizard-next")))
	box := "vc-p-" + profile.ID
	wait(tab, "the profiles step", `document.getElementById('`+box+`').offsetParent !== null`)
	run(chromedp.Click(chromedp.ID(box)), chromedp.Click(chromedp.ID("wizard-next")))
	wait(tab, "the review", `document.getElementById('vc-review').textContent.includes('hello latest')`)
	shot(tab, "wizard-review")
	start := time.Now()
	run(chromedp.Click(chromedp.ID("wizard-create")))
	wait(tab, "the cluster's page", `document.querySelector('main h1').textContent === 'web-ui' && !!document.getElementById('conditions')`)

	// Ready and its profile Applied, seen live through the hub's event
	// stream (the page polls only while it is down).
	wait(tab, "the live stream", `document.getElementById('live-state').dataset.state === 'live'`)
	wait(tab, "Ready", `document.querySelector('.facts .badge').textContent === 'Ready'`)
	t.Logf("the page showed Ready %s after Create", time.Since(start).Round(time.Second))
	wait(tab, "the profile applied", `(r => r && r.textContent.includes('Applied'))(document.querySelector('#profiles tr[data-layer="base"]'))`)
	// The hub records what the host counts against the quota.
	wait(tab, "the usage", `(r => r && /^\d+ of 20$/.test(r.lastChild.textContent))(document.querySelector('#usage tr[data-dim="pods"]'))`)
	// The reconciler reads the cluster's objects (the profile's ConfigMap
	// and each namespace's root CA) and events.
	wait(tab, "the synced objects", `(r => r && Number(r.children[1].textContent) >= 2)(document.querySelector('#objects-table tr[data-kind="ConfigMap"]'))`)
	shot(tab, "virtualcluster")
	vcID := eval(t, tab, `location.hash.split('/').pop()`)

	// The kubeconfig, downloaded by the button and used with kubectl.
	downloads := t.TempDir()
	run(chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := cdp.Call(ctx, chromedp.FromContext(tab).Browser, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
		return err
	}), chromedp.Click(chromedp.ID("kubeconfig")))
	kubeconfig := filepath.Join(downloads, "web-ui.kubeconfig")
	for {
		if data, err := os.ReadFile(kubeconfig); err == nil && strings.Contains(string(data), "current-context") {
			break
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if ctx.Err() != nil {
			t.Fatal("no kubeconfig downloaded")
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err := exec.Command(testenv.KubectlBinary(t), "--kubeconfig", kubeconfig, "get", "configmap", "greeting", "-n", "hello",
		"-o", "jsonpath={.data.greeting}").CombinedOutput()
	if err != nil || string(out) != "hi" {
		t.Fatalf("kubectl with the downloaded kubeconfig: %v: %s", err, out)
	}

	// Pause, then resume.
	run(chromedp.Click(chromedp.ID("pause")))
	wait(tab, "Paused", `document.querySelector('.facts .badge').textContent === 'Paused' && !!document.getElementById('resume')`)
	run(chromedp.Click(chromedp.ID("resume")))
	wait(tab, "Ready again", `document.querySelector('.facts .badge').textContent === 'Ready' && !!document.getElementById('pause')`)

	// The viewer: no delete button, and 403 from the API.
	vtab, closeV := chromedp.NewContext(bctx)
	defer closeV()
	route := "#/vc/" + tenantID + "/" + projectID + "/" + vcID
	if err := chromedp.Do(vtab, uitest.SignIn(h.url, viewerKey.Key, route)); err != nil {
		t.Fatal(err)
	}
	wait(vtab, "the viewer's page", `!!document.getElementById('conditions') && document.querySelector('main').dataset.loaded === 'true'`)
	if got := eval(t, vtab, `String(document.querySelectorAll('#vc-actions button').length)`); got != "0" {
		t.Fatalf("the viewer sees %s buttons", got)
	}
	shot(vtab, "virtualcluster-viewer")
	if got := eval(t, vtab, `fetch('/api/v1/tenants/`+tenantID+`/projects/`+projectID+`/virtualclusters/`+vcID+`?resourceVersion=1',
		{method: 'DELETE', headers: {Authorization: 'Bearer ' + sessionStorage.getItem('nest.apiKey')}}).then(r => String(r.status))`); got != fmt.Sprint(http.StatusForbidden) {
		t.Fatalf("the viewer's DELETE got %s, want 403", got)
	}

	// The other main pages, for their screenshots.
	for _, page := range []string{"", "profiles", "profiles/" + profile.ID, "hosts", "groups", "projects", "teams", "users", "roles", "bindings", "apikeys", "audit"} {
		run(chromedp.Navigate(h.url + "/#/" + page))
		wait(tab, "page "+page, `document.querySelector('main').dataset.loaded === 'true' && !document.querySelector('main [role=alert]')`)
		name := strings.ReplaceAll(page, "/"+profile.ID, "-detail")
		if name == "" {
			name = "fleet"
		}
		shot(tab, name)
	}
	run(chromedp.EmulateViewport(390, 844))
	shot(tab, "audit-narrow")
	run(chromedp.Navigate(h.url+"/#/"), chromedp.EmulateViewport(390, 844))
	wait(tab, "the fleet", `document.querySelector('main').dataset.loaded === 'true'`)
	shot(tab, "fleet-narrow")
	run(chromedp.EmulateViewport(1280, 900))

	// Delete: asked, then gone from the hub and the page.
	run(chromedp.Navigate(h.url + "/" + route))
	wait(tab, "the cluster's page", `!!document.getElementById('delete')`)
	run(chromedp.Click(chromedp.ID("delete")))
	wait(tab, "the confirmation", `document.getElementById('confirm').open`)
	shot(tab, "delete-dialog")
	run(chromedp.Click(chromedp.ID("confirm-ok")))
	wait(tab, "the cluster gone", `document.querySelector('main .facts, main p') && document.querySelector('main').textContent.includes('This virtual cluster is gone.')`)
	if code := h.do("GET", vcs+"/"+vcID, nil, nil); code != http.StatusNotFound {
		t.Fatalf("after the delete the hub answers %d", code)
	}
	t.Logf("screenshots in %s", shots)
}

// waitPage polls a script in the tab until it returns true. There is no
// time limit besides the test's deadlock guard: the hub's reconciler
// takes what it takes on a loaded machine.
func waitPage(t *testing.T, tab context.Context, what, script string) {
	t.Helper()
	last := time.Now()
	for {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](script))
		if err == nil && ok {
			return
		}
		if tab.Err() != nil {
			t.Fatalf("gave up waiting for %s: %v", what, tab.Err())
		}
		if time.Since(last) > 30*time.Second {
			last = time.Now()
			page, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('main').innerText.slice(0, 300)`))
			t.Logf("still waiting for %s: %s", what, strings.ReplaceAll(page, "\n", " | "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// eval runs a script for its string result.
func eval(t *testing.T, tab context.Context, script string) string {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return v
}
