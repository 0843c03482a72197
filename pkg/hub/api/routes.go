package api

import (
	"net/http"
	"sort"
)

// Path prefixes.
const (
	V1      = "/api/v1"
	tenant  = V1 + "/tenants/{tenant}"
	project = tenant + "/projects/{project}"
	vcPath  = project + "/virtualclusters/{virtualcluster}"
	team    = tenant + "/teams/{team}"
)

const (
	mGet    = http.MethodGet
	mPost   = http.MethodPost
	mPut    = http.MethodPut
	mDelete = http.MethodDelete
)

// Routes is the route table of the API: the server registers exactly these
// routes, the OpenAPI document is generated from them, and the permission
// test covers each of them for each built-in role.
func Routes() []Route {
	routes := []Route{
		route("whoAmI", mGet, V1+"/whoami", "", ScopeAny, "user", "The caller: its user, key and grants", whoAmI),
		route("login", mPost, V1+"/login", "", ScopeNone, "apikey", "Exchange a user's name and password for a new API key valid 12 hours (takes no API key; failures are rate limited per address like bad keys)", login).public(),

		route("listTenants", mGet, V1+"/tenants", "tenant.list", ScopeGlobal, "tenant", "List tenants", listTenants).asList("name"),
		route("createTenant", mPost, V1+"/tenants", "tenant.create", ScopeGlobal, "tenant", "Create a tenant", createTenant),
		route("getTenant", mGet, tenant, "tenant.get", ScopeTenant, "tenant", "Get a tenant", getTenant),
		route("updateTenant", mPut, tenant, "tenant.update", ScopeTenant, "tenant", "Update a tenant", updateTenant),
		route("deleteTenant", mDelete, tenant, "tenant.delete", ScopeTenant, "tenant", "Delete a tenant with its projects, teams and role bindings (one with virtual clusters only with force=true, which deletes them too)", deleteTenant).withQuery("resourceVersion", "force"),

		route("listProjects", mGet, tenant+"/projects", "project.list", ScopeTenant, "project", "List the projects of a tenant", listProjects).asList("name"),
		route("createProject", mPost, tenant+"/projects", "project.create", ScopeTenant, "project", "Create a project", createProject),
		route("getProject", mGet, project, "project.get", ScopeProject, "project", "Get a project", getProject),
		route("updateProject", mPut, project, "project.update", ScopeProject, "project", "Update a project", updateProject),
		route("deleteProject", mDelete, project, "project.delete", ScopeProject, "project", "Delete a project (one with virtual clusters only with force=true, which deletes them too)", deleteProject).withQuery("resourceVersion", "force"),

		route("listUsers", mGet, V1+"/users", "user.list", ScopeGlobal, "user", "List users", listUsers).asList("name"),
		route("createUser", mPost, V1+"/users", "user.create", ScopeGlobal, "user", "Create a user", createUser),
		route("getUser", mGet, V1+"/users/{user}", "user.get", ScopeGlobal, "user", "Get a user", getUser),
		route("updateUser", mPut, V1+"/users/{user}", "user.update", ScopeGlobal, "user", "Update a user", updateUser),
		route("deleteUser", mDelete, V1+"/users/{user}", "user.delete", ScopeGlobal, "user", "Delete a user with its keys and role bindings", deleteUser).withQuery("resourceVersion"),

		route("listTeams", mGet, tenant+"/teams", "team.list", ScopeTenant, "team", "List the teams of a tenant", listTeams).asList("name"),
		route("createTeam", mPost, tenant+"/teams", "team.create", ScopeTenant, "team", "Create a team", createTeam),
		route("getTeam", mGet, team, "team.get", ScopeTenant, "team", "Get a team", getTeam),
		route("updateTeam", mPut, team, "team.update", ScopeTenant, "team", "Update a team", updateTeam),
		route("deleteTeam", mDelete, team, "team.delete", ScopeTenant, "team", "Delete a team and its role bindings", deleteTeam).withQuery("resourceVersion"),
		route("listTeamMembers", mGet, team+"/members", "team.get", ScopeTenant, "team", "List the members of a team", listTeamMembers),
		route("addTeamMember", mPut, team+"/members/{user}", "team.update", ScopeTenant, "team", "Add a user to a team", addTeamMember),
		route("removeTeamMember", mDelete, team+"/members/{user}", "team.update", ScopeTenant, "team", "Remove a user from a team", removeTeamMember),

		route("listPermissions", mGet, V1+"/permissions", "role.list", ScopeAny, "role", "List every permission (resource.verb) roles can grant", listPermissions),
		route("listRoles", mGet, V1+"/roles", "role.list", ScopeAny, "role", "List built-in and custom roles", listRoles).asList("name"),
		route("createRole", mPost, V1+"/roles", "role.create", ScopeGlobal, "role", "Create a custom role", createRole),
		route("getRole", mGet, V1+"/roles/{role}", "role.get", ScopeAny, "role", "Get a role", getRole),
		route("updateRole", mPut, V1+"/roles/{role}", "role.update", ScopeGlobal, "role", "Update a custom role", updateRole),
		route("deleteRole", mDelete, V1+"/roles/{role}", "role.delete", ScopeGlobal, "role", "Delete a custom role and its bindings", deleteRole).withQuery("resourceVersion"),

		route("listAPIKeys", mGet, V1+"/apikeys", "apikey.list", ScopeAny, "apikey", "List the caller's API keys (never their secrets)", listAPIKeys).asList("name"),
		route("createAPIKey", mPost, V1+"/apikeys", "apikey.create", ScopeAny, "apikey", "Create an API key for the caller; the response holds the secret, shown only this once", createAPIKey),
		route("revokeAPIKey", mDelete, V1+"/apikeys/{key}", "apikey.delete", ScopeAny, "apikey", "Revoke one of the caller's API keys", revokeAPIKey),
		route("listUserAPIKeys", mGet, V1+"/users/{user}/apikeys", "user.get", ScopeGlobal, "apikey", "List a user's API keys (never their secrets)", listAPIKeys).asList("name"),
		route("createUserAPIKey", mPost, V1+"/users/{user}/apikeys", "user.update", ScopeGlobal, "apikey", "Create an API key for a user; the response holds the secret, shown only this once", createAPIKey),
		route("revokeUserAPIKey", mDelete, V1+"/users/{user}/apikeys/{key}", "user.update", ScopeGlobal, "apikey", "Revoke one of a user's API keys", revokeAPIKey),

		route("listHostClusters", mGet, V1+"/hostclusters", "hostcluster.list", ScopeGlobal, "hostcluster", "List host clusters with their health and capacity", listHostClusters).asList("name", "phase"),
		route("createHostCluster", mPost, V1+"/hostclusters", "hostcluster.create", ScopeGlobal, "hostcluster", "Register a host cluster by kubeconfig (stored encrypted, never returned)", createHostCluster),
		route("getHostCluster", mGet, V1+"/hostclusters/{hostcluster}", "hostcluster.get", ScopeGlobal, "hostcluster", "Get a host cluster", getHostCluster),
		route("updateHostCluster", mPut, V1+"/hostclusters/{hostcluster}", "hostcluster.update", ScopeGlobal, "hostcluster", "Update a host cluster's description or kubeconfig", updateHostCluster),
		route("deleteHostCluster", mDelete, V1+"/hostclusters/{hostcluster}", "hostcluster.delete", ScopeGlobal, "hostcluster", "Forget a host cluster that runs no virtual cluster and is in no group", deleteHostCluster).withQuery("resourceVersion"),

		route("listClusterGroups", mGet, V1+"/clustergroups", "clustergroup.list", ScopeGlobal, "clustergroup", "List cluster groups", listClusterGroups).asList("name"),
		route("createClusterGroup", mPost, V1+"/clustergroups", "clustergroup.create", ScopeGlobal, "clustergroup", "Create a cluster group of host clusters with its quotas and defaults", createClusterGroup),
		route("getClusterGroup", mGet, V1+"/clustergroups/{clustergroup}", "clustergroup.get", ScopeGlobal, "clustergroup", "Get a cluster group", getClusterGroup),
		route("updateClusterGroup", mPut, V1+"/clustergroups/{clustergroup}", "clustergroup.update", ScopeGlobal, "clustergroup", "Update a cluster group", updateClusterGroup),
		route("deleteClusterGroup", mDelete, V1+"/clustergroups/{clustergroup}", "clustergroup.delete", ScopeGlobal, "clustergroup", "Delete a cluster group without virtual clusters", deleteClusterGroup).withQuery("resourceVersion"),

		route("listClusterProfiles", mGet, V1+"/clusterprofiles", "clusterprofile.list", ScopeAny, "clusterprofile", "List cluster profiles (without their layers)", listClusterProfiles).asList("name"),
		route("createClusterProfile", mPost, V1+"/clusterprofiles", "clusterprofile.create", ScopeGlobal, "clusterprofile", "Upload a cluster profile: ordered layers of manifests and Helm chart archives, with variables", createClusterProfile).withMaxBody(maxProfileBytes),
		route("getClusterProfile", mGet, V1+"/clusterprofiles/{clusterprofile}", "clusterprofile.get", ScopeAny, "clusterprofile", "Get a cluster profile with its current version's layers", getClusterProfile),
		route("updateClusterProfile", mPut, V1+"/clusterprofiles/{clusterprofile}", "clusterprofile.update", ScopeGlobal, "clusterprofile", "Upload a new version of a cluster profile; the virtual clusters that follow its latest version get it", updateClusterProfile).withMaxBody(maxProfileBytes),
		route("deleteClusterProfile", mDelete, V1+"/clusterprofiles/{clusterprofile}", "clusterprofile.delete", ScopeGlobal, "clusterprofile", "Delete a cluster profile and its versions (one attached to groups or virtual clusters only with force=true, which detaches it)", deleteClusterProfile).withQuery("resourceVersion", "force"),
		route("listClusterProfileVersions", mGet, V1+"/clusterprofiles/{clusterprofile}/versions", "clusterprofile.get", ScopeAny, "clusterprofile", "List the versions of a cluster profile, oldest first", listClusterProfileVersions),
		route("getClusterProfileVersion", mGet, V1+"/clusterprofiles/{clusterprofile}/versions/{version}", "clusterprofile.get", ScopeAny, "clusterprofile", "Get one version of a cluster profile", getClusterProfileVersion),

		route("listAllVirtualClusters", mGet, V1+"/virtualclusters", "virtualcluster.list", ScopeAny, "virtualcluster", "List the virtual clusters of every project the caller may list them in (the fleet)", listAllVirtualClusters).asList("name", "phase", "clusterGroupId", "tenantId", "projectId").cached("virtual_clusters"),
		route("listVirtualClusters", mGet, project+"/virtualclusters", "virtualcluster.list", ScopeProject, "virtualcluster", "List the virtual clusters of a project", listVirtualClusters).asList("name", "phase", "clusterGroupId").cached("virtual_clusters"),
		route("createVirtualCluster", mPost, project+"/virtualclusters", "virtualcluster.create", ScopeProject, "virtualcluster", "Create a virtual cluster on a cluster group; the reconciler provisions it", createVirtualCluster),
		route("getVirtualCluster", mGet, vcPath, "virtualcluster.get", ScopeProject, "virtualcluster", "Get a virtual cluster with its status", getVirtualCluster),
		route("updateVirtualCluster", mPut, vcPath, "virtualcluster.update", ScopeProject, "virtualcluster", "Pause, resume, resize, upgrade or change the profiles of a virtual cluster", updateVirtualCluster),
		route("deleteVirtualCluster", mDelete, vcPath, "virtualcluster.delete", ScopeProject, "virtualcluster", "Delete a virtual cluster: it turns Deleting, and goes once the reconciler removed it from its host", deleteVirtualCluster).withQuery("resourceVersion").withStatus(http.StatusAccepted),
		route("getVirtualClusterKubeconfig", mGet, vcPath+"/kubeconfig", "virtualcluster.kubeconfig", ScopeProject, "virtualcluster", "Download the admin kubeconfig of a Ready virtual cluster (recorded in the audit log)", getVirtualClusterKubeconfig),

		route("streamEvents", mGet, V1+"/events/stream", "virtualcluster.list", ScopeAny, "virtualcluster",
			"Stream server-sent events (text/event-stream): each change of a virtual cluster the caller may get, as it is stored (event virtualcluster, or deleted); each event's data is this JSON; the stream ends after a while (event reconnect) and the client reconnects", streamEvents).streaming(),
		route("listAudit", mGet, V1+"/audit", "audit.list", ScopeGlobal, "audit", "List (or export with format=csv) the audit log, oldest first", listAudit).
			asList("format", "principal", "action", "resource", "resourceId", "tenantId", "projectId", "requestId"),
		route("listTenantAudit", mGet, tenant+"/audit", "audit.list", ScopeTenant, "audit", "List (or export with format=csv) a tenant's audit log", listAudit).
			asList("format", "principal", "action", "resource", "resourceId", "projectId", "requestId"),
	}
	// Role bindings, the same routes at each of the three scopes.
	for _, s := range []struct {
		id, prefix string
		scope      ScopeKind
		what       string
	}{
		{"Global", V1, ScopeGlobal, "hub-wide"},
		{"Tenant", tenant, ScopeTenant, "tenant"},
		{"Project", project, ScopeProject, "project"},
	} {
		base := s.prefix + "/rolebindings"
		routes = append(routes,
			route("list"+s.id+"RoleBindings", mGet, base, "rolebinding.list", s.scope, "rolebinding", "List "+s.what+" role bindings", listRoleBindings).asList("name", "subjectId", "roleId"),
			route("create"+s.id+"RoleBinding", mPost, base, "rolebinding.create", s.scope, "rolebinding", "Bind a role at "+s.what+" scope (only permissions the caller holds there)", createRoleBinding),
			route("get"+s.id+"RoleBinding", mGet, base+"/{binding}", "rolebinding.get", s.scope, "rolebinding", "Get a "+s.what+" role binding", getRoleBinding),
			route("delete"+s.id+"RoleBinding", mDelete, base+"/{binding}", "rolebinding.delete", s.scope, "rolebinding", "Delete a "+s.what+" role binding", deleteRoleBinding).withQuery("resourceVersion"),
		)
	}
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Path < routes[j].Path })
	return routes
}
