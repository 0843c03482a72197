package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// hcl prefixes a test configuration with the provider's source address,
// the one terraform reattaches to the in-process provider.
func hcl(format string, args ...any) string {
	return `terraform {
  required_providers {
    nest = { source = "nestcluster/nest" }
  }
}
` + fmt.Sprintf(format, args...)
}

func hubClient(t *testing.T, key string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: theHub.URL, APIKey: key, CACert: theHub.CACert})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func admin(t *testing.T) *client.Client { return hubClient(t, theHub.AdminKey) }

// unique returns a DNS label unique to the test.
func unique(t *testing.T, prefix string) string {
	return fmt.Sprintf("%s-%x", prefix, time.Now().UnixNano()&0xffffffffff)
}

func newTenant(t *testing.T) *store.Tenant {
	t.Helper()
	tn, err := admin(t).CreateTenant(context.Background(), api.CreateTenantRequest{Name: unique(t, "t")})
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func newUser(t *testing.T) *store.User {
	t.Helper()
	u, err := admin(t).CreateUser(context.Background(), api.CreateUserRequest{Name: unique(t, "u")})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// attr reads an attribute of a resource from the state.
func attr(s *terraform.State, name, key string) (string, error) {
	rs, ok := s.RootModule().Resources[name]
	if !ok {
		return "", fmt.Errorf("%s is not in the state", name)
	}
	return rs.Primary.Attributes[key], nil
}

// importID builds an import ID from the state: the named attributes joined
// with "/".
func importID(name string, keys ...string) resource.ImportStateIdFunc {
	return func(s *terraform.State) (string, error) {
		var parts []string
		for _, k := range keys {
			v, err := attr(s, name, k)
			if err != nil {
				return "", err
			}
			parts = append(parts, v)
		}
		return strings.Join(parts, "/"), nil
	}
}

// gone checks after destroy that no object of typ remains on the hub.
func gone(t *testing.T, typ string, get func(c *client.Client, a map[string]string) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for _, rs := range s.RootModule().Resources {
			if rs.Type != typ {
				continue
			}
			err := get(admin(t), rs.Primary.Attributes)
			if err == nil {
				return fmt.Errorf("%s %s still exists after destroy", typ, rs.Primary.ID)
			}
			if !client.IsNotFound(err) {
				return err
			}
		}
		return nil
	}
}

var (
	emptyPlan = resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	driftPlan = resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan()}}
)

func expect(addr string, action plancheck.ResourceActionType) resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, action)},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
}

