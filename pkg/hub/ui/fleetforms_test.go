package ui_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/ui/uitest"
	"github.com/nestcluster/nest/pkg/profile"
)

const loadedJS = `document.querySelector('main').dataset.loaded === 'true'`

// shot saves a screenshot of the tab when NEST_UI_SCREENSHOTS names a
// directory.
func shot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	if dir := os.Getenv("NEST_UI_SCREENSHOTS"); dir != "" {
		if err := uitest.Screenshot(tab, dir, name); err != nil {
			t.Fatal(err)
		}
	}
}

// rowJS is true once the table with the id has a row headed name.
func rowJS(table, name string) string {
	return `[...document.querySelectorAll('#` + table + ` tbody th')].some(th => th.textContent === '` + name + `')`
}

// cellJS reads the cell under the column header of the row headed name.
func cellJS(table, name, column string) string {
	return `(() => { const t = document.getElementById('` + table + `'); const i = [...t.querySelectorAll('thead th')].findIndex(th => th.textContent === '` + column + `');
	  const r = [...t.querySelectorAll('tbody tr')].find(tr => tr.querySelector('th').textContent === '` + name + `'); return r ? r.children[i].textContent : ''; })()`
}

const hostKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:1
contexts:
- name: c
  context:
    cluster: c
    user: u
current-context: c
users:
- name: u
  user:
    token: t
