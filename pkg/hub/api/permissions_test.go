package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// allowedRoles is the expected access of every route, by operation id: the
// built-in roles that may call it when bound as in TestRoutePermissions
// (hub-admin globally, tenant-admin on the tenant, the others on the
// project). A route missing here fails the test: a new route cannot be
// added without saying who may call it.
var allowedRoles = map[string]string{
	"whoAmI": "all",
	// Public: takes no API key, authenticates itself (TestLogin).
	"login": "none",

	"listTenants":  "hub-admin",
	"createTenant": "hub-admin",
	"getTenant":    "hub-admin tenant-admin",
	"updateTenant": "hub-admin tenant-admin",
	"deleteTenant": "hub-admin",

	"listProjects":  "hub-admin tenant-admin",
	"createProject": "hub-admin tenant-admin",
	"getProject":    "all",
	"updateProject": "hub-admin tenant-admin project-admin",
	"deleteProject": "hub-admin tenant-admin",

	"listUsers":  "hub-admin",
	"createUser": "hub-admin",
	"getUser":    "hub-admin",
	"updateUser": "hub-admin",
	"deleteUser": "hub-admin",

	"listTeams":        "hub-admin tenant-admin",
	"createTeam":       "hub-admin tenant-admin",
	"getTeam":          "hub-admin tenant-admin",
	"updateTeam":       "hub-admin tenant-admin",
	"deleteTeam":       "hub-admin tenant-admin",
	"listTeamMembers":  "hub-admin tenant-admin",
	"addTeamMember":    "hub-admin tenant-admin",
	"removeTeamMember": "hub-admin tenant-admin",

	"listPermissions": "hub-admin tenant-admin project-admin project-editor project-viewer",
	"listRoles":       "hub-admin tenant-admin project-admin project-editor project-viewer",
	"getRole":         "hub-admin tenant-admin project-admin project-editor project-viewer",
	"createRole":      "hub-admin",
	"updateRole":      "hub-admin",
	"deleteRole":      "hub-admin",

	"listGlobalRoleBindings":   "hub-admin",
	"createGlobalRoleBinding":  "hub-admin",
	"getGlobalRoleBinding":     "hub-admin",
	"deleteGlobalRoleBinding":  "hub-admin",
	"listTenantRoleBindings":   "hub-admin tenant-admin",
	"createTenantRoleBinding":  "hub-admin tenant-admin",
	"getTenantRoleBinding":     "hub-admin tenant-admin",
	"deleteTenantRoleBinding":  "hub-admin tenant-admin",
	"listProjectRoleBindings":  "hub-admin tenant-admin project-admin",
	"createProjectRoleBinding": "hub-admin tenant-admin project-admin",
	"getProjectRoleBinding":    "hub-admin tenant-admin project-admin",
	"deleteProjectRoleBinding": "hub-admin tenant-admin project-admin",

	"listAPIKeys":  "all",
	"createAPIKey": "all",
	"revokeAPIKey": "all",

	"listUserAPIKeys":  "hub-admin",
	"createUserAPIKey": "hub-admin",
	"revokeUserAPIKey": "hub-admin",

	"listHostClusters":  "hub-admin",
	"createHostCluster": "hub-admin",
	"getHostCluster":    "hub-admin",
	"updateHostCluster": "hub-admin",
	"deleteHostCluster": "hub-admin",

	"listClusterGroups":  "hub-admin",
	"createClusterGroup": "hub-admin",
	"getClusterGroup":    "hub-admin",
	"updateClusterGroup": "hub-admin",
	"deleteClusterGroup": "hub-admin",

	"listClusterProfiles":        "hub-admin tenant-admin project-admin project-editor project-viewer",
	"getClusterProfile":          "hub-admin tenant-admin project-admin project-editor project-viewer",
	"listClusterProfileVersions": "hub-admin tenant-admin project-admin project-editor project-viewer",
	"getClusterProfileVersion":   "hub-admin tenant-admin project-admin project-editor project-viewer",
	"createClusterProfile":       "hub-admin",
	"updateClusterProfile":       "hub-admin",
	"deleteClusterProfile":       "hub-admin",

	"listAllVirtualClusters":      "hub-admin tenant-admin project-admin project-editor project-viewer virtualcluster-admin",
	"listVirtualClusters":         "hub-admin tenant-admin project-admin project-editor project-viewer virtualcluster-admin",
	"createVirtualCluster":        "hub-admin tenant-admin project-admin project-editor virtualcluster-admin",
	"getVirtualCluster":           "hub-admin tenant-admin project-admin project-editor project-viewer virtualcluster-admin",
	"updateVirtualCluster":        "hub-admin tenant-admin project-admin project-editor virtualcluster-admin",
	"deleteVirtualCluster":        "hub-admin tenant-admin project-admin project-editor virtualcluster-admin",
	"getVirtualClusterKubeconfig": "hub-admin tenant-admin project-admin project-editor virtualcluster-admin",

	"streamEvents": "hub-admin tenant-admin project-admin project-editor project-viewer virtualcluster-admin",

	"listAudit":       "hub-admin",
	"listTenantAudit": "hub-admin tenant-admin",
}