func TestAccProject(t *testing.T) {
	tn := newTenant(t)
	ctx := context.Background()
	cfg := func(name, display string) string {
		return hcl(`
resource "nest_project" "web" {
  tenant_id    = %q
  name         = %q
  display_name = %q
}
`, tn.ID, name, display)
	}
	withData := func(name, display string) string {
		return cfg(name, display) + `
data "nest_project" "by_name" {
  tenant_id = nest_project.web.tenant_id
  name      = nest_project.web.name
}

data "nest_project" "by_id" {
  tenant_id = nest_project.web.tenant_id
  id        = nest_project.web.id
}
`
	}
	var id string
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: gone(t, "nest_project", func(c *client.Client, a map[string]string) error {
			_, err := c.GetProject(ctx, a["tenant_id"], a["id"])
			return err
		}),
		Steps: []resource.TestStep{
			{ // create; the data source finds it by name
				Config:           withData("web", "Web"),
				ConfigPlanChecks: emptyPlan,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("nest_project.web", "tenant_id", tn.ID),
					resource.TestCheckResourceAttr("nest_project.web", "name", "web"),
					resource.TestCheckResourceAttr("nest_project.web", "display_name", "Web"),
					resource.TestCheckResourceAttrWith("nest_project.web", "id", func(v string) error { id = v; return nil }),
					resource.TestCheckResourceAttrPair("data.nest_project.by_name", "id", "nest_project.web", "id"),
					resource.TestCheckResourceAttr("data.nest_project.by_name", "display_name", "Web"),
					resource.TestCheckResourceAttr("data.nest_project.by_id", "name", "web"),
				),
			},
			{ // update in place
				Config:           cfg("web", "Web shop"),
				ConfigPlanChecks: expect("nest_project.web", plancheck.ResourceActionUpdate),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("nest_project.web", "display_name", "Web shop"),
					resource.TestCheckResourceAttrWith("nest_project.web", "id", func(v string) error {
						if v != id {
							return fmt.Errorf("id changed from %s to %s on an in-place update", id, v)
						}
						return nil
					}),
				),
			},
			{ // import by TENANT_ID/PROJECT_ID
				ResourceName:      "nest_project.web",
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: importID("nest_project.web", "tenant_id", "id"),
			},
			{ // drift: changed outside Terraform
				PreConfig: func() {
					p, err := admin(t).GetProject(ctx, tn.ID, id)
					if err == nil {
						_, err = admin(t).UpdateProject(ctx, tn.ID, id, api.UpdateProjectRequest{DisplayName: "changed by hand", ResourceVersion: p.ResourceVersion})
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg("web", "Web shop"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{ // apply puts it back
				Config:           cfg("web", "Web shop"),
				ConfigPlanChecks: expect("nest_project.web", plancheck.ResourceActionUpdate),
				Check:            resource.TestCheckResourceAttr("nest_project.web", "display_name", "Web shop"),
			},
			{ // a new name replaces the project
				Config:           cfg("shop", "Web shop"),
				ConfigPlanChecks: expect("nest_project.web", plancheck.ResourceActionReplace),
				Check:            resource.TestCheckResourceAttr("nest_project.web", "name", "shop"),
			},
			{ // deleted outside Terraform: planned for creation again
				PreConfig: func() {
					page, err := admin(t).ListProjects(ctx, tn.ID, client.ListOptions{Filters: map[string]string{"name": "shop"}})
					if err == nil && len(page.Items) == 1 {
						err = admin(t).DeleteProject(ctx, tn.ID, page.Items[0].ID, 0)
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg("shop", "Web shop"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config:           cfg("shop", "Web shop"),
				ConfigPlanChecks: expect("nest_project.web", plancheck.ResourceActionCreate),
			},
		},
	})
}

func TestAccTeam(t *testing.T) {
	tn := newTenant(t)
	u1, u2 := newUser(t), newUser(t)
	ctx := context.Background()
	cfg := func(description string, members ...string) string {
		return hcl(`
resource "nest_team" "devs" {
  tenant_id   = %q
  name        = "devs"
  description = %q
  members     = [%s]
}
`, tn.ID, description, `"`+strings.Join(members, `", "`)+`"`)
	}
	var id string
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: gone(t, "nest_team", func(c *client.Client, a map[string]string) error {
			_, err := c.GetTeam(ctx, a["tenant_id"], a["id"])
			return err
		}),
		Steps: []resource.TestStep{
			{
				Config:           cfg("Developers", u1.ID),
				ConfigPlanChecks: emptyPlan,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("nest_team.devs", "description", "Developers"),
					resource.TestCheckResourceAttr("nest_team.devs", "members.#", "1"),
					resource.TestCheckTypeSetElemAttr("nest_team.devs", "members.*", u1.ID),
					resource.TestCheckResourceAttrWith("nest_team.devs", "id", func(v string) error { id = v; return nil }),
				),
			},
			{ // description and members change in place
				Config:           cfg("All developers", u1.ID, u2.ID),
				ConfigPlanChecks: expect("nest_team.devs", plancheck.ResourceActionUpdate),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("nest_team.devs", "description", "All developers"),
					resource.TestCheckResourceAttr("nest_team.devs", "members.#", "2"),
					func(*terraform.State) error {
						m, err := admin(t).ListTeamMembers(ctx, tn.ID, id)
						if err != nil || len(m) != 2 {
							return fmt.Errorf("the hub has %d members, %v; want 2", len(m), err)
						}
						return nil
					},
				),
			},
			{
				ResourceName:      "nest_team.devs",
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: importID("nest_team.devs", "tenant_id", "id"),
			},
			{ // drift: a member removed by hand
				PreConfig: func() {
					if err := admin(t).RemoveTeamMember(ctx, tn.ID, id, u2.ID); err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg("All developers", u1.ID, u2.ID),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config:           cfg("All developers", u1.ID, u2.ID),
				ConfigPlanChecks: expect("nest_team.devs", plancheck.ResourceActionUpdate),
				Check:            resource.TestCheckResourceAttr("nest_team.devs", "members.#", "2"),
			},
			{ // no members
				Config: hcl(`
resource "nest_team" "devs" {
  tenant_id = %q
  name      = "devs"
}
`, tn.ID),
				ConfigPlanChecks: expect("nest_team.devs", plancheck.ResourceActionUpdate),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("nest_team.devs", "members.#", "0"),
					resource.TestCheckResourceAttr("nest_team.devs", "description", ""),
				),
			},
		},
	})
}