`

// TestUIHostsAndGroups registers a host cluster from an uploaded
// kubeconfig, edits it, creates a cluster group with its quota, limits,
// endpoint and hosts, and edits the group after someone else changed it:
// each bad field shows its error (the UI's checks and the hub's
// details.field), and the lost race says so and keeps the input.
func TestUIHostsAndGroups(t *testing.T) {
	h, s, f := startHub(t, 2)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	ctx := context.Background()
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/hosts"))
	waitFor(t, tab, "the hosts page", loadedJS)
	// Placement and membership per host.
	if got := eval[string](t, tab, cellJS("hosts", "host-a", "Virtual clusters")+` + '|' + `+cellJS("hosts", "host-a", "Groups")); got != "1|pool" {
		t.Fatalf("host-a's virtual clusters and groups: %q", got)
	}

	// Register: required fields first, then a kubeconfig only the hub
	// can refuse (no current context), then one uploaded as a file.
	do(t, tab, chromedp.Click(chromedp.CSS(`#host-form summary`)), chromedp.Click(chromedp.ID("host-form-submit")))
	expectFieldError(t, tab, "host-name", "is required")
	noContext := strings.Replace(hostKubeconfig, "current-context: c\n", "", 1)
	do(t, tab, setValue("host-name", "host-c"), setValue("host-kubeconfig", noContext), chromedp.Click(chromedp.ID("host-form-submit")))
	expectFieldError(t, tab, "host-kubeconfig", "has no current context")
	file := filepath.Join(t.TempDir(), "host-c.kubeconfig")
	if err := os.WriteFile(file, []byte(hostKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, tab, setValue("host-kubeconfig", ""), chromedp.SetUploadFiles(chromedp.ID("host-kubeconfig-file"), []string{file}))
	waitFor(t, tab, "the uploaded kubeconfig", `document.getElementById('host-kubeconfig').value.includes('current-context: c')`)
	shot(t, tab, "host-register")
	do(t, tab, chromedp.Click(chromedp.ID("host-form-submit")))
	waitFor(t, tab, "the new host", rowJS("hosts", "host-c"))
	host, err := s.HostClusters.Find(ctx, map[string]string{"name": "host-c"})
	if err != nil {
		t.Fatal(err)
	}
	// Edit its description in the dialog (focus starts in it).
	do(t, tab, chromedp.Click(chromedp.CSS(`button[data-edit="host-c"]`)))
	waitFor(t, tab, "the edit dialog", `document.activeElement.id === 'hoste-description'`)
	do(t, tab, chromedp.SendKeys(chromedp.ID("hoste-description"), "rack 3"), chromedp.Click(chromedp.ID("edit-ok")))
	waitFor(t, tab, "the dialog to close", `!document.getElementById('edit').open`)
	if host, err = s.HostClusters.Get(ctx, host.ID); err != nil || host.Description != "rack 3" || host.KubeconfigEnc == "" {
		t.Fatalf("host-c after the edit: %+v, %v", host, err)
	}

	// Cluster groups.
	do(t, tab, chromedp.Navigate(h.URL+"/#/groups"))
	waitFor(t, tab, "the groups page", loadedJS)
	if got := eval[string](t, tab, cellJS("groups", "pool", "Health")+` + '|' + `+cellJS("groups", "pool", "Virtual clusters")); got != "2/2 hosts Ready|2 / no limit" {
		t.Fatalf("pool's health and placement: %q", got)
	}
	do(t, tab, chromedp.Click(chromedp.CSS(`#group-form summary`)))
	do(t, tab, setValue("group-name", "Bad_Name"), chromedp.Click(chromedp.ID("group-form-submit")))
	expectFieldError(t, tab, "group-name", "lower-case letters")
	do(t, tab, setValue("group-name", "gpu"), setValue("group-cpu", "lots"), chromedp.Click(chromedp.ID("group-form-submit")))
	expectFieldError(t, tab, "group-cpu", "must be a Kubernetes quantity")
	do(t, tab, setValue("group-cpu", "4"), setValue("group-memory", "8Gi"), setValue("group-over", "2000"), chromedp.Click(chromedp.ID("group-form-submit")))
	expectFieldError(t, tab, "group-over", "from 0 to 1000")
	// Only the hub reads nest.yaml: its error comes back at the field.
	do(t, tab, setValue("group-over", "50"), setValue("group-max", "3"), setValue("group-endpoint", "NodePort"),
		setValue("group-config", "nonsense: [1"), chromedp.Click(chromedp.ID("group-host-"+host.ID)), chromedp.Click(chromedp.ID("group-form-submit")))
	expectFieldError(t, tab, "group-config", "")
	do(t, tab, setValue("group-config", ""), chromedp.Click(chromedp.ID("group-form-submit")))
	waitFor(t, tab, "the new group", rowJS("groups", "gpu"))
	g, err := s.ClusterGroups.Find(ctx, map[string]string{"name": "gpu"})
	if err != nil {
		t.Fatal(err)
	}
	if g.Quota.CPU != "4" || g.Quota.Memory != "8Gi" || g.OversubscriptionPercent != 50 || g.MaxVirtualClusters != 3 ||
		g.EndpointType != store.EndpointNodePort || len(g.HostClusterIDs) != 1 || g.HostClusterIDs[0] != host.ID {
		t.Fatalf("created %+v", g)
	}

	// Edit after someone else changed the group: the dialog says so and
	// keeps the input; Reload, then Save writes it.
	do(t, tab, chromedp.Click(chromedp.CSS(`button[data-edit="gpu"]`)))
	waitFor(t, tab, "the edit dialog", `document.activeElement.id === 'groupe-description'`)
	do(t, tab, setValue("groupe-max", "7"))
	other := *g
	other.Description = "changed elsewhere"
	if err := s.ClusterGroups.Update(ctx, &other); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Click(chromedp.ID("edit-ok")))
	waitFor(t, tab, "the conflict", `(document.querySelector('#edit .stale') || {}).textContent?.includes('changed by someone else')`)
	shot(t, tab, "group-edit-conflict")
	if got := eval[string](t, tab, `document.getElementById('edit').open + ' ' + document.getElementById('groupe-max').value`); got != "true 7" {
		t.Fatalf("after the conflict the dialog (open, max) is %q", got)
	}
	do(t, tab, chromedp.Click(chromedp.CSS(`#edit [data-reload]`)))
	waitFor(t, tab, "the reload", `(document.querySelector('#edit .stale') || {}).textContent?.includes('Reloaded')`)
	do(t, tab, chromedp.Click(chromedp.ID("edit-ok")))
	waitFor(t, tab, "the dialog to close", `!document.getElementById('edit').open`)
	waitFor(t, tab, "the edited group", cellJS("groups", "gpu", "Virtual clusters")+` === '0 / 7'`)
	if g, err = s.ClusterGroups.Get(ctx, g.ID); err != nil || g.MaxVirtualClusters != 7 || g.ResourceVersion != other.ResourceVersion+1 {
		t.Fatalf("gpu after the edit: %+v, %v", g, err)
	}
	// A host that runs clusters of a group cannot leave it: the hub's
	// error is shown at the hosts.
	do(t, tab, chromedp.Click(chromedp.CSS(`button[data-edit="pool"]`)))
	waitFor(t, tab, "the edit dialog", `document.activeElement.id === 'groupe-description'`)
	do(t, tab, chromedp.Click(chromedp.ID("groupe-host-"+f.Hosts[0])), chromedp.Click(chromedp.ID("edit-ok")))
	expectFieldError(t, tab, "groupe-hosts", "still runs virtual clusters")
	do(t, tab, chromedp.KeyEvent("\x1b"))
	waitFor(t, tab, "Escape to close the dialog", `!document.getElementById('edit').open`)
}

