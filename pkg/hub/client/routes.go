package client

import (
	"context"
	"net/http"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// The typed calls of the hub's routes (pkg/hub/api/routes.go), by object.
// Lists return one page; All walks every page.

// All calls list for every page, starting at opts, and returns every item.
func All[T any](ctx context.Context, opts ListOptions, list func(context.Context, ListOptions) (store.Page[T], error)) ([]T, error) {
	var all []T
	for {
		page, err := list(ctx, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		opts.Cursor = page.NextCursor
	}
}

func get[T any](ctx context.Context, c *Client, path string, q map[string][]string) (*T, error) {
	out := new(T)
	if err := c.do(ctx, request{method: http.MethodGet, path: path, query: q}, out); err != nil {
		return nil, err
	}
	return out, nil
}

func list[T any](ctx context.Context, c *Client, path string, opts ListOptions) (store.Page[T], error) {
	var page store.Page[T]
	err := c.do(ctx, request{method: http.MethodGet, path: path, query: opts.query()}, &page)
	return page, err
}

func create[T any](ctx context.Context, c *Client, path string, body any, opts []CreateOption) (*T, error) {
	out := new(T)
	if err := c.do(ctx, request{method: http.MethodPost, path: path, body: body, idemKey: createKey(opts)}, out); err != nil {
		return nil, err
	}
	return out, nil
}

func update[T any](ctx context.Context, c *Client, path string, body any) (*T, error) {
	out := new(T)
	if err := c.do(ctx, request{method: http.MethodPut, path: path, body: body}, out); err != nil {
		return nil, err
	}
	return out, nil
}

func del(ctx context.Context, c *Client, path string, resourceVersion int64) error {
	return c.do(ctx, request{method: http.MethodDelete, path: path, query: deleteQuery(resourceVersion)}, nil)
}

// Login exchanges a user's name and password for a new API key, valid
// api.LoginKeyTTL (POST /login, which takes no API key: cfg.APIKey is
// not needed). The response holds the key's secret. A failed login counts
// against the address's rate limit of failed authentications, so it is
// never retried.
func Login(ctx context.Context, cfg Config, req api.LoginRequest) (*api.CreatedAPIKey, error) {
	cfg.APIKey, cfg.Retries = "", -1
	c, err := newClient(cfg, false)
	if err != nil {
		return nil, err
	}
	out := new(api.CreatedAPIKey)
	if err := c.do(ctx, request{method: http.MethodPost, path: "/login", body: req}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// WhoAmI returns the caller: its user, key and grants.
func (c *Client) WhoAmI(ctx context.Context) (*api.WhoAmI, error) {
	return get[api.WhoAmI](ctx, c, "/whoami", nil)
}

// ListPermissions lists every permission a custom role may name.
func (c *Client) ListPermissions(ctx context.Context) ([]string, error) {
	p, err := get[api.Permissions](ctx, c, "/permissions", nil)
	if err != nil {
		return nil, err
	}
	return p.Items, nil
}

// Tenants.

func tenantPath(tenantID string) string { return "/tenants/" + segment(tenantID) }

// ListTenants returns one page of tenants (filter: name).
func (c *Client) ListTenants(ctx context.Context, opts ListOptions) (store.Page[store.Tenant], error) {
	return list[store.Tenant](ctx, c, "/tenants", opts)
}

// CreateTenant creates a tenant.
func (c *Client) CreateTenant(ctx context.Context, req api.CreateTenantRequest, opts ...CreateOption) (*store.Tenant, error) {
	return create[store.Tenant](ctx, c, "/tenants", req, opts)
}

// GetTenant gets a tenant by id.
func (c *Client) GetTenant(ctx context.Context, tenantID string) (*store.Tenant, error) {
	return get[store.Tenant](ctx, c, tenantPath(tenantID), nil)
}

// UpdateTenant replaces a tenant's mutable fields; req.ResourceVersion is
// the version read.
func (c *Client) UpdateTenant(ctx context.Context, tenantID string, req api.UpdateTenantRequest) (*store.Tenant, error) {
	return update[store.Tenant](ctx, c, tenantPath(tenantID), req)
}

// DeleteTenant deletes a tenant with its projects, teams and bindings;
// a resourceVersion above 0 makes it conditional.
func (c *Client) DeleteTenant(ctx context.Context, tenantID string, resourceVersion int64) error {
	return del(ctx, c, tenantPath(tenantID), resourceVersion)
}

// Projects.

func projectPath(tenantID, projectID string) string {
	return tenantPath(tenantID) + "/projects/" + segment(projectID)
}

// ListProjects returns one page of a tenant's projects (filter: name).
func (c *Client) ListProjects(ctx context.Context, tenantID string, opts ListOptions) (store.Page[store.Project], error) {
	return list[store.Project](ctx, c, tenantPath(tenantID)+"/projects", opts)
}

// CreateProject creates a project in a tenant.
func (c *Client) CreateProject(ctx context.Context, tenantID string, req api.CreateProjectRequest, opts ...CreateOption) (*store.Project, error) {
	return create[store.Project](ctx, c, tenantPath(tenantID)+"/projects", req, opts)
}

// GetProject gets a project of a tenant.
func (c *Client) GetProject(ctx context.Context, tenantID, projectID string) (*store.Project, error) {
	return get[store.Project](ctx, c, projectPath(tenantID, projectID), nil)
}

// UpdateProject replaces a project's mutable fields.
func (c *Client) UpdateProject(ctx context.Context, tenantID, projectID string, req api.UpdateProjectRequest) (*store.Project, error) {
	return update[store.Project](ctx, c, projectPath(tenantID, projectID), req)
}

// DeleteProject deletes a project (conditionally when resourceVersion > 0).
func (c *Client) DeleteProject(ctx context.Context, tenantID, projectID string, resourceVersion int64) error {
	return del(ctx, c, projectPath(tenantID, projectID), resourceVersion)
}

// Users.

func userPath(userID string) string { return "/users/" + segment(userID) }

// ListUsers returns one page of users (filter: name).
func (c *Client) ListUsers(ctx context.Context, opts ListOptions) (store.Page[store.User], error) {
	return list[store.User](ctx, c, "/users", opts)
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, req api.CreateUserRequest, opts ...CreateOption) (*store.User, error) {
	return create[store.User](ctx, c, "/users", req, opts)
}

// GetUser gets a user by id.
func (c *Client) GetUser(ctx context.Context, userID string) (*store.User, error) {
	return get[store.User](ctx, c, userPath(userID), nil)
}

// UpdateUser replaces a user's mutable fields.
func (c *Client) UpdateUser(ctx context.Context, userID string, req api.UpdateUserRequest) (*store.User, error) {
	return update[store.User](ctx, c, userPath(userID), req)
}

// DeleteUser deletes a user with its keys and role bindings.
func (c *Client) DeleteUser(ctx context.Context, userID string, resourceVersion int64) error {
	return del(ctx, c, userPath(userID), resourceVersion)
}

// Teams.

func teamPath(tenantID, teamID string) string {
	return tenantPath(tenantID) + "/teams/" + segment(teamID)
}

// ListTeams returns one page of a tenant's teams (filter: name).
func (c *Client) ListTeams(ctx context.Context, tenantID string, opts ListOptions) (store.Page[store.Team], error) {
	return list[store.Team](ctx, c, tenantPath(tenantID)+"/teams", opts)
}

// CreateTeam creates a team in a tenant.
func (c *Client) CreateTeam(ctx context.Context, tenantID string, req api.CreateTeamRequest, opts ...CreateOption) (*store.Team, error) {
	return create[store.Team](ctx, c, tenantPath(tenantID)+"/teams", req, opts)
}

// GetTeam gets a team of a tenant.
func (c *Client) GetTeam(ctx context.Context, tenantID, teamID string) (*store.Team, error) {
	return get[store.Team](ctx, c, teamPath(tenantID, teamID), nil)
}

// UpdateTeam replaces a team's mutable fields.
func (c *Client) UpdateTeam(ctx context.Context, tenantID, teamID string, req api.UpdateTeamRequest) (*store.Team, error) {
	return update[store.Team](ctx, c, teamPath(tenantID, teamID), req)
}

// DeleteTeam deletes a team and its role bindings.
func (c *Client) DeleteTeam(ctx context.Context, tenantID, teamID string, resourceVersion int64) error {
	return del(ctx, c, teamPath(tenantID, teamID), resourceVersion)
}

// ListTeamMembers lists a team's members in the order they joined.
func (c *Client) ListTeamMembers(ctx context.Context, tenantID, teamID string) ([]store.TeamMember, error) {
	m, err := get[api.TeamMembers](ctx, c, teamPath(tenantID, teamID)+"/members", nil)
	if err != nil {
		return nil, err
	}
	return m.Items, nil
}

// AddTeamMember puts a user in a team (a no-op when it is in already).
func (c *Client) AddTeamMember(ctx context.Context, tenantID, teamID, userID string) (*store.TeamMember, error) {
	return update[store.TeamMember](ctx, c, teamPath(tenantID, teamID)+"/members/"+segment(userID), nil)
}

// RemoveTeamMember takes a user out of a team.
func (c *Client) RemoveTeamMember(ctx context.Context, tenantID, teamID, userID string) error {
	return del(ctx, c, teamPath(tenantID, teamID)+"/members/"+segment(userID), 0)
}

// Roles.

func rolePath(roleID string) string { return "/roles/" + segment(roleID) }

// ListRoles returns one page of built-in and custom roles (filter: name).
func (c *Client) ListRoles(ctx context.Context, opts ListOptions) (store.Page[store.Role], error) {
	return list[store.Role](ctx, c, "/roles", opts)
}

// CreateRole creates a custom role.
func (c *Client) CreateRole(ctx context.Context, req api.CreateRoleRequest, opts ...CreateOption) (*store.Role, error) {
	return create[store.Role](ctx, c, "/roles", req, opts)
}

// GetRole gets a role by id.
func (c *Client) GetRole(ctx context.Context, roleID string) (*store.Role, error) {
	return get[store.Role](ctx, c, rolePath(roleID), nil)
}

// UpdateRole replaces a custom role's mutable fields.
func (c *Client) UpdateRole(ctx context.Context, roleID string, req api.UpdateRoleRequest) (*store.Role, error) {
	return update[store.Role](ctx, c, rolePath(roleID), req)
}

// DeleteRole deletes a custom role and its bindings.
func (c *Client) DeleteRole(ctx context.Context, roleID string, resourceVersion int64) error {
	return del(ctx, c, rolePath(roleID), resourceVersion)
}

// Role bindings.

// Scope is where a role binding applies: global (both empty), a tenant,
// or a project of a tenant.
type Scope struct {
	TenantID  string
	ProjectID string
}

// Global is the hub-wide scope.
var Global = Scope{}

func (s Scope) bindings() string {
	switch {
	case s.ProjectID != "":
		return projectPath(s.TenantID, s.ProjectID) + "/rolebindings"
	case s.TenantID != "":
		return tenantPath(s.TenantID) + "/rolebindings"
	}
	return "/rolebindings"
}

// ListRoleBindings returns one page of the bindings at exactly one scope
// (filters: name, subjectId, roleId).
func (c *Client) ListRoleBindings(ctx context.Context, scope Scope, opts ListOptions) (store.Page[store.RoleBinding], error) {
	return list[store.RoleBinding](ctx, c, scope.bindings(), opts)
}

// CreateRoleBinding binds a role (by name) to a user or team at scope.
func (c *Client) CreateRoleBinding(ctx context.Context, scope Scope, req api.CreateRoleBindingRequest, opts ...CreateOption) (*store.RoleBinding, error) {
	return create[store.RoleBinding](ctx, c, scope.bindings(), req, opts)
}

// GetRoleBinding gets a binding at scope.
func (c *Client) GetRoleBinding(ctx context.Context, scope Scope, bindingID string) (*store.RoleBinding, error) {
	return get[store.RoleBinding](ctx, c, scope.bindings()+"/"+segment(bindingID), nil)
}

// DeleteRoleBinding deletes a binding at scope.
func (c *Client) DeleteRoleBinding(ctx context.Context, scope Scope, bindingID string, resourceVersion int64) error {
	return del(ctx, c, scope.bindings()+"/"+segment(bindingID), resourceVersion)
}

// API keys: the caller's own (userID "") or, for user administrators, any
// user's.

func apiKeysPath(userID string) string {
	if userID == "" {
		return "/apikeys"
	}
	return userPath(userID) + "/apikeys"
}

// ListAPIKeys returns one page of a user's keys, never their secrets
// (filter: name); userID "" is the caller.
func (c *Client) ListAPIKeys(ctx context.Context, userID string, opts ListOptions) (store.Page[store.APIKey], error) {
	return list[store.APIKey](ctx, c, apiKeysPath(userID), opts)
}

// GetAPIKey finds one of a user's keys by id (the hub has no route for a
// single key: this pages through the list).
func (c *Client) GetAPIKey(ctx context.Context, userID, keyID string) (*store.APIKey, error) {
	opts := ListOptions{Limit: store.MaxLimit}
	for {
		page, err := c.ListAPIKeys(ctx, userID, opts)
		if err != nil {
			return nil, err
		}
		for i := range page.Items {
			if page.Items[i].ID == keyID {
				return &page.Items[i], nil
			}
		}
		if page.NextCursor == "" {
			return nil, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "apikey not found",
				Method: http.MethodGet, Path: apiKeysPath(userID) + "/" + segment(keyID)}
		}
		opts.Cursor = page.NextCursor
	}
}

// CreateAPIKey creates a key for a user (userID "" is the caller); the
// response holds the secret, shown only this once. A replayed create
// (same Idempotency-Key) returns the key without its secret.
func (c *Client) CreateAPIKey(ctx context.Context, userID string, req api.CreateAPIKeyRequest, opts ...CreateOption) (*api.CreatedAPIKey, error) {
	return create[api.CreatedAPIKey](ctx, c, apiKeysPath(userID), req, opts)
}

// RevokeAPIKey revokes a key (revoking twice is a no-op) and returns it.
func (c *Client) RevokeAPIKey(ctx context.Context, userID, keyID string) (*store.APIKey, error) {
	out := new(store.APIKey)
	if err := c.do(ctx, request{method: http.MethodDelete, path: apiKeysPath(userID) + "/" + segment(keyID)}, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Audit.

// ListAudit returns one page of the audit log, oldest first: the whole
// hub's (tenantID "") or one tenant's. Filters: principal, action,
// resource, resourceId, tenantId, projectId, requestId.
func (c *Client) ListAudit(ctx context.Context, tenantID string, opts ListOptions) (store.Page[store.AuditEvent], error) {
	path := "/audit"
	if tenantID != "" {
		path = tenantPath(tenantID) + "/audit"
	}
	return list[store.AuditEvent](ctx, c, path, opts)
}