func TestAccRole(t *testing.T) {
	name := unique(t, "reader")
	ctx := context.Background()
	cfg := func(description string, perms ...string) string {
		return hcl(`
resource "nest_role" "reader" {
  name        = %q
  description = %q
  permissions = [%s]
}
`, name, description, `"`+strings.Join(perms, `", "`)+`"`)
	}
	var id string
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: gone(t, "nest_role", func(c *client.Client, a map[string]string) error {
			_, err := c.GetRole(ctx, a["id"])
			return err
		}),
		Steps: []resource.TestStep{
			{ // the hub's field error, on the attribute
				Config:      cfg("", "project.get", "project.fly"),
				ExpectError: regexp.MustCompile(`(?s)permissions.*project\.fly`),
			},
			{
				// The set's order is not the hub's: still no diff.
				Config:           cfg("Reads projects", "project.list", "project.get"),
				ConfigPlanChecks: emptyPlan,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("nest_role.reader", "permissions.#", "2"),
					resource.TestCheckTypeSetElemAttr("nest_role.reader", "permissions.*", "project.get"),
					resource.TestCheckResourceAttrWith("nest_role.reader", "id", func(v string) error { id = v; return nil }),
				),
			},
			{
				Config:           cfg("Reads projects and teams", "project.get", "project.list", "team.get"),
				ConfigPlanChecks: expect("nest_role.reader", plancheck.ResourceActionUpdate),
				Check:            resource.TestCheckResourceAttr("nest_role.reader", "permissions.#", "3"),
			},
			{
				ResourceName:      "nest_role.reader",
				ImportState:       true,
				ImportStateVerify: true,
			},
			{ // drift
				PreConfig: func() {
					r, err := admin(t).GetRole(ctx, id)
					if err == nil {
						_, err = admin(t).UpdateRole(ctx, id, api.UpdateRoleRequest{Permissions: []string{"project.get"}, ResourceVersion: r.ResourceVersion})
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg("Reads projects and teams", "project.get", "project.list", "team.get"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config:           cfg("Reads projects and teams", "project.get", "project.list", "team.get"),
				ConfigPlanChecks: expect("nest_role.reader", plancheck.ResourceActionUpdate),
			},
		},
	})
}

