package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/ui/uitest"
)

// fieldErrorJS reads the error shown next to the control with the id
// (empty when none is shown).
func fieldErrorJS(id string) string {
	return fmt.Sprintf(`(e => e && !e.hidden ? e.textContent : '')(document.getElementById(%q))`, id+"-error")
}

// setValue sets a control's value as a user would (with its events).
func setValue(id, value string) chromedp.Action[chromedp.Void] {
	return Eval(fmt.Sprintf(`(c => { c.value = %q; c.dispatchEvent(new Event('input', {bubbles: true})); c.dispatchEvent(new Event('change', {bubbles: true})); })(document.getElementById(%q))`, value, id))
}

// expectFieldError waits for the error of a field, checks it says want,
// that the control is marked invalid and holds the focus.
func expectFieldError(t *testing.T, tab context.Context, id, want string) {
	t.Helper()
	waitFor(t, tab, "the error of "+id, fieldErrorJS(id)+` !== ''`)
	if got := eval[string](t, tab, fieldErrorJS(id)); !strings.Contains(got, want) {
		t.Fatalf("the error of %s says %q, want %q", id, got, want)
	}
	if got := eval[string](t, tab, fmt.Sprintf(`document.getElementById(%q).getAttribute('aria-invalid') + ' ' + document.activeElement.id`, id)); got != "true "+id {
		t.Fatalf("%s: aria-invalid and focus are %q", id, got)
	}
}