// permFixture is what every permission case calls routes on.
type permFixture struct {
	tenant, project, user, team, role, ownKey, userKey string
	hostCluster, clusterGroup, fullGroup, vc           string
	clusterProfile                                     string
	bindings                                           map[api.ScopeKind]string
}

func newPermFixture(t *testing.T, s *store.Store, role string) (*permFixture, string) {
	ctx := context.Background()
	f := &permFixture{bindings: map[api.ScopeKind]string{}}
	tn := &store.Tenant{Meta: store.Meta{Name: "t"}}
	mustDo(t, s.Tenants.Create(ctx, tn))
	p := &store.Project{Meta: store.Meta{Name: "p"}, TenantID: tn.ID}
	mustDo(t, s.Projects.Create(ctx, p))
	other, _ := userWithKey(t, s, "other")
	team := &store.Team{Meta: store.Meta{Name: "team"}, TenantID: tn.ID}
	mustDo(t, s.Teams.Create(ctx, team))
	_, err := s.AddTeamMember(ctx, team.ID, other.ID)
	mustDo(t, err)
	custom := &store.Role{Meta: store.Meta{Name: "custom"}, Permissions: []string{"project.get"}}
	mustDo(t, s.Roles.Create(ctx, custom))
	f.tenant, f.project, f.user, f.team, f.role = tn.ID, p.ID, other.ID, team.ID, custom.ID
	f.bindings[api.ScopeGlobal] = bind(t, s, "g", auth.RoleProjectViewer, other.ID, "", "").ID
	f.bindings[api.ScopeTenant] = bind(t, s, "t", auth.RoleProjectViewer, other.ID, tn.ID, "").ID
	f.bindings[api.ScopeProject] = bind(t, s, "p", auth.RoleProjectViewer, other.ID, tn.ID, p.ID).ID

	caller, key := userWithKey(t, s, "caller")
	switch role {
	case auth.RoleHubAdmin:
		bind(t, s, "caller", role, caller.ID, "", "")
	case auth.RoleTenantAdmin:
		bind(t, s, "caller", role, caller.ID, tn.ID, "")
	default:
		bind(t, s, "caller", role, caller.ID, tn.ID, p.ID)
	}
	own := &store.APIKey{Meta: store.Meta{Name: "second"}, UserID: caller.ID, Prefix: "prefix-own-1", KeyHash: "x"}
	mustDo(t, s.APIKeys.Create(ctx, own))
	f.ownKey = own.ID
	theirs := &store.APIKey{Meta: store.Meta{Name: "theirs"}, UserID: other.ID, Prefix: "prefix-their", KeyHash: "x"}
	mustDo(t, s.APIKeys.Create(ctx, theirs))
	f.userKey = theirs.ID

	// A ready host in a group with a ready virtual cluster; a spare host
	// and an empty group for the routes that change or delete them.
	host := &store.HostCluster{Meta: store.Meta{Name: "host"}, KubeconfigEnc: "enc:v1:x",
		Status: store.HostClusterStatus{Phase: store.HostReady, Capacity: store.Resources{CPU: "8", Memory: "32Gi", Storage: "100Gi", Pods: "110"}}}
	mustDo(t, s.HostClusters.Create(ctx, host))
	spare := &store.HostCluster{Meta: store.Meta{Name: "spare"}, KubeconfigEnc: "enc:v1:x"}
	mustDo(t, s.HostClusters.Create(ctx, spare))
	full := &store.ClusterGroup{Meta: store.Meta{Name: "full"}, HostClusterIDs: []string{host.ID}, Quota: store.Resources{CPU: "1"}, EndpointType: store.EndpointLocal}
	mustDo(t, s.ClusterGroups.Create(ctx, full))
	empty := &store.ClusterGroup{Meta: store.Meta{Name: "empty"}, HostClusterIDs: []string{}, EndpointType: store.EndpointLocal}
	mustDo(t, s.ClusterGroups.Create(ctx, empty))
	vc := &store.VirtualCluster{Meta: store.Meta{Name: "vc"}, TenantID: tn.ID, ProjectID: p.ID, ClusterGroupID: full.ID,
		Quota: store.Resources{CPU: "1"}, Profiles: []store.ProfileRef{}, Generation: 1,
		Status: store.VirtualClusterStatus{Phase: store.VCReady, HostClusterID: host.ID}}
	mustDo(t, s.VirtualClusters.Create(ctx, vc))
	f.hostCluster, f.clusterGroup, f.fullGroup, f.vc = spare.ID, empty.ID, full.ID, vc.ID
	f.clusterProfile = storeProfile(t, s, "base", "1")
	return f, key
}