func TestAccRoleBinding(t *testing.T) {
	tn := newTenant(t)
	u := newUser(t)
	ctx := context.Background()
	p, err := admin(t).CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	suffix := unique(t, "b")
	cfg := func(projectRole string) string {
		return hcl(`
resource "nest_team" "ops" {
  tenant_id = %[1]q
  name      = "ops"
  members   = [%[3]q]
}

resource "nest_role_binding" "global" {
  name         = "global-%[4]s"
  role         = "project-viewer"
  subject_kind = "user"
  subject_id   = %[3]q
}

resource "nest_role_binding" "tenant" {
  tenant_id    = %[1]q
  name         = "ops"
  role         = "tenant-admin"
  subject_kind = "team"
  subject_id   = nest_team.ops.id
}

resource "nest_role_binding" "project" {
  tenant_id    = %[1]q
  project_id   = %[2]q
  name         = "dev"
  role         = %[5]q
  subject_kind = "user"
  subject_id   = %[3]q
}
`, tn.ID, p.ID, u.ID, suffix, projectRole)
	}
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: gone(t, "nest_role_binding", func(c *client.Client, a map[string]string) error {
			_, err := c.GetRoleBinding(ctx, client.Scope{TenantID: a["tenant_id"], ProjectID: a["project_id"]}, a["id"])
			return err
		}),
		Steps: []resource.TestStep{
			{
				Config:           cfg("project-viewer"),
				ConfigPlanChecks: emptyPlan,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr("nest_role_binding.global", "tenant_id"),
					resource.TestCheckResourceAttr("nest_role_binding.tenant", "tenant_id", tn.ID),
					resource.TestCheckNoResourceAttr("nest_role_binding.tenant", "project_id"),
					resource.TestCheckResourceAttr("nest_role_binding.project", "project_id", p.ID),
					resource.TestCheckResourceAttr("nest_role_binding.project", "role", "project-viewer"),
					func(*terraform.State) error {
						// The user now holds the team's tenant-admin grant.
						page, err := admin(t).ListRoleBindings(ctx, client.Scope{TenantID: tn.ID}, client.ListOptions{})
						if err != nil || len(page.Items) != 1 {
							return fmt.Errorf("tenant bindings = %+v, %v", page.Items, err)
						}
						return nil
					},
				),
			},
			{ // another role replaces the binding
				Config:           cfg("project-editor"),
				ConfigPlanChecks: expect("nest_role_binding.project", plancheck.ResourceActionReplace),
				Check:            resource.TestCheckResourceAttr("nest_role_binding.project", "role", "project-editor"),
			},
			{
				ResourceName:      "nest_role_binding.global",
				ImportState:       true,
				ImportStateVerify: true,
			},
			{
				ResourceName:      "nest_role_binding.tenant",
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: importID("nest_role_binding.tenant", "tenant_id", "id"),
			},
			{
				ResourceName:      "nest_role_binding.project",
				ImportState:       true,
				ImportStateVerify: true,
				ImportStateIdFunc: importID("nest_role_binding.project", "tenant_id", "project_id", "id"),
			},
			{ // a malformed import ID names the accepted forms
				ResourceName:  "nest_role_binding.project",
				ImportState:   true,
				ImportStateId: "a/b/c/d",
				ExpectError:   regexp.MustCompile(`TENANT_ID/PROJECT_ID/ID`),
			},
			{ // drift: deleted by hand
				PreConfig: func() {
					page, err := admin(t).ListRoleBindings(ctx, client.Scope{TenantID: tn.ID, ProjectID: p.ID}, client.ListOptions{})
					if err == nil && len(page.Items) == 1 {
						err = admin(t).DeleteRoleBinding(ctx, client.Scope{TenantID: tn.ID, ProjectID: p.ID}, page.Items[0].ID, 0)
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg("project-editor"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config:           cfg("project-editor"),
				ConfigPlanChecks: expect("nest_role_binding.project", plancheck.ResourceActionCreate),
			},
		},
	})
}