// TestUICreateWizard goes through the create wizard as the admin, by
// keyboard where it matters: each step refuses bad input with the
// field's error (the hub's own checks, mirrored), an error only the hub
// can tell (a name taken) comes back at its field on its step, and the
// cluster is created with its pinned profile version.
func TestUICreateWizard(t *testing.T) {
	h, s, f := startHub(t, 12)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/"))
	waitFor(t, tab, "the fleet table", rowsJS+` === 12`)
	do(t, tab, chromedp.Click(chromedp.ID("new-vc")))
	waitFor(t, tab, "the wizard", `document.activeElement.id === 'vc-name'`)

	// Step 1: an empty name, then a bad one (Enter submits the step).
	do(t, tab, chromedp.KeyEvent("\r"))
	expectFieldError(t, tab, "vc-name", "is required")
	do(t, tab, chromedp.SendKeys(chromedp.ID("vc-name"), "Bad_Name\r"))
	expectFieldError(t, tab, "vc-name", "lower-case letters")
	// vc-0002 exists in project web: only the hub can tell, at the end.
	do(t, tab, setValue("vc-name", "vc-0002"), chromedp.Click(chromedp.ID("wizard-next")))
	expectFieldError(t, tab, "vc-project", "is required")
	do(t, tab, setValue("vc-project", f.Project), setValue("vc-group", f.Group), chromedp.Click(chromedp.ID("wizard-next")))
	// Step 2: the version (the hub's only one is offered).
	waitFor(t, tab, "the version step", `document.activeElement.id === 'vc-version'`)
	if v := eval[[]string](t, tab, `[...document.getElementById('vc-version').options].map(o => o.value)`); len(v) != 1 || !strings.HasPrefix(v[0], "v1.") {
		t.Fatalf("versions offered: %v", v)
	}
	// By keyboard: Tab past Back to Next, Enter.
	do(t, tab, chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t"))
	if id := eval[string](t, tab, `document.activeElement.id`); id != "wizard-next" {
		t.Fatalf("two Tabs from the version reach %q, want Next", id)
	}
	do(t, tab, chromedp.KeyEvent("\r"))
	// Step 3: quota, checked as the hub does.
	waitFor(t, tab, "the quota step", `document.activeElement.id === 'vc-cpu'`)
	do(t, tab, chromedp.SendKeys(chromedp.ID("vc-cpu"), "lots\r"))
	expectFieldError(t, tab, "vc-cpu", "must be a Kubernetes quantity")
	do(t, tab, setValue("vc-cpu", "99"), chromedp.KeyEvent("\r"))
	expectFieldError(t, tab, "vc-cpu", "more than the cluster group allows (2)")
	do(t, tab, setValue("vc-cpu", "1"), setValue("vc-memory", "2Gi"), chromedp.Click(chromedp.ID("wizard-next")))
	// Step 4: the profile, pinned to its first version.
	box := "vc-p-" + f.Profile
	waitFor(t, tab, "the profiles step", `document.getElementById('`+box+`').offsetParent !== null`)
	do(t, tab, chromedp.Click(chromedp.ID(box)))
	waitFor(t, tab, "the profile's versions", `document.getElementById('vc-pv-`+f.Profile+`').options.length === 3`)
	do(t, tab, setValue("vc-pv-"+f.Profile, f.ProfileVersions[0]), chromedp.Click(chromedp.ID("wizard-next")))
	// Step 5: review, then Create: the name is taken.
	waitFor(t, tab, "the review", `document.getElementById('vc-review').textContent.includes('tools 1.0.0')`)
	do(t, tab, chromedp.Click(chromedp.ID("wizard-create")))
	expectFieldError(t, tab, "vc-name", "already exists")
	// Fixed: Create goes through and opens the new cluster's page.
	do(t, tab, setValue("vc-name", "made-by-wizard"))
	for range 4 {
		do(t, tab, chromedp.Click(chromedp.CSS(`#create-form button[type=submit]`)))
	}
	waitFor(t, tab, "the review again", `document.getElementById('vc-review').textContent.includes('made-by-wizard')`)
	do(t, tab, chromedp.Click(chromedp.ID("wizard-create")))
	waitFor(t, tab, "the new cluster's page", `document.querySelector('main h1').textContent === 'made-by-wizard'`)
	vc, err := s.VirtualClusters.Find(context.Background(), map[string]string{"name": "made-by-wizard"})
	if err != nil {
		t.Fatal(err)
	}
	if vc.ProjectID != f.Project || vc.Quota.CPU != "1" || vc.Quota.Memory != "2Gi" || vc.Quota.Pods != "50" ||
		len(vc.Profiles) != 1 || vc.Profiles[0].ProfileID != f.Profile || vc.Profiles[0].Version != f.ProfileVersions[0] {
		t.Fatalf("created %+v", vc)
	}
}

// TestUIAccessForms creates a project, a team with a member, a user, a
// custom role with picked permissions and a role binding through the
// access pages, shows a bad field's error, and deletes the project.
func TestUIAccessForms(t *testing.T) {
	h, s, _ := startHub(t, 2)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	ctx := context.Background()
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/projects"))
	loaded := `document.querySelector('main').dataset.loaded === 'true'`
	waitFor(t, tab, "the projects page", loaded)

	// Projects: a bad name is refused at its field; a good one is made.
	do(t, tab, chromedp.SendKeys(chromedp.ID("project-name"), "-bad\r"))
	expectFieldError(t, tab, "project-name", "lower-case letters")
	do(t, tab, setValue("project-name", "mobile"), chromedp.Click(chromedp.ID("project-form-submit")))
	waitFor(t, tab, "the new project", `[...document.querySelectorAll('#projects tbody th')].some(th => th.textContent === 'mobile')`)
	// A taken name comes back from the hub at the name field.
	do(t, tab, setValue("project-name", "mobile"), chromedp.Click(chromedp.ID("project-form-submit")))
	expectFieldError(t, tab, "project-name", "already exists")

	// Users.
	do(t, tab, chromedp.Navigate(h.URL+"/#/users"))
	waitFor(t, tab, "the users page", `!!document.getElementById('user-name')`)
	do(t, tab, setValue("user-name", "grace"), setValue("user-password", "short"), chromedp.Click(chromedp.ID("user-form-submit")))
	expectFieldError(t, tab, "user-password", "12 to 256")
	do(t, tab, setValue("user-password", "a long enough password"), setValue("user-email", "grace@example.com"), chromedp.Click(chromedp.ID("user-form-submit")))
	waitFor(t, tab, "the new user", `[...document.querySelectorAll('#users tbody th')].some(th => th.textContent === 'grace')`)
	grace, err := s.Users.Find(ctx, map[string]string{"name": "grace"})
	if err != nil {
		t.Fatal(err)
	}

	// Teams, and grace as a member.
	do(t, tab, chromedp.Navigate(h.URL+"/#/teams"))
	waitFor(t, tab, "the teams page", `!!document.getElementById('team-name')`)
	do(t, tab, setValue("team-name", "sre"), chromedp.Click(chromedp.ID("team-form-submit")))
	waitFor(t, tab, "the new team", `[...document.querySelectorAll('#teams tbody th')].some(th => th.textContent === 'sre')`)
	team, err := s.Teams.Find(ctx, map[string]string{"name": "sre"})
	if err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Click(chromedp.CSS(`#teams tr[data-id="`+team.ID+`"] summary`)))
	waitFor(t, tab, "the member form", `!!document.getElementById('member-`+team.ID+`')`)
	do(t, tab, setValue("member-"+team.ID, grace.ID), chromedp.Click(chromedp.CSS(`#teams tr[data-id="`+team.ID+`"] .inline-form button`)))
	waitFor(t, tab, "the member", `document.querySelector('#teams tr[data-id="`+team.ID+`"] details').textContent.includes('grace')`)

	// Roles: permissions picked from the hub's list.
	do(t, tab, chromedp.Navigate(h.URL+"/#/roles"))
	waitFor(t, tab, "the roles page", `!!document.getElementById('role-name')`)
	do(t, tab, setValue("role-name", "kubeconfig-reader"), chromedp.Click(chromedp.ID("role-form-submit")))
	expectFieldError(t, tab, "role-permissions", "at least one")
	do(t, tab, setValue("role-perm-filter", "virtualcluster.kube"))
	if n := eval[int](t, tab, `[...document.querySelectorAll('#role-permissions li')].filter(li => !li.hidden).length`); n != 1 {
		t.Fatalf("the filter shows %d permissions, want 1", n)
	}
	do(t, tab, chromedp.Click(chromedp.ID("perm-virtualcluster_kubeconfig")), setValue("role-perm-filter", "virtualcluster.get"),
		chromedp.Click(chromedp.ID("perm-virtualcluster_get")), chromedp.Click(chromedp.ID("role-form-submit")))
	waitFor(t, tab, "the new role", `[...document.querySelectorAll('#roles tbody th')].some(th => th.textContent === 'kubeconfig-reader')`)
	role, err := s.Roles.Find(ctx, map[string]string{"name": "kubeconfig-reader"})
	if err != nil || strings.Join(role.Permissions, ",") != "virtualcluster.get,virtualcluster.kubeconfig" && strings.Join(role.Permissions, ",") != "virtualcluster.kubeconfig,virtualcluster.get" {
		t.Fatalf("role %+v (%v)", role, err)
	}

	// Role bindings: the team gets the role on a project.
	do(t, tab, chromedp.Navigate(h.URL+"/#/bindings"))
	waitFor(t, tab, "the bindings page", `!!document.getElementById('binding-name') && `+loaded)
	scope := eval[string](t, tab, `[...document.getElementById('binding-scope').options].find(o => o.textContent.startsWith('Project mobile')).value`)
	do(t, tab, setValue("binding-name", "sre-reads"), setValue("binding-scope", scope), setValue("binding-role", "kubeconfig-reader"),
		setValue("binding-kind", "team"), setValue("binding-subject", team.ID), chromedp.Click(chromedp.ID("binding-form-submit")))
	waitFor(t, tab, "the new binding", `[...document.querySelectorAll('#bindings tbody th')].some(th => th.textContent === 'sre-reads')`)
	b, err := s.RoleBindings.Find(ctx, map[string]string{"name": "sre-reads"})
	if err != nil || b.SubjectKind != store.SubjectTeam || b.SubjectID != team.ID || b.RoleID != role.ID || b.ProjectID == "" {
		t.Fatalf("binding %+v (%v)", b, err)
	}

	// Delete the project: asked first, then gone.
	do(t, tab, chromedp.Navigate(h.URL+"/#/projects"))
	waitFor(t, tab, "the projects page", `!!document.querySelector('[data-delete="mobile"]')`)
	do(t, tab, chromedp.Click(chromedp.CSS(`[data-delete="mobile"]`)))
	waitFor(t, tab, "the confirmation", `document.getElementById('confirm').open`)
	do(t, tab, chromedp.Click(chromedp.ID("confirm-ok")))
	waitFor(t, tab, "the project gone", `![...document.querySelectorAll('#projects tbody th')].some(th => th.textContent === 'mobile')`)
	if _, err := s.Projects.Find(ctx, map[string]string{"name": "mobile"}); err == nil {
		t.Fatal("the project is still in the store")
	}
}

