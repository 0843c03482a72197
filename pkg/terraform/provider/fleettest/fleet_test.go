package fleettest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/profile"
)

func hcl(format string, args ...any) string {
	return `terraform {
  required_providers {
    nest = { source = "nestcluster/nest" }
  }
}
` + fmt.Sprintf(format, args...)
}

func admin(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: theHub.URL, APIKey: theHub.AdminKey, CACert: theHub.CACert})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func unique(prefix string) string {
	return fmt.Sprintf("%s-%x", prefix, time.Now().UnixNano()&0xffffffffff)
}

// project makes a tenant and a project for one test.
func project(t *testing.T) (tenantID, projectID string) {
	t.Helper()
	ctx := context.Background()
	tn, err := admin(t).CreateTenant(ctx, api.CreateTenantRequest{Name: unique("t")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := admin(t).CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID, p.ID
}

func attrs(s *terraform.State, name string) (map[string]string, error) {
	rs, ok := s.RootModule().Resources[name]
	if !ok {
		return nil, fmt.Errorf("%s is not in the state", name)
	}
	return rs.Primary.Attributes, nil
}

// fleet is a configuration of the three fleet resources on the local host.
type fleet struct {
	host, group        string // names
	tenantID, project  string
	kubeconfigPath     string
	cpu, pods          string
	paused             bool
	config             string
	withData           bool
	groupCPU, vcCreate string
	// Optional, with defaults: the virtual cluster's name ("dev"), the
	// descriptions ("the local host", ""), the group's memory ("4Gi") and
	// the host's kubeconfig_version (none).
	vcName, hostDescription, groupDescription, groupMemory, kubeconfigVersion string
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (f fleet) hcl() string {
	out := fmt.Sprintf(`
resource "nest_host_cluster" "local" {
  name               = %q
  description        = %q
  kubeconfig         = file(%q)
  kubeconfig_version = %s
}

resource "nest_cluster_group" "dev" {
  name             = %q
  description      = %q
  host_cluster_ids = [nest_host_cluster.local.id]
  quota = {
    cpu     = %q
    memory  = %q
    storage = "10Gi"
    pods    = "20"
  }
}

resource "nest_virtual_cluster" "dev" {
  tenant_id        = %q
  project_id       = %q
  name             = %q
  cluster_group_id = nest_cluster_group.dev.id
  quota = {
    cpu  = %q
    pods = %q
  }
  paused = %v
  config = %q
  timeouts = {
    create = %q
    delete = "5m"
  }
}
`, f.host, or(f.hostDescription, "the local host"), f.kubeconfigPath, or(f.kubeconfigVersion, "null"), f.group, f.groupDescription,
		f.groupCPU, or(f.groupMemory, "4Gi"), f.tenantID, f.project, or(f.vcName, "dev"), f.cpu, f.pods, f.paused, f.config, f.vcCreate)
	if f.withData {
		out += `
data "nest_virtual_cluster" "dev" {
  tenant_id  = nest_virtual_cluster.dev.tenant_id
  project_id = nest_virtual_cluster.dev.project_id
  name       = nest_virtual_cluster.dev.name
}

data "nest_virtual_cluster_kubeconfig" "dev" {
  tenant_id          = nest_virtual_cluster.dev.tenant_id
  project_id         = nest_virtual_cluster.dev.project_id
  virtual_cluster_id = nest_virtual_cluster.dev.id
}

data "nest_cluster_group" "dev" {
  name = nest_cluster_group.dev.name
}

data "nest_host_cluster" "local" {
  id = nest_host_cluster.local.id
}
`
	}
	return hcl("%s", out)
}

const (
	nestYAML = "apiVersion: nest.dev/v1alpha1\nkind: VirtualClusterConfig\n"
	// sameYAML is nestYAML spelled otherwise: no change.
	sameYAML = "# the same, spelled otherwise\nkind:   \"VirtualClusterConfig\"\napiVersion: nest.dev/v1alpha1\n\n"
)

// connects checks that the kubeconfig in the state reaches the virtual
// cluster's apiserver.
func connects(name string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		a, err := attrs(s, name)
		if err != nil {
			return err
		}
		cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(a["kubeconfig"]))
		if err != nil {
			return fmt.Errorf("the kubeconfig in the state: %w", err)
		}
		c, err := kubernetes.NewForConfig(kube.Tune(cfg))
		if err != nil {
			return err
		}
		nss, err := c.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("list namespaces with the kubeconfig: %w", err)
		}
		if len(nss.Items) == 0 {
			return fmt.Errorf("the virtual cluster has no namespaces")
		}
		return nil
	}
}