func TestAccAPIKey(t *testing.T) {
	u := newUser(t)
	ctx := context.Background()
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	mine := unique(t, "mine")
	// A revoked key keeps its name (the hub keeps revoked keys), so a
	// replaced key takes a new name.
	cfg := func(name, expiresAt string) string {
		return hcl(`
resource "nest_api_key" "ci" {
  user_id    = %q
  name       = %q
  expires_at = %q
}

resource "nest_api_key" "mine" {
  name = %q
}
`, u.ID, name, expiresAt, mine)
	}
	works := func(name, userID string) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			key, err := attr(s, name, "key")
			if err != nil {
				return err
			}
			w, err := hubClient(t, key).WhoAmI(ctx)
			if err != nil {
				return fmt.Errorf("the key of %s does not work: %w", name, err)
			}
			if userID != "" && w.User.ID != userID {
				return fmt.Errorf("the key of %s is user %s's, want %s's", name, w.User.ID, userID)
			}
			return nil
		}
	}
	var keyID string
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: gone(t, "nest_api_key", func(c *client.Client, a map[string]string) error {
			k, err := c.GetAPIKey(ctx, a["user_id"], a["id"])
			if err == nil && !k.RevokedAt.IsZero() {
				return &client.Error{Code: client.CodeNotFound}
			}
			return err
		}),
		Steps: []resource.TestStep{
			{
				// Another spelling of the same instant is no diff.
				Config:           cfg("ci", expires.In(time.FixedZone("x", 3600)).Format(time.RFC3339)),
				ConfigPlanChecks: emptyPlan,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestMatchResourceAttr("nest_api_key.ci", "key", regexp.MustCompile(`^nest_`)),
					resource.TestCheckResourceAttrSet("nest_api_key.ci", "prefix"),
					resource.TestCheckResourceAttrWith("nest_api_key.ci", "id", func(v string) error { keyID = v; return nil }),
					works("nest_api_key.ci", u.ID),
					works("nest_api_key.mine", ""),
				),
			},
			{ // a new expiry replaces the key: a new secret
				Config:           cfg("ci-2", expires.Add(time.Hour).Format(time.RFC3339)),
				ConfigPlanChecks: expect("nest_api_key.ci", plancheck.ResourceActionReplace),
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttrWith("nest_api_key.ci", "id", func(v string) error {
						if v == keyID {
							return fmt.Errorf("the key was not replaced")
						}
						keyID = v
						return nil
					}),
					works("nest_api_key.ci", u.ID),
				),
			},
			{
				ResourceName:            "nest_api_key.ci",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateIdFunc:       importID("nest_api_key.ci", "user_id", "id"),
				ImportStateVerifyIgnore: []string{"key"},
			},
			{
				ResourceName:            "nest_api_key.mine",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"key"},
			},
			{ // drift: revoked by hand, so created again
				PreConfig: func() {
					if _, err := admin(t).RevokeAPIKey(ctx, u.ID, keyID); err != nil {
						t.Fatal(err)
					}
				},
				Config:             cfg("ci-2", expires.Add(time.Hour).Format(time.RFC3339)),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{ // the revoked key keeps its name
				Config:      cfg("ci-2", expires.Add(time.Hour).Format(time.RFC3339)),
				ExpectError: regexp.MustCompile(`(?s)"ci-2" is held by the revoked key`),
			},
			{
				Config:           cfg("ci-3", expires.Add(time.Hour).Format(time.RFC3339)),
				ConfigPlanChecks: expect("nest_api_key.ci", plancheck.ResourceActionCreate),
				Check:            works("nest_api_key.ci", u.ID),
			},
		},
	})
}

func project(tenantID, name string) string {
	return fmt.Sprintf(`
resource "nest_project" "p" {
  tenant_id = %q
  name      = %q
}
`, tenantID, name)
}

// TestAccErrors checks what a user sees when the hub or the provider
// refuses: no state is written for a failed create.
func TestAccErrors(t *testing.T) {
	tn := newTenant(t)
	ctx := context.Background()
	viewer := newUser(t)
	p, err := admin(t).CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "app"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin(t).CreateRoleBinding(ctx, client.Scope{TenantID: tn.ID, ProjectID: p.ID},
		api.CreateRoleBindingRequest{Name: "viewer", Role: "project-viewer", SubjectKind: "user", SubjectID: viewer.ID}); err != nil {
		t.Fatal(err)
	}
	key, err := admin(t).CreateAPIKey(ctx, viewer.ID, api.CreateAPIKeyRequest{Name: "tf"})
	if err != nil {
		t.Fatal(err)
	}
	asViewer := func(body string) string {
		return hcl(`
provider "nest" {
  api_key = %q
}
`+body, key.Key)
	}
	tests := []struct {
		name   string
		config string
		want   string
	}{
		{"viewer cannot create", asViewer(project(tn.ID, "nope")),
			`(?s)permission denied.*needs project\.create.*permission_denied`},
		{"bad name (checked by the provider)", hcl("%s", project(tn.ID, "Not_A_Label")),
			`(?s)Invalid name.*DNS label`},
		{"name taken (the hub's field error)", hcl("%s", project(tn.ID, "app")),
			`(?s)already_exists`},
		{"unknown tenant", hcl("%s", project("0000000000000000000000000000", "p")),
			`(?s)not_found`},
		{"project binding without tenant", hcl(`
resource "nest_role_binding" "b" {
  project_id   = %q
  name         = "b"
  role         = "project-viewer"
  subject_kind = "user"
  subject_id   = %q
}`, p.ID, viewer.ID), `Missing tenant_id`},
		{"data source without id or name", hcl(`
data "nest_project" "p" {
  tenant_id = %q
}`, tn.ID), `Give id or name`},
		{"data source of a missing project", hcl(`
data "nest_project" "p" {
  tenant_id = %q
  name      = "missing"
}`, tn.ID), `has no project named missing`},
		{"expiry not a time", hcl(`
resource "nest_api_key" "k" {
  name       = "k"
  expires_at = "tomorrow"
}`), `RFC 3339`},
		{"bad hub URL", hcl(`
provider "nest" {
  hub_url = "ftp://hub.example.com"
}

resource "nest_role" "r" {
  name        = "r"
  permissions = ["project.get"]
}`), `want https://`},
		{"bad timeout", hcl(`
provider "nest" {
  timeout = "soon"
}

resource "nest_role" "r" {
  name        = "r"
  permissions = ["project.get"]
}`), `(?s)Invalid timeout.*Go duration`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: factories,
				Steps: []resource.TestStep{{
					Config:      tc.config,
					ExpectError: regexp.MustCompile(tc.want),
				}},
			})
		})
	}
}