// TestUIProfilesAndDay2: the profiles page lists the profile, its
// versions and layers, diffs its two versions line by line and shows
// where it is attached; a cluster's page shows its profile's layers with
// drift, its usage against quota, and resizes through a dialog that
// checks the quota first.
func TestUIProfilesAndDay2(t *testing.T) {
	h, s, f := startHub(t, 4)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/profiles"))
	waitFor(t, tab, "the profiles list", `document.querySelectorAll('#profiles tbody tr[data-id]').length === 1`)
	do(t, tab, chromedp.Click(chromedp.CSS(`#profiles a`)))
	waitFor(t, tab, "the diff", `!!document.querySelector('#diff .diff-layer')`)
	diff := eval[string](t, tab, `document.getElementById('diff').textContent`)
	for _, want := range []string{`−   greeting: "hello"`, `+   greeting: "hello, world"`, "−   replicas: 1", "+   replicas: 2", "− GREETING=hello", "+ GREETING=hello, world"} {
		if !strings.Contains(diff, want) {
			t.Fatalf("the diff lacks %q:\n%s", want, diff)
		}
	}
	if n := eval[int](t, tab, `document.querySelectorAll('#versions tbody tr').length`); n != 2 {
		t.Fatalf("%d versions listed", n)
	}
	do(t, tab, setValue("diff-from", "1.1.0"), chromedp.Click(chromedp.ID("diff-show")))
	waitFor(t, tab, "no difference", `!!document.getElementById('diff-none')`)
	waitFor(t, tab, "the attached clusters", `document.querySelectorAll('#attached-vcs tbody tr').length === 1`)

	// The cluster's page: its layers with drift, its usage.
	vc := f.VirtualClusters[0]
	do(t, tab, chromedp.Click(chromedp.CSS(`#attached-vcs a`)))
	waitFor(t, tab, "the profile layers", `!!document.querySelector('#profiles tr[data-layer="base"]')`)
	if got := eval[string](t, tab, `document.querySelector('#profiles tr[data-layer="base"]').textContent`); !strings.Contains(got, "Drifted") || !strings.Contains(got, "1 objects") {
		t.Fatalf("the layer row: %q", got)
	}
	if got := eval[string](t, tab, `document.querySelector('#usage tr[data-dim="cpu"]').textContent`); !strings.Contains(got, vc.Status.Used.CPU+" of 2") {
		t.Fatalf("the CPU usage row: %q", got)
	}
	// Upgrade offers only versions the hub allows: none other here.
	if !eval[bool](t, tab, `document.getElementById('upgrade').disabled`) {
		t.Fatal("Upgrade is enabled with no other version to go to")
	}
	// Resize: above the group's quota is refused in the dialog.
	do(t, tab, chromedp.Click(chromedp.ID("resize")))
	waitFor(t, tab, "the resize dialog", `document.getElementById('confirm').open && document.activeElement.id === 'resize-cpu'`)
	do(t, tab, setValue("resize-cpu", "3"), chromedp.Click(chromedp.ID("confirm-ok")))
	expectFieldError(t, tab, "resize-cpu", "more than the cluster group allows (2)")
	do(t, tab, setValue("resize-cpu", "1500m"), chromedp.Click(chromedp.ID("confirm-ok")))
	waitFor(t, tab, "the dialog closed", `!document.getElementById('confirm').open`)
	got, err := s.VirtualClusters.Get(context.Background(), vc.ID)
	if err != nil || got.Quota.CPU != "1500m" || got.Generation != 2 {
		t.Fatalf("after the resize: quota %+v generation %d (%v)", got.Quota, got.Generation, err)
	}
	// The dashboard shows used against quota.
	do(t, tab, chromedp.Navigate(h.URL+"/#/"))
	waitFor(t, tab, "the fleet", rowsJS+` === 4`)
	if cell := eval[string](t, tab, `document.querySelector('#vcs tr[data-id="`+vc.ID+`"] td:nth-child(7)').textContent`); cell != vc.Status.Used.CPU+" / 1500m " {
		t.Fatalf("the CPU cell says %q", cell)
	}
	if n := eval[int](t, tab, `document.querySelectorAll('#vcs tbody meter').length`); n == 0 {
		t.Fatal("no usage bars on the dashboard")
	}
}
