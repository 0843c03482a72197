// Package auth is the hub's identity and access: API keys and password
// hashes, permissions named "resource.verb", the built-in roles, and the
// one Authorize function every route calls.
package auth

import (
	"fmt"
	"sort"
	"strings"
)

// Permission is "resource.verb", for example "project.create".
type Permission string

// Verbs of the standard resources.
var crud = []string{"get", "list", "create", "update", "delete"}

// resources lists every resource and its verbs. Resources of later steps
// (virtual clusters, host clusters, cluster groups, profiles) are here
// already so that roles made today keep their meaning.
var resources = []struct {
	name  string
	verbs []string
}{
	{"tenant", crud},
	{"project", crud},
	{"user", crud},
	{"team", crud},
	{"role", crud},
	{"rolebinding", []string{"get", "list", "create", "delete"}},
	{"apikey", []string{"list", "create", "delete"}},
	{"audit", []string{"list"}},
	{"virtualcluster", append(append([]string{}, crud...), "kubeconfig")},
	{"hostcluster", crud},
	{"clustergroup", crud},
	{"clusterprofile", crud},
}

// All returns every permission, sorted.
func All() []Permission {
	var all []Permission
	for _, r := range resources {
		for _, v := range r.verbs {
			all = append(all, Permission(r.name+"."+v))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return all
}

// Known reports whether p is a real permission.
func Known(p Permission) bool {
	for _, q := range All() {
		if q == p {
			return true
		}
	}
	return false
}

// ValidatePermissions checks a custom role's permission list: every entry
// known, none twice. Wildcards are for built-in roles only.
func ValidatePermissions(perms []string) error {
	if len(perms) == 0 {
		return fmt.Errorf("must name at least one permission")
	}
	seen := map[string]bool{}
	for i, p := range perms {
		if !Known(Permission(p)) {
			return fmt.Errorf("[%d]: unknown permission %q (want resource.verb, for example project.get)", i, p)
		}
		if seen[p] {
			return fmt.Errorf("[%d]: permission %q listed twice", i, p)
		}
		seen[p] = true
	}
	return nil
}

// Built-in role names.
const (
	RoleHubAdmin            = "hub-admin"
	RoleTenantAdmin         = "tenant-admin"
	RoleProjectAdmin        = "project-admin"
	RoleProjectEditor       = "project-editor"
	RoleProjectViewer       = "project-viewer"
	RoleVirtualClusterAdmin = "virtualcluster-admin"
)

// BuiltinRole is a role the hub keeps in the store on every start.
type BuiltinRole struct {
	Name        string
	Description string
	Permissions []string
}

// selfService are the permissions on one's own API keys that every role has.
var selfService = []string{"apikey.list", "apikey.create", "apikey.delete"}

func perms(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.Strings(out)
	return out
}

func verbs(resource string, vs ...string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = resource + "." + v
	}
	return out
}

// BuiltinRoles returns the built-in roles. A role grants its permissions at
// the scope of its binding; hub-admin is meant to be bound globally.
func BuiltinRoles() []BuiltinRole {
	vcAll := verbs("virtualcluster", "get", "list", "create", "update", "delete", "kubeconfig")
	read := []string{"role.get", "role.list", "clusterprofile.get", "clusterprofile.list"}
	return []BuiltinRole{
		{RoleHubAdmin, "Everything, everywhere.", []string{"*"}},
		{RoleTenantAdmin, "Everything inside one tenant: its projects, teams, role bindings, virtual clusters and audit log.",
			perms(verbs("tenant", "get", "update"), verbs("project", crud...), verbs("team", crud...),
				verbs("rolebinding", "get", "list", "create", "delete"), vcAll, read, []string{"audit.list"}, selfService)},
		{RoleProjectAdmin, "Everything inside one project: its virtual clusters and role bindings.",
			perms(verbs("project", "get", "update"), verbs("rolebinding", "get", "list", "create", "delete"), vcAll, read, selfService)},
		{RoleProjectEditor, "Create, change and connect to the virtual clusters of a project.",
			perms(verbs("project", "get"), vcAll, read, selfService)},
		{RoleProjectViewer, "Read a project and its virtual clusters.",
			perms(verbs("project", "get"), verbs("virtualcluster", "get", "list"), read, selfService)},
		{RoleVirtualClusterAdmin, "Manage and connect to virtual clusters, nothing else.",
			perms(verbs("project", "get"), vcAll, selfService)},
	}
}

// holds reports whether a role's permission list grants p: exactly, by
// "resource.*" or by "*".
func holds(list []string, p Permission) bool {
	resource, _, _ := strings.Cut(string(p), ".")
	for _, q := range list {
		if q == "*" || q == string(p) || q == resource+".*" {
			return true
		}
	}
	return false
}