// TestAccPermissionDenied has a project-viewer change a project Terraform
// made: the apply fails naming the permission, and the project is as it was.
func TestAccPermissionDenied(t *testing.T) {
	tn := newTenant(t)
	viewer := newUser(t)
	ctx := context.Background()
	key, err := admin(t).CreateAPIKey(ctx, viewer.ID, api.CreateAPIKeyRequest{Name: "tf"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(apiKey, display string) string {
		return hcl(`
provider "nest" {
  api_key = %q
}

resource "nest_project" "app" {
  tenant_id    = %q
  name         = "app"
  display_name = %q
}
`, apiKey, tn.ID, display)
	}
	var id string
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		Steps: []resource.TestStep{
			{
				Config: cfg(theHub.AdminKey, "App"),
				Check:  resource.TestCheckResourceAttrWith("nest_project.app", "id", func(v string) error { id = v; return nil }),
			},
			{
				PreConfig: func() {
					if _, err := admin(t).CreateRoleBinding(ctx, client.Scope{TenantID: tn.ID, ProjectID: id},
						api.CreateRoleBindingRequest{Name: "viewer", Role: "project-viewer", SubjectKind: "user", SubjectID: viewer.ID}); err != nil {
						t.Fatal(err)
					}
				},
				Config:      cfg(key.Key, "Changed by a viewer"),
				ExpectError: regexp.MustCompile(`(?s)Cannot update the project.*needs project\.update.*permission_denied`),
			},
			{ // unchanged by the failed apply; the admin's key destroys it
				Config:           cfg(theHub.AdminKey, "App"),
				ConfigPlanChecks: emptyPlan,
				Check: func(*terraform.State) error {
					p, err := admin(t).GetProject(ctx, tn.ID, id)
					if err != nil || p.DisplayName != "App" {
						return fmt.Errorf("project after the viewer's apply: %+v, %v", p, err)
					}
					return nil
				},
			},
		},
	})
}

// TestAccExample applies examples/terraform/basic, the example the docs
// show, and destroys it.
func TestAccExample(t *testing.T) {
	tn := newTenant(t)
	u := newUser(t)
	resource.ParallelTest(t, resource.TestCase{
		PreCheck: func() { preCheck(t) },
		Steps: []resource.TestStep{{
			ProtoV6ProviderFactories: factories,
			ConfigDirectory:          config.StaticDirectory("../../../examples/terraform/basic"),
			ConfigVariables: config.Variables{
				"tenant_id": config.StringVariable(tn.ID),
				"user_id":   config.StringVariable(u.ID),
				"prefix":    config.StringVariable(unique(t, "ex")),
			},
			ConfigPlanChecks: emptyPlan,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("nest_project.web", "name", "web"),
				resource.TestCheckResourceAttr("nest_team.developers", "members.#", "1"),
				resource.TestCheckResourceAttr("nest_role_binding.developers", "role", "project-editor"),
				resource.TestMatchResourceAttr("nest_api_key.ci", "key", regexp.MustCompile(`^nest_`)),
			),
		}},
	})
}