// chartArchive is a packaged Helm chart with one ConfigMap.
func chartArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{
		"hello/Chart.yaml":        "apiVersion: v2\nname: hello\nversion: 0.1.0\n",
		"hello/values.yaml":       "greeting: hi\n",
		"hello/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hello\ndata:\n  greeting: {{ .Values.greeting | quote }}\n",
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestUIProfileUpload uploads a cluster profile with a manifests layer
// and a Helm layer (the chart archive picked as a file), with the field
// errors of the UI and of the hub, then a new version of it that first
// loses a race with another writer.
func TestUIProfileUpload(t *testing.T) {
	h, s, _ := startHub(t, 1)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	ctx := context.Background()
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/profiles"))
	waitFor(t, tab, "the profiles page", loadedJS)
	do(t, tab, chromedp.Click(chromedp.ID("pf-open")), chromedp.Click(chromedp.ID("pf-submit")))
	expectFieldError(t, tab, "pf-name", "is required")
	do(t, tab, setValue("pf-name", "netpol"), setValue("pf-version", "1.0.0"), setValue("pf-variables", "bad-name=1"), chromedp.Click(chromedp.ID("pf-submit")))
	expectFieldError(t, tab, "pf-variables", "is not a variable name")
	do(t, tab, setValue("pf-variables", "NS=team"), chromedp.Click(chromedp.ID("pf-submit")))
	expectFieldError(t, tab, "pf-layer-0-name", "is required")
	// A manifests layer that uses an undeclared variable: only the hub
	// renders it, and its error comes back at the layer's manifests.
	manifests := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS}-${MISSING}\n"
	do(t, tab, setValue("pf-layer-0-name", "base"), setValue("pf-layer-0-manifests", manifests))
	// A Helm layer: its chart is required, then picked as a file.
	do(t, tab, chromedp.Click(chromedp.ID("pf-add-layer")))
	waitFor(t, tab, "the new layer's name focused", `document.activeElement.id === 'pf-layer-1-name'`)
	do(t, tab, setValue("pf-layer-1-name", "app"), setValue("pf-layer-1-kind", "helm"), chromedp.Click(chromedp.ID("pf-submit")))
	expectFieldError(t, tab, "pf-layer-1-chart", "choose the chart")
	chart := chartArchive(t)
	file := filepath.Join(t.TempDir(), "hello-0.1.0.tgz")
	if err := os.WriteFile(file, chart, 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.SetUploadFiles(chromedp.ID("pf-layer-1-chart"), []string{file}), setValue("pf-layer-1-values", "greeting: hello\n"))
	waitFor(t, tab, "the chosen chart", `document.getElementById('pf-layer-1-chart-state').textContent.includes('bytes')`)
	do(t, tab, chromedp.Click(chromedp.ID("pf-submit")))
	expectFieldError(t, tab, "pf-layer-0-manifests", "MISSING")
	shot(t, tab, "profile-upload-error")
	do(t, tab, setValue("pf-layer-0-manifests", strings.ReplaceAll(manifests, "-${MISSING}", "")), chromedp.Click(chromedp.ID("pf-submit")))
	waitFor(t, tab, "the new profile's page", `location.hash.startsWith('#/profiles/') && document.querySelector('main h1').textContent === 'netpol'`)
	p, err := s.ClusterProfiles.Find(ctx, map[string]string{"name": "netpol"})
	if err != nil {
		t.Fatal(err)
	}
	var spec profile.Profile
	if err := json.Unmarshal(p.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	if p.Version != "1.0.0" || spec.Variables["NS"] != "team" || len(spec.Layers) != 2 || spec.Layers[1].Kind != profile.KindHelm ||
		!bytes.Equal(spec.Layers[1].Chart.Archive, chart) || spec.Layers[1].Values != "greeting: hello\n" {
		t.Fatalf("uploaded %s %+v", p.Version, spec)
	}

	// A new version, starting from the current one: a taken version is
	// refused, then another writer moves the profile first.
	waitFor(t, tab, "the profile page", loadedJS)
	do(t, tab, chromedp.Click(chromedp.ID("pf-open")))
	if got := eval[string](t, tab, `document.getElementById('pf-layer-0-manifests').value`); !strings.Contains(got, "${NS}") {
		t.Fatalf("the new version does not start from the current one: %q", got)
	}
	do(t, tab, setValue("pf-version", "1.0.0"), chromedp.Click(chromedp.ID("pf-submit")))
	expectFieldError(t, tab, "pf-version", "already has version 1.0.0")
	do(t, tab, setValue("pf-version", "1.1.0"), setValue("pf-variables", "NS=platform"))
	other := *p
	other.Description = "changed elsewhere"
	if err := s.ClusterProfiles.Update(ctx, &other); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Click(chromedp.ID("pf-submit")))
	waitFor(t, tab, "the conflict", `(document.querySelector('#profile-form .stale') || {}).textContent?.includes('changed by someone else')`)
	if got := eval[string](t, tab, `document.getElementById('pf-version').value + ' ' + document.getElementById('pf-variables').value`); got != "1.1.0 NS=platform" {
		t.Fatalf("after the conflict the form holds %q", got)
	}
	do(t, tab, chromedp.Click(chromedp.CSS(`#profile-form [data-reload]`)))
	waitFor(t, tab, "the reload", `(document.querySelector('#profile-form .stale') || {}).textContent?.includes('Reloaded')`)
	do(t, tab, chromedp.Click(chromedp.ID("pf-submit")))
	waitFor(t, tab, "the new version", `(document.getElementById('pf-done') || {}).textContent?.includes('1.1.0')`)
	waitFor(t, tab, "the diff of the variable", `document.getElementById('diff').textContent.includes('+ NS=platform')`)
	if p, err = s.ClusterProfiles.Get(ctx, p.ID); err != nil || p.Version != "1.1.0" {
		t.Fatalf("netpol after the new version: %+v, %v", p, err)
	}
}

