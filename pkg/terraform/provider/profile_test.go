package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/profile"
)

// copyDir copies a directory tree (a chart) into a new temporary one.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

const (
	profileCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`
	// profileCRDRespelled is profileCRD with other whitespace, key order,
	// comments and an empty document: the same manifests.
	profileCRDRespelled = `# the same CRD, spelled otherwise
---
kind: CustomResourceDefinition
apiVersion: "apiextensions.k8s.io/v1"
metadata: {name: widgets.example.com}
spec:
  scope: Namespaced
  group: example.com
  names:
    kind: Widget
    singular: widget
    plural: widgets
  versions:
  - name: v1
    storage: true
    served: true
    schema: {openAPIV3Schema: {x-kubernetes-preserve-unknown-fields: true, type: object}}
`
	profileConfigMap = `---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {title: "${TITLE}"}
`
)

// hclString quotes s for HCL, where ${ starts an interpolation: $${ is a
// literal ${ (what a profile's variables need).
func hclString(s string) string {
	return strings.ReplaceAll(strconv.Quote(s), "${", "$${")
}

// profileHCL is a profile with a manifests layer and a chart layer, and a
// cluster group that applies it.
func profileHCL(name, version, manifests, chart, values string) string {
	v := "null"
	if version != "" {
		v = fmt.Sprintf("%q", version)
	}
	return hcl(`
resource "nest_cluster_profile" "p" {
  name        = %q
  description = "widgets and a dashboard"
  version     = %s
  variables = {
    TITLE = "Builds"
  }
  layers = [
    {
      name      = "api"
      manifests = %s
    },
    {
      name      = "dashboard"
      chart     = %q
      namespace = "dash"
      values    = %s
    },
  ]
}

resource "nest_cluster_group" "g" {
  name = "%s-group"
  profiles = [
    {
      id        = nest_cluster_profile.p.id
      variables = { TITLE = "Team builds" }
    },
  ]
}

data "nest_cluster_profile" "p" {
  name       = nest_cluster_profile.p.name
  depends_on = [nest_cluster_profile.p]
}
`, name, v, hclString(manifests), chart, hclString(values), name)
}

// TestAccClusterProfile creates a profile with a chart directory, checks
// that respelled YAML and a moved chart publish nothing, that a change
// publishes a numbered version, import, drift and configured versions.
func TestAccClusterProfile(t *testing.T) {
	ctx := context.Background()
	chart := copyDir(t, filepath.Join("..", "..", "..", "examples", "profiles", "cicd", "charts", "dashboard"))
	moved := copyDir(t, chart)
	name := unique(t, "prof")
	const values = "title: ${TITLE}\nreplicas: 1\n"
	const valuesRespelled = "replicas: 1   # one\ntitle: ${TITLE}\n"
	var id string
	version := func(want string) resource.TestCheckFunc {
		return resource.TestCheckResourceAttr("nest_cluster_profile.p", "version", want)
	}
	sameID := resource.TestCheckResourceAttrWith("nest_cluster_profile.p", "id", func(v string) error {
		if id == "" {
			id = v
		}
		if v != id {
			return fmt.Errorf("id changed from %s to %s: replaced instead of updated", id, v)
		}
		return nil
	})
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: gone(t, "nest_cluster_profile", func(c *client.Client, a map[string]string) error {
			_, err := c.GetClusterProfile(ctx, a["id"])
			return err
		}),
		Steps: []resource.TestStep{
			{ // create: version 1, the chart packaged, attached to a group
				Config:           profileHCL(name, "", profileCRD, chart, values),
				ConfigPlanChecks: emptyPlan,
				Check: resource.ComposeAggregateTestCheckFunc(sameID, version("1"),
					resource.TestMatchResourceAttr("nest_cluster_profile.p", "layers.1.chart_sha256", regexp.MustCompile(`^[0-9a-f]{64}$`)),
					resource.TestCheckNoResourceAttr("nest_cluster_profile.p", "layers.0.chart_sha256"),
					resource.TestCheckResourceAttrPair("nest_cluster_group.g", "profiles.0.id", "nest_cluster_profile.p", "id"),
					resource.TestCheckResourceAttr("nest_cluster_group.g", "profiles.0.variables.TITLE", "Team builds"),
					resource.TestCheckResourceAttr("data.nest_cluster_profile.p", "versions.#", "1"),
					resource.TestCheckResourceAttr("data.nest_cluster_profile.p", "layers.1.kind", "helm"),
					resource.TestCheckResourceAttrPair("data.nest_cluster_profile.p", "layers.1.chart_sha256", "nest_cluster_profile.p", "layers.1.chart_sha256"),
					func(*terraform.State) error {
						p, err := admin(t).GetClusterProfile(ctx, id)
						if err != nil {
							return err
						}
						var spec profile.Profile
						if err := json.Unmarshal(p.Spec, &spec); err != nil {
							return err
						}
						if _, err := profile.LoadChart(spec.Layers[1].Chart); err != nil {
							return fmt.Errorf("the hub's chart archive does not load: %w", err)
						}
						return nil
					}),
			},
			{ // respelled YAML, the same chart elsewhere: no new version
				Config:           profileHCL(name, "", profileCRDRespelled, moved, valuesRespelled),
				ConfigPlanChecks: expect("nest_cluster_profile.p", plancheck.ResourceActionUpdate),
				Check:            resource.ComposeAggregateTestCheckFunc(sameID, version("1")),
			},
			{ // a new document: version 2, in place
				Config:           profileHCL(name, "", profileCRD+profileConfigMap, moved, values),
				ConfigPlanChecks: expect("nest_cluster_profile.p", plancheck.ResourceActionUpdate),
				Check: resource.ComposeAggregateTestCheckFunc(sameID, version("2"),
					resource.TestCheckResourceAttr("data.nest_cluster_profile.p", "versions.#", "2")),
			},
			{ // import by CLUSTER_PROFILE_ID (the hub has no chart paths)
				ResourceName:            "nest_cluster_profile.p",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"layers.1.chart"},
			},
			{ // drift: a version published outside Terraform
				PreConfig: func() {
					p, err := admin(t).GetClusterProfile(ctx, id)
					var spec profile.Profile
					if err == nil {
						err = json.Unmarshal(p.Spec, &spec)
					}
					if err == nil {
						spec.Version, spec.Description = "by-hand", "changed by hand"
						_, err = admin(t).UpdateClusterProfile(ctx, id, api.UpdateClusterProfileRequest{Profile: spec, ResourceVersion: p.ResourceVersion})
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:             profileHCL(name, "", profileCRD+profileConfigMap, moved, values),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{ // apply puts the content back as a new numbered version
				Config:           profileHCL(name, "", profileCRD+profileConfigMap, moved, values),
				ConfigPlanChecks: expect("nest_cluster_profile.p", plancheck.ResourceActionUpdate),
				Check: resource.ComposeAggregateTestCheckFunc(sameID, version("4"),
					resource.TestCheckResourceAttr("nest_cluster_profile.p", "description", "widgets and a dashboard")),
			},
			{ // the chart changes on disk: a new version
				PreConfig: func() {
					if err := os.WriteFile(filepath.Join(moved, "values.yaml"), []byte("title: Changed\nreplicas: 2\nimage: x\nservice: {port: 80}\n"), 0o644); err != nil {
						t.Fatal(err)
					}
				},
				Config:           profileHCL(name, "", profileCRD+profileConfigMap, moved, values),
				ConfigPlanChecks: expect("nest_cluster_profile.p", plancheck.ResourceActionUpdate),
				Check:            resource.ComposeAggregateTestCheckFunc(sameID, version("5")),
			},
			{ // a configured version must change with the content
				Config:      profileHCL(name, "5", profileCRD, moved, values),
				ExpectError: regexp.MustCompile(`(?s)A new version is needed.*versions are immutable`),
			},
			{
				Config:           profileHCL(name, "2.0.0", profileCRD, moved, values),
				ConfigPlanChecks: expect("nest_cluster_profile.p", plancheck.ResourceActionUpdate),
				Check:            resource.ComposeAggregateTestCheckFunc(sameID, version("2.0.0")),
			},
			{ // a new name replaces the profile
				Config:           profileHCL(name+"-b", "2.0.0", profileCRD, moved, values),
				ConfigPlanChecks: expect("nest_cluster_profile.p", plancheck.ResourceActionReplace),
			},
		},
	})
}

// TestAccClusterProfileErrors checks the refusals: no state is written,
// no profile is left on the hub.
func TestAccClusterProfileErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	viewer := newUser(t)
	key, err := admin(t).CreateAPIKey(ctx, viewer.ID, api.CreateAPIKeyRequest{Name: "tf"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, provider, layers, want string
	}{
		{"a key without clusterprofile.create", fmt.Sprintf("provider \"nest\" {\n  api_key = %q\n}\n", key.Key),
			`[{ name = "a", manifests = "kind: ConfigMap" }]`, `(?s)permission denied.*needs\s+clusterprofile\.create.*permission_denied`},
		{"neither manifests nor chart", "", `[{ name = "a" }]`, `(?s)set manifests.*or chart`},
		{"both", "", `[{ name = "a", manifests = "kind: ConfigMap", chart = "x" }]`, `(?s)Cannot read the chart|not both`},
		{"missing chart", "", fmt.Sprintf(`[{ name = "a", chart = %q }]`, filepath.Join(dir, "none")), `(?s)Cannot read the chart.*no such file`},
		{"not a chart", "", fmt.Sprintf(`[{ name = "a", chart = %q }]`, dir), `(?s)Cannot read the chart.*Chart.yaml`},
		{"bad YAML", "", `[{ name = "a", manifests = "a: [" }]`, `Invalid YAML`},
		{"undeclared variable (the hub's error)", "", `[{ name = "a", manifests = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: \"$${NOPE}\"}\n" }]`, `(?s)NOPE.*invalid_argument`},
		{"no layers", "", `[]`, `at least 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := unique(t, "bad")
			resource.ParallelTest(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: factories,
				Steps: []resource.TestStep{{
					Config: hcl(`%s
resource "nest_cluster_profile" "p" {
  name   = %q
  layers = %s
}
`, tc.provider, name, tc.layers),
					ExpectError: regexp.MustCompile(tc.want),
				}},
				CheckDestroy: func(*terraform.State) error {
					page, err := admin(t).ListClusterProfiles(ctx, client.ListOptions{Filters: map[string]string{"name": name}})
					if err != nil || len(page.Items) > 0 {
						return fmt.Errorf("profiles left after a failed apply: %v, %v", page.Items, err)
					}
					return nil
				},
			})
		})
	}
}