func sameID(name string, id *string) resource.TestCheckFunc {
	return resource.TestCheckResourceAttrWith(name, "id", func(v string) error {
		if *id == "" {
			*id = v
		}
		if v != *id {
			return fmt.Errorf("%s: id changed from %s to %s: replaced instead of updated in place", name, *id, v)
		}
		return nil
	})
}

func inPlace(addr string) resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
}

// TestAccFleet drives a host cluster, a cluster group and a virtual
// cluster through their life on the real local host: create until Ready,
// connect with the kubeconfig from the state, an empty second plan, pause
// and resume and resize in place, a YAML respelling without replacement,
// drift made through the hub's API, import, and a destroy that leaves
// nothing on the hub and no host namespace.
func TestAccFleet(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	tenantID, projectID := project(t)
	f := fleet{host: unique("host"), group: unique("group"), tenantID: tenantID, project: projectID,
		kubeconfigPath: env.Kubeconfig, groupCPU: "2", cpu: "1000m", pods: "10", config: nestYAML, vcCreate: "10m"}
	with := func(change func(*fleet)) string {
		g := f
		change(&g)
		return g.hcl()
	}
	const vc = "nest_virtual_cluster.dev"
	var vcID, namespace, groupID, hostID string
	ref := func() client.VirtualClusterRef {
		return client.VirtualClusterRef{TenantID: tenantID, ProjectID: projectID, ID: vcID}
	}
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := admin(t).GetVirtualCluster(ctx, ref()); !client.IsNotFound(err) {
				return fmt.Errorf("the virtual cluster after destroy: %v", err)
			}
			if namespace == "" {
				return fmt.Errorf("the test never saw the host namespace")
			}
			if _, err := env.Client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("host namespace %s after destroy: %v", namespace, err)
			}
			if _, err := admin(t).GetClusterGroup(ctx, groupID); !client.IsNotFound(err) {
				return fmt.Errorf("the cluster group after destroy: %v", err)
			}
			if _, err := admin(t).GetHostCluster(ctx, hostID); !client.IsNotFound(err) {
				return fmt.Errorf("the host cluster after destroy: %v", err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{ // create: Ready, reachable with the kubeconfig of the state; data sources agree
				Config:           with(func(f *fleet) { f.withData = true }),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: resource.ComposeAggregateTestCheckFunc(
					sameID(vc, &vcID),
					sameID("nest_cluster_group.dev", &groupID),
					sameID("nest_host_cluster.local", &hostID),
					resource.TestCheckResourceAttr("nest_host_cluster.local", "phase", store.HostReady),
					resource.TestCheckNoResourceAttr("nest_host_cluster.local", "kubeconfig"),
					resource.TestCheckResourceAttr(vc, "phase", store.VCReady),
					resource.TestCheckResourceAttr(vc, "quota.cpu", "1000m"),
					resource.TestCheckResourceAttr(vc, "quota.memory", "4Gi"), // the group's
					resource.TestCheckResourceAttr(vc, "config", nestYAML),
					resource.TestCheckResourceAttrPair(vc, "host_cluster_id", "nest_host_cluster.local", "id"),
					resource.TestCheckResourceAttrWith(vc, "namespace", func(v string) error {
						namespace = v
						_, err := env.Client.CoreV1().Namespaces().Get(ctx, v, metav1.GetOptions{})
						return err
					}),
					resource.TestCheckResourceAttrWith(vc, "endpoint", func(v string) error {
						if !strings.HasPrefix(v, "https://") {
							return fmt.Errorf("endpoint %q", v)
						}
						return nil
					}),
					connects(vc),
					resource.TestCheckResourceAttrPair("data.nest_virtual_cluster.dev", "id", vc, "id"),
					resource.TestCheckResourceAttr("data.nest_virtual_cluster.dev", "phase", store.VCReady),
					resource.TestCheckResourceAttrSet("data.nest_virtual_cluster_kubeconfig.dev", "kubeconfig"),
					resource.TestCheckResourceAttrPair("data.nest_cluster_group.dev", "id", "nest_cluster_group.dev", "id"),
					resource.TestCheckResourceAttr("data.nest_cluster_group.dev", "quota.cpu", "2"),
					resource.TestCheckResourceAttr("data.nest_host_cluster.local", "phase", store.HostReady),
				),
			},
			{ // pause in place
				Config:           with(func(f *fleet) { f.paused = true }),
				ConfigPlanChecks: inPlace(vc),
				Check: resource.ComposeAggregateTestCheckFunc(sameID(vc, &vcID),
					resource.TestCheckResourceAttr(vc, "phase", store.VCPaused),
					resource.TestCheckResourceAttr(vc, "paused", "true")),
			},
			{ // resume in place: reachable again
				Config:           f.hcl(),
				ConfigPlanChecks: inPlace(vc),
				Check: resource.ComposeAggregateTestCheckFunc(sameID(vc, &vcID),
					resource.TestCheckResourceAttr(vc, "phase", store.VCReady), connects(vc)),
			},
			{ // resize in place: the host quota follows
				Config:           with(func(f *fleet) { f.cpu, f.pods = "500m", "8" }),
				ConfigPlanChecks: inPlace(vc),
				Check: resource.ComposeAggregateTestCheckFunc(sameID(vc, &vcID),
					resource.TestCheckResourceAttr(vc, "quota.cpu", "500m"),
					func(*terraform.State) error {
						got, err := admin(t).GetVirtualCluster(ctx, ref())
						if err != nil {
							return err
						}
						if got.Quota.Pods != "8" || got.Status.ObservedGeneration != got.Generation {
							return fmt.Errorf("hub after the resize: quota %+v, generation %d observed %d", got.Quota, got.Generation, got.Status.ObservedGeneration)
						}
						return nil
					}),
			},
			{ // the same YAML spelled otherwise: no replacement
				Config: with(func(f *fleet) { f.cpu, f.pods, f.config = "500m", "8", sameYAML }),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(vc, plancheck.ResourceActionUpdate)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(sameID(vc, &vcID), resource.TestCheckResourceAttr(vc, "config", sameYAML)),
			},
			{ // drift: the quota changed through the hub's API shows in the plan
				PreConfig: func() {
					got, err := admin(t).GetVirtualCluster(ctx, ref())
					if err == nil {
						spec := api.VirtualClusterSpec{KubernetesVersion: got.KubernetesVersion, Quota: got.Quota, Paused: got.Paused, Profiles: got.Profiles}
						spec.Quota.Pods = "5"
						_, err = admin(t).UpdateVirtualCluster(ctx, ref(), api.UpdateVirtualClusterRequest{VirtualClusterSpec: spec, ResourceVersion: got.ResourceVersion})
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:             with(func(f *fleet) { f.cpu, f.pods, f.config = "500m", "8", sameYAML }),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{ // apply puts the configured quota back
				Config:           with(func(f *fleet) { f.cpu, f.pods, f.config = "500m", "8", sameYAML }),
				ConfigPlanChecks: inPlace(vc),
				Check:            resource.TestCheckResourceAttr(vc, "quota.pods", "8"),
			},
			{ // import, by TENANT_ID/PROJECT_ID/VIRTUAL_CLUSTER_ID
				Config:       with(func(f *fleet) { f.cpu, f.pods, f.config = "500m", "8", sameYAML }),
				ResourceName: vc, ImportState: true, ImportStateVerify: true,
				ImportStateIdFunc: func(s *terraform.State) (string, error) {
					return tenantID + "/" + projectID + "/" + vcID, nil
				},
				// The import reads the hub's spelling of the YAML and
				// downloads a new kubeconfig; nothing else differs.
				ImportStateVerifyIgnore: []string{"kubeconfig", "timeouts", "config", "resource_version"},
			},
			{
				Config:       with(func(f *fleet) { f.cpu, f.pods, f.config = "500m", "8", sameYAML }),
				ResourceName: "nest_cluster_group.dev", ImportState: true, ImportStateVerify: true,
			},
			{
				Config:       with(func(f *fleet) { f.cpu, f.pods, f.config = "500m", "8", sameYAML }),
				ResourceName: "nest_host_cluster.local", ImportState: true, ImportStateVerify: true,
				ImportStateVerifyIgnore: []string{"resource_version", "phase", "nodes", "kubernetes_version"},
			},
			{ // drift of the group: changed through the hub's API
				PreConfig: func() {
					g, err := admin(t).GetClusterGroup(ctx, groupID)
					if err == nil {
						spec := api.ClusterGroupSpec{Description: "changed by hand", HostClusterIDs: g.HostClusterIDs, Quota: g.Quota,
							MaxVirtualClusters: g.MaxVirtualClusters, OversubscriptionPercent: g.OversubscriptionPercent,
							EndpointType: g.EndpointType, DefaultConfig: g.DefaultConfig}
						_, err = admin(t).UpdateClusterGroup(ctx, groupID, api.UpdateClusterGroupRequest{ClusterGroupSpec: spec, ResourceVersion: g.ResourceVersion})
					}
					if err != nil {
						t.Fatal(err)
					}
				},
				Config:             with(func(f *fleet) { f.cpu, f.pods, f.config = "500m", "8", sameYAML }),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{ // host and group change in place: descriptions, a new kubeconfig sent, the group's quota
				Config: with(func(f *fleet) {
					f.cpu, f.pods, f.config = "500m", "8", sameYAML
					f.hostDescription, f.kubeconfigVersion, f.groupDescription, f.groupMemory = "still local", `"2"`, "for tests", "8Gi"
				}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("nest_host_cluster.local", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("nest_cluster_group.dev", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction(vc, plancheck.ResourceActionNoop),
					},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					sameID("nest_host_cluster.local", &hostID), sameID("nest_cluster_group.dev", &groupID),
					resource.TestCheckResourceAttr("nest_host_cluster.local", "description", "still local"),
					resource.TestCheckResourceAttr("nest_cluster_group.dev", "quota.memory", "8Gi"),
					func(*terraform.State) error {
						g, err := admin(t).GetClusterGroup(ctx, groupID)
						if err != nil || g.Description != "for tests" || g.Quota.Memory != "8Gi" {
							return fmt.Errorf("the group on the hub: %+v, %v", g, err)
						}
						return nil
					}),
			},
			{ // a new name replaces the virtual cluster (the plan says so)
				Config: with(func(f *fleet) {
					f.cpu, f.pods, f.config, f.vcName = "500m", "8", sameYAML, "dev2"
					f.hostDescription, f.kubeconfigVersion, f.groupDescription, f.groupMemory = "still local", `"2"`, "for tests", "8Gi"
				}),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(vc, plancheck.ResourceActionReplace)},
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(vc, "name", "dev2"),
					resource.TestCheckResourceAttr(vc, "phase", store.VCReady),
					func(s *terraform.State) error {
						old := ref()
						if _, err := admin(t).GetVirtualCluster(ctx, old); !client.IsNotFound(err) {
							return fmt.Errorf("the replaced virtual cluster: %v", err)
						}
						if _, err := env.Client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
							return fmt.Errorf("the replaced virtual cluster's host namespace %s: %v", namespace, err)
						}
						a, err := attrs(s, vc)
						if err != nil {
							return err
						}
						vcID, namespace = a["id"], a["namespace"] // what destroy must remove now
						return nil
					}),
			},
		},
	})
}