// TestUIEditAccess edits a project's display name, a user's e-mail and
// password, a team's description after someone else changed it, and a
// custom role's permissions (an unknown one refused by the hub at the
// field), each in the edit dialog with the resourceVersion read.
func TestUIEditAccess(t *testing.T) {
	h, s, f := startHub(t, 1)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	ctx := context.Background()
	team := &store.Team{Meta: store.Meta{Name: "sre"}, TenantID: f.Tenant, Description: "on call"}
	if err := s.Teams.Create(ctx, team); err != nil {
		t.Fatal(err)
	}
	role := &store.Role{Meta: store.Meta{Name: "reader"}, Permissions: []string{"virtualcluster.get"}}
	if err := s.Roles.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	save := chromedp.Click(chromedp.ID("edit-ok"))
	closed := `!document.getElementById('edit').open`

	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/projects"))
	waitFor(t, tab, "the projects page", loadedJS)
	do(t, tab, chromedp.Click(chromedp.CSS(`button[data-edit="web"]`)))
	waitFor(t, tab, "the edit dialog", `document.activeElement.id === 'projecte-display'`)
	do(t, tab, chromedp.SendKeys(chromedp.ID("projecte-display"), "Web shop"), save)
	waitFor(t, tab, "the new display name", cellJS("projects", "web", "Display name")+` === 'Web shop'`)

	do(t, tab, chromedp.Navigate(h.URL+"/#/users"))
	waitFor(t, tab, "the users page", loadedJS)
	do(t, tab, chromedp.Click(chromedp.CSS(`button[data-edit="viewer"]`)))
	waitFor(t, tab, "the edit dialog", `document.activeElement.id === 'usere-email'`)
	do(t, tab, setValue("usere-password", "short"), save)
	expectFieldError(t, tab, "usere-password", "12 to 256")
	do(t, tab, setValue("usere-password", "a long enough password"), setValue("usere-email", "viewer@example.com"), save)
	waitFor(t, tab, "the new e-mail", cellJS("users", "viewer", "Email")+` === 'viewer@example.com'`)
	if u, err := s.Users.Find(ctx, map[string]string{"name": "viewer"}); err != nil || u.PasswordHash == "" {
		t.Fatalf("viewer after the edit: %+v, %v", u, err)
	}

	do(t, tab, chromedp.Navigate(h.URL+"/#/teams"))
	waitFor(t, tab, "the teams page", loadedJS)
	do(t, tab, chromedp.Click(chromedp.CSS(`button[data-edit="sre"]`)))
	waitFor(t, tab, "the edit dialog", `document.activeElement.id === 'teame-description'`)
	do(t, tab, setValue("teame-description", "platform on call"))
	other := *team
	other.Description = "changed elsewhere"
	if err := s.Teams.Update(ctx, &other); err != nil {
		t.Fatal(err)
	}
	do(t, tab, save)
	waitFor(t, tab, "the conflict", `(document.querySelector('#edit .stale') || {}).textContent?.includes('changed by someone else')`)
	// Reload shows their change in the table behind, and keeps the input.
	do(t, tab, chromedp.Click(chromedp.CSS(`#edit [data-reload]`)))
	waitFor(t, tab, "their change in the table", cellJS("teams", "sre", "Description")+` === 'changed elsewhere'`)
	if got := eval[string](t, tab, `document.getElementById('teame-description').value`); got != "platform on call" {
		t.Fatalf("after Reload the field holds %q", got)
	}
	do(t, tab, save)
	waitFor(t, tab, "the dialog to close", closed)
	waitFor(t, tab, "the saved description", cellJS("teams", "sre", "Description")+` === 'platform on call'`)

	do(t, tab, chromedp.Navigate(h.URL+"/#/roles"))
	waitFor(t, tab, "the roles page", loadedJS)
	do(t, tab, chromedp.Click(chromedp.CSS(`button[data-edit="reader"]`)))
	waitFor(t, tab, "the edit dialog", `document.activeElement.id === 'rolee-description'`)
	do(t, tab, setValue("rolee-permissions", "virtualcluster.get\nvirtualcluster.fly"), save)
	expectFieldError(t, tab, "rolee-permissions", "virtualcluster.fly")
	do(t, tab, setValue("rolee-permissions", "virtualcluster.get\nvirtualcluster.list"), save)
	waitFor(t, tab, "the dialog to close", closed)
	if r, err := s.Roles.Get(ctx, role.ID); err != nil || len(r.Permissions) != 2 {
		t.Fatalf("reader after the edit: %+v, %v", r, err)
	}
}