func (f *permFixture) path(rt api.Route) string {
	key := f.ownKey
	if strings.Contains(rt.Path, "{user}") {
		key = f.userKey
	}
	r := strings.NewReplacer("{tenant}", f.tenant, "{project}", f.project, "{user}", f.user, "{team}", f.team,
		"{role}", f.role, "{key}", key, "{binding}", f.bindings[rt.Scope],
		"{hostcluster}", f.hostCluster, "{clustergroup}", f.clusterGroup, "{virtualcluster}", f.vc,
		"{clusterprofile}", f.clusterProfile, "{version}", "1")
	path := r.Replace(rt.Path)
	if rt.ID == "deleteProject" || rt.ID == "deleteTenant" {
		path += "?force=true" // the fixture's project has a virtual cluster
	}
	return path
}

// body is a valid request body for the route.
func (f *permFixture) body(rt api.Route) any {
	if rt.Request == nil {
		return nil
	}
	switch {
	case rt.ID == "createClusterProfile":
		return testProfile("new", "1")
	case rt.ID == "updateClusterProfile":
		p := testProfile("base", "2")
		p["resourceVersion"] = 1
		return p
	case rt.ID == "updateRole":
		return map[string]any{"resourceVersion": 1, "permissions": []string{"project.list"}}
	case strings.HasPrefix(rt.ID, "update"):
		return map[string]any{"resourceVersion": 1}
	case strings.HasSuffix(rt.ID, "RoleBinding"):
		return map[string]any{"name": "new", "role": auth.RoleProjectViewer, "subjectKind": "user", "subjectId": f.user}
	case rt.ID == "createRole":
		return map[string]any{"name": "new", "permissions": []string{"project.get"}}
	case rt.ID == "createHostCluster":
		return map[string]any{"name": "new", "kubeconfig": testHostKubeconfig}
	case rt.ID == "createVirtualCluster":
		return map[string]any{"name": "new", "clusterGroupId": f.fullGroup}
	}
	return map[string]any{"name": "new"}
}

// TestRoutePermissions calls every route as every built-in role and checks
// that exactly the expected roles get through (with a 2xx: the call works,
// not just passes the check) and the others get 403.
func TestRoutePermissions(t *testing.T) {
	t.Parallel()
	var builtins []string
	for _, r := range auth.BuiltinRoles() {
		builtins = append(builtins, r.Name)
	}
	routes := api.Routes()
	for _, rt := range routes {
		if _, ok := allowedRoles[rt.ID]; !ok {
			t.Errorf("route %s (%s) has no entry in allowedRoles: say which built-in roles may call it", rt.ID, rt.Pattern())
		}
	}
	if len(allowedRoles) != len(routes) {
		t.Errorf("allowedRoles has %d entries for %d routes: remove the stale ones", len(allowedRoles), len(routes))
	}
	for _, rt := range routes {
		if rt.Public {
			continue
		}
		for _, role := range builtins {
			allowed := allowedRoles[rt.ID] == "all" || slices.Contains(strings.Fields(allowedRoles[rt.ID]), role)
			t.Run(fmt.Sprintf("%s/%s", rt.ID, role), func(t *testing.T) {
				t.Parallel()
				s := storetest.SQLite.Open(t)
				h := newHub(t, s)
				f, key := newPermFixture(t, s, role)
				resp := h.do(rt.Method, f.path(rt), key, f.body(rt))
				switch {
				case allowed && (resp.status < 200 || resp.status > 299):
					t.Fatalf("%s as %s: status %d, want 2xx: %s", rt.Pattern(), role, resp.status, resp.body)
				case !allowed && resp.status != http.StatusForbidden:
					t.Fatalf("%s as %s: status %d, want 403: %s", rt.Pattern(), role, resp.status, resp.body)
				}
			})
		}
	}
}