// TestAccFleetErrors checks what a user sees when the hub or the provider
// refuses a virtual cluster: no state is written, nothing is left on the
// hub.
func TestAccFleetErrors(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	c := admin(t)
	tenantID, projectID := project(t)
	kc, err := readFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	host, err := c.CreateHostCluster(ctx, api.CreateHostClusterRequest{Name: unique("host"), Kubeconfig: kc})
	if err != nil {
		t.Fatal(err)
	}
	group, err := c.CreateClusterGroup(ctx, api.CreateClusterGroupRequest{Name: unique("group"),
		ClusterGroupSpec: api.ClusterGroupSpec{HostClusterIDs: []string{host.ID}, Quota: store.Resources{CPU: "1", Pods: "10"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.DeleteClusterGroup(ctx, group.ID, 0)
		_ = c.DeleteHostCluster(ctx, host.ID, 0)
	})
	viewer, err := c.CreateUser(ctx, api.CreateUserRequest{Name: unique("viewer")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRoleBinding(ctx, client.Scope{TenantID: tenantID, ProjectID: projectID},
		api.CreateRoleBindingRequest{Name: "viewer", Role: "project-viewer", SubjectKind: store.SubjectUser, SubjectID: viewer.ID}); err != nil {
		t.Fatal(err)
	}
	key, err := c.CreateAPIKey(ctx, viewer.ID, api.CreateAPIKeyRequest{Name: "tf"})
	if err != nil {
		t.Fatal(err)
	}
	var vc func(group, cpu string) string
	prof, err := c.CreateClusterProfile(ctx, api.ClusterProfileRequest{Profile: profile.Profile{Name: unique("prof"), Version: "1",
		Layers: []profile.Layer{{Name: "a", Kind: profile.KindManifests, Manifests: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteClusterProfile(ctx, prof.ID, 0, true) })
	withProfiles := func(refs string) string {
		return hcl("%s", strings.Replace(vc(group.ID, "1"), "quota = {", "profiles = "+refs+"\n  quota = {", 1))
	}
	vc = func(group, cpu string) string {
		return fmt.Sprintf(`
resource "nest_virtual_cluster" "dev" {
  tenant_id        = %q
  project_id       = %q
  name             = "dev"
  cluster_group_id = %q
  quota = {
    cpu = %q
  }
}
`, tenantID, projectID, group, cpu)
	}
	tests := []struct {
		name   string
		config string
		want   string
	}{
		{"bad quota value (the provider's field error)", hcl("%s", vc(group.ID, "lots")), `(?s)Invalid quantity.*"lots" must be a Kubernetes quantity`},
		{"quota above the group's (the hub's field error)", hcl("%s", vc(group.ID, "4")), `(?s)more than the cluster group allows.*invalid_argument`},
		{"unknown cluster group", hcl("%s", vc("0000000000000000000000000000", "1")), `(?s)no cluster group has id.*invalid_argument`},
		{"viewer's API key", hcl(`
provider "nest" {
  api_key = %q
}
%s`, key.Key, vc(group.ID, "1")), `(?s)permission denied.*virtualcluster\.create.*permission_denied`},
		{"bad timeout", hcl("%s", strings.Replace(vc(group.ID, "1"), "quota = {", "timeouts = {\n    create = \"soon\"\n  }\n  quota = {", 1)), `Invalid duration`},
		{"bad YAML", hcl("%s", strings.Replace(vc(group.ID, "1"), "quota = {", "config = \"a: [\"\n  quota = {", 1)), `Invalid YAML`},
		{"unknown profile", withProfiles(`[{ id = "0000000000000000000000000000" }]`), `(?s)no cluster profile has id.*invalid_argument`},
		{"unknown profile version", withProfiles(fmt.Sprintf(`[{ id = %q, version = "9" }]`, prof.ID)), `(?s)has no\s+version "9".*invalid_argument`},
		{"undeclared variable", withProfiles(fmt.Sprintf(`[{ id = %q, variables = { NOPE = "x" } }]`, prof.ID)), `(?s)NOPE.*invalid_argument`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resource.Test(t, resource.TestCase{
				PreCheck:                 func() { preCheck(t) },
				ProtoV6ProviderFactories: factories,
				Steps:                    []resource.TestStep{{Config: tc.config, ExpectError: regexp.MustCompile(tc.want)}},
			})
			page, err := c.ListVirtualClusters(ctx, tenantID, projectID, client.ListOptions{})
			if err != nil || len(page.Items) != 0 {
				t.Fatalf("virtual clusters left after a failed apply: %+v, %v", page.Items, err)
			}
		})
	}
}

func readFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}

// TestAccVirtualClusterTimeout: a create that times out fails without
// state; applying again waits for the same virtual cluster (the create's
// Idempotency-Key is made from the request) instead of making a second.
func TestAccVirtualClusterTimeout(t *testing.T) {
	env := testenv.Get(t)
	ctx := context.Background()
	tenantID, projectID := project(t)
	f := fleet{host: unique("host"), group: unique("group"), tenantID: tenantID, project: projectID,
		kubeconfigPath: env.Kubeconfig, groupCPU: "2", cpu: "1", pods: "10", config: nestYAML, vcCreate: "1s"}
	count := func(want int) func() error {
		return func() error {
			page, err := admin(t).ListVirtualClusters(ctx, tenantID, projectID, client.ListOptions{})
			if err != nil {
				return err
			}
			if len(page.Items) != want {
				return fmt.Errorf("%d virtual clusters in the project, want %d", len(page.Items), want)
			}
			return nil
		}
	}
	slow := f
	slow.vcCreate = "10m"
	resource.ParallelTest(t, resource.TestCase{
		PreCheck:                 func() { preCheck(t) },
		ProtoV6ProviderFactories: factories,
		CheckDestroy:             func(*terraform.State) error { return count(0)() },
		Steps: []resource.TestStep{
			{Config: f.hcl(), ExpectError: regexp.MustCompile(`(?s)timed out after 1s.*applying.*again.*waits`)},
			{
				PreConfig: func() {
					if err := count(1)(); err != nil {
						t.Fatal(err)
					}
				},
				Config:           slow.hcl(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr("nest_virtual_cluster.dev", "phase", store.VCReady),
					func(*terraform.State) error { return count(1)() }),
			},
		},
	})
}
