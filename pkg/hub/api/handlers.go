package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hub/audit"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// object is a pointer to a stored object.
type object[T any] interface {
	*T
	GetMeta() *store.Meta
}

// get loads the object named by a path parameter; check, when given,
// tells whether it belongs to the scope of the path (else 404).
func get[T any, PT object[T]](c *call, coll *store.Collection[T], param string, check func(PT) bool) (PT, error) {
	obj, err := coll.Get(c.ctx, c.path(param))
	if err != nil {
		return nil, err
	}
	if check != nil && !check(obj) {
		return nil, store.ErrNotFound
	}
	return obj, nil
}

func create[T any, PT object[T]](c *call, coll *store.Collection[T], obj PT) (PT, error) {
	if err := coll.Create(c.ctx, obj); err != nil {
		return nil, err
	}
	return obj, c.record(obj.GetMeta().ID, nil, obj)
}

// update applies mutate to obj if rv is still its version, and records the
// change.
func update[T any, PT object[T]](c *call, coll *store.Collection[T], obj PT, rv int64, mutate func(PT)) (PT, error) {
	before := *obj
	obj.GetMeta().ResourceVersion = rv
	mutate(obj)
	if err := coll.Update(c.ctx, obj); err != nil {
		return nil, err
	}
	return obj, c.record(obj.GetMeta().ID, &before, obj)
}

// remove deletes obj, conditionally on ?resourceVersion= when given.
func remove[T any, PT object[T]](c *call, coll *store.Collection[T], obj PT) (*none, error) {
	var rv int64
	if v := c.r.URL.Query().Get("resourceVersion"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, invalid("resourceVersion", "must be a positive number")
		}
		rv = n
	}
	if err := coll.Delete(c.ctx, obj.GetMeta().ID, rv); err != nil {
		return nil, err
	}
	return nil, c.record(obj.GetMeta().ID, obj, nil)
}

func list[T any](c *call, coll *store.Collection[T], filterOf map[string]string, fixed map[string]string) (store.Page[T], error) {
	opts, e := c.listOptions(filterOf)
	if e != nil {
		return store.Page[T]{}, e
	}
	for k, v := range fixed {
		opts.Filters[k] = v
	}
	return coll.List(c.ctx, opts)
}

var byName = map[string]string{"name": "name"}

func (c *call) inTenant(tenantID string) bool  { return tenantID == c.path("tenant") }
func (c *call) tenant() (*store.Tenant, error) { return get(c, c.store().Tenants, "tenant", nil) }
func (c *call) project() (*store.Project, error) {
	return get(c, c.store().Projects, "project", func(p *store.Project) bool { return c.inTenant(p.TenantID) })
}
func (c *call) team() (*store.Team, error) {
	return get(c, c.store().Teams, "team", func(t *store.Team) bool { return c.inTenant(t.TenantID) })
}

// Tenants.

func listTenants(c *call, _ *none) (store.Page[store.Tenant], error) {
	return list(c, c.store().Tenants, byName, nil)
}

func createTenant(c *call, req *CreateTenantRequest) (*store.Tenant, error) {
	return create(c, c.store().Tenants, &store.Tenant{Meta: store.Meta{Name: req.Name}, DisplayName: req.DisplayName, Quota: req.Quota})
}

func getTenant(c *call, _ *none) (*store.Tenant, error) { return c.tenant() }

func updateTenant(c *call, req *UpdateTenantRequest) (*store.Tenant, error) {
	t, err := c.tenant()
	if err != nil {
		return nil, err
	}
	if req.Quota != t.Quota && auth.Authorize(c.ctx, c.principal, "tenant.update", auth.Scope{}) != nil {
		return nil, &Error{Status: http.StatusForbidden, Code: CodePermissionDenied,
			Message: "changing a tenant's quota needs tenant.update at global scope: send the quota you read", Details: map[string]string{"field": "quota"}}
	}
	return update(c, c.store().Tenants, t, req.ResourceVersion, func(t *store.Tenant) { t.DisplayName, t.Quota = req.DisplayName, req.Quota })
}

func deleteTenant(c *call, _ *none) (*none, error) {
	t, err := c.tenant()
	if err != nil {
		return nil, err
	}
	if err := c.projectVirtualClusters(map[string]string{"tenantId": t.ID}, "tenant"); err != nil {
		return nil, err
	}
	return remove(c, c.store().Tenants, t)
}

// Projects.

func listProjects(c *call, _ *none) (store.Page[store.Project], error) {
	if _, err := c.tenant(); err != nil {
		return store.Page[store.Project]{}, err
	}
	return list(c, c.store().Projects, byName, map[string]string{"tenantId": c.path("tenant")})
}

func createProject(c *call, req *CreateProjectRequest) (*store.Project, error) {
	t, err := c.tenant()
	if err != nil {
		return nil, err
	}
	return create(c, c.store().Projects, &store.Project{Meta: store.Meta{Name: req.Name}, TenantID: t.ID, DisplayName: req.DisplayName})
}

func getProject(c *call, _ *none) (*store.Project, error) { return c.project() }

func updateProject(c *call, req *UpdateProjectRequest) (*store.Project, error) {
	p, err := c.project()
	if err != nil {
		return nil, err
	}
	return update(c, c.store().Projects, p, req.ResourceVersion, func(p *store.Project) { p.DisplayName = req.DisplayName })
}

func deleteProject(c *call, _ *none) (*none, error) {
	p, err := c.project()
	if err != nil {
		return nil, err
	}
	if err := c.projectVirtualClusters(map[string]string{"projectId": p.ID}, "project"); err != nil {
		return nil, err
	}
	return remove(c, c.store().Projects, p)
}

// Users.

func listUsers(c *call, _ *none) (store.Page[store.User], error) {
	return list(c, c.store().Users, byName, nil)
}

func createUser(c *call, req *CreateUserRequest) (*store.User, error) {
	u := &store.User{Meta: store.Meta{Name: req.Name}, Email: req.Email}
	if req.Password != "" {
		u.PasswordHash = auth.HashPassword(req.Password)
	}
	return create(c, c.store().Users, u)
}

func getUser(c *call, _ *none) (*store.User, error) { return get(c, c.store().Users, "user", nil) }

func updateUser(c *call, req *UpdateUserRequest) (*store.User, error) {
	u, err := getUser(c, nil)
	if err != nil {
		return nil, err
	}
	if u.ID == c.principal.UserID && req.Disabled {
		return nil, invalid("disabled", "you cannot disable yourself")
	}
	return update(c, c.store().Users, u, req.ResourceVersion, func(u *store.User) {
		u.Email, u.Disabled = req.Email, req.Disabled
		if req.Password != "" {
			u.PasswordHash = auth.HashPassword(req.Password)
		}
	})
}

func deleteUser(c *call, _ *none) (*none, error) {
	u, err := getUser(c, nil)
	if err != nil {
		return nil, err
	}
	if u.ID == c.principal.UserID {
		return nil, invalid("user", "you cannot delete yourself")
	}
	if err := c.keepAHubAdmin(func(b *store.RoleBinding) bool { return b.SubjectID == u.ID }); err != nil {
		return nil, err
	}
	return remove(c, c.store().Users, u)
}

// Teams.

func listTeams(c *call, _ *none) (store.Page[store.Team], error) {
	if _, err := c.tenant(); err != nil {
		return store.Page[store.Team]{}, err
	}
	return list(c, c.store().Teams, byName, map[string]string{"tenantId": c.path("tenant")})
}

func createTeam(c *call, req *CreateTeamRequest) (*store.Team, error) {
	t, err := c.tenant()
	if err != nil {
		return nil, err
	}
	return create(c, c.store().Teams, &store.Team{Meta: store.Meta{Name: req.Name}, TenantID: t.ID, Description: req.Description})
}

func getTeam(c *call, _ *none) (*store.Team, error) { return c.team() }

func updateTeam(c *call, req *UpdateTeamRequest) (*store.Team, error) {
	t, err := c.team()
	if err != nil {
		return nil, err
	}
	return update(c, c.store().Teams, t, req.ResourceVersion, func(t *store.Team) { t.Description = req.Description })
}

func deleteTeam(c *call, _ *none) (*none, error) {
	t, err := c.team()
	if err != nil {
		return nil, err
	}
	return remove(c, c.store().Teams, t)
}

func listTeamMembers(c *call, _ *none) (*TeamMembers, error) {
	t, err := c.team()
	if err != nil {
		return nil, err
	}
	items, err := c.store().TeamMembers(c.ctx, t.ID)
	if err != nil {
		return nil, err
	}
	return &TeamMembers{Items: items}, nil
}

func addTeamMember(c *call, _ *none) (*store.TeamMember, error) {
	t, err := c.team()
	if err != nil {
		return nil, err
	}
	u, err := c.store().Users.Get(c.ctx, c.path("user"))
	if err != nil {
		return nil, notFound("user")
	}
	m, err := c.store().AddTeamMember(c.ctx, t.ID, u.ID)
	if err != nil {
		return nil, err
	}
	return m, c.record(t.ID, nil, m)
}

func removeTeamMember(c *call, _ *none) (*none, error) {
	t, err := c.team()
	if err != nil {
		return nil, err
	}
	if err := c.store().RemoveTeamMember(c.ctx, t.ID, c.path("user")); err != nil {
		return nil, notFound("team member")
	}
	return nil, c.record(t.ID, store.TeamMember{TeamID: t.ID, UserID: c.path("user")}, nil)
}

// Roles.

func listRoles(c *call, _ *none) (store.Page[store.Role], error) {
	return list(c, c.store().Roles, byName, nil)
}

func getRole(c *call, _ *none) (*store.Role, error) { return get(c, c.store().Roles, "role", nil) }

func createRole(c *call, req *CreateRoleRequest) (*store.Role, error) {
	return create(c, c.store().Roles, &store.Role{Meta: store.Meta{Name: req.Name}, Description: req.Description, Permissions: req.Permissions})
}

func customRole(c *call) (*store.Role, error) {
	r, err := getRole(c, nil)
	if err != nil {
		return nil, err
	}
	if r.Builtin {
		return nil, invalid("role", "%s is a built-in role and cannot be changed or deleted", r.Name)
	}
	return r, nil
}

func updateRole(c *call, req *UpdateRoleRequest) (*store.Role, error) {
	r, err := customRole(c)
	if err != nil {
		return nil, err
	}
	return update(c, c.store().Roles, r, req.ResourceVersion, func(r *store.Role) {
		r.Description, r.Permissions = req.Description, req.Permissions
	})
}

func deleteRole(c *call, _ *none) (*none, error) {
	r, err := customRole(c)
	if err != nil {
		return nil, err
	}
	return remove(c, c.store().Roles, r)
}

// Role bindings, at the scope of the path: global, a tenant or a project.

// checkScope checks that the tenant and project of the path exist.
func (c *call) checkScope() error {
	if c.scope.ProjectID != "" {
		_, err := c.project()
		return err
	}
	if c.scope.TenantID != "" {
		_, err := c.tenant()
		return err
	}
	return nil
}

func (c *call) inScope(b *store.RoleBinding) bool {
	return b.TenantID == c.scope.TenantID && b.ProjectID == c.scope.ProjectID
}

func listRoleBindings(c *call, _ *none) (store.Page[store.RoleBinding], error) {
	if err := c.checkScope(); err != nil {
		return store.Page[store.RoleBinding]{}, err
	}
	return list(c, c.store().RoleBindings, map[string]string{"name": "name", "subjectId": "subjectId", "roleId": "roleId"},
		map[string]string{"tenantId": c.scope.TenantID, "projectId": c.scope.ProjectID})
}

func getRoleBinding(c *call, _ *none) (*store.RoleBinding, error) {
	if err := c.checkScope(); err != nil {
		return nil, err
	}
	return get(c, c.store().RoleBindings, "binding", c.inScope)
}

func createRoleBinding(c *call, req *CreateRoleBindingRequest) (*store.RoleBinding, error) {
	if err := c.checkScope(); err != nil {
		return nil, err
	}
	role, err := c.store().Roles.Find(c.ctx, map[string]string{"name": req.Role})
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid("role", "no role is named %q", req.Role)
	} else if err != nil {
		return nil, err
	}
	// No escalation: one grants only permissions one holds at that scope.
	for _, p := range role.Permissions {
		if auth.Authorize(c.ctx, c.principal, auth.Permission(p), c.scope) != nil {
			return nil, &Error{Status: http.StatusForbidden, Code: CodePermissionDenied,
				Message: "role " + role.Name + " grants " + p + ", which you do not hold at this scope", Details: map[string]string{"field": "role"}}
		}
	}
	switch req.SubjectKind {
	case store.SubjectUser:
		if _, err := c.store().Users.Get(c.ctx, req.SubjectID); err != nil {
			return nil, invalid("subjectId", "no user has this id")
		}
	case store.SubjectTeam:
		team, err := c.store().Teams.Get(c.ctx, req.SubjectID)
		if err != nil || c.scope.TenantID == "" || team.TenantID != c.scope.TenantID {
			return nil, invalid("subjectId", "no team of this tenant has this id")
		}
	}
	return create(c, c.store().RoleBindings, &store.RoleBinding{Meta: store.Meta{Name: req.Name},
		TenantID: c.scope.TenantID, ProjectID: c.scope.ProjectID, RoleID: role.ID, SubjectKind: req.SubjectKind, SubjectID: req.SubjectID})
}

func deleteRoleBinding(c *call, _ *none) (*none, error) {
	b, err := getRoleBinding(c, nil)
	if err != nil {
		return nil, err
	}
	if err := c.keepAHubAdmin(func(o *store.RoleBinding) bool { return o.ID == b.ID }); err != nil {
		return nil, err
	}
	return remove(c, c.store().RoleBindings, b)
}

// keepAHubAdmin refuses a change that would remove every global hub-admin
// binding (removing tells which ones it removes): the hub would have no
// administrator left.
func (c *call) keepAHubAdmin(removing func(*store.RoleBinding) bool) error {
	role, err := c.store().Roles.Find(c.ctx, map[string]string{"name": auth.RoleHubAdmin})
	if err != nil {
		return err
	}
	opts := store.ListOptions{Limit: store.MaxLimit, Filters: map[string]string{"tenantId": "", "projectId": "", "roleId": role.ID}}
	for {
		page, err := c.store().RoleBindings.List(c.ctx, opts)
		if err != nil {
			return err
		}
		for i := range page.Items {
			if !removing(&page.Items[i]) {
				return nil
			}
		}
		if opts.Cursor = page.NextCursor; opts.Cursor == "" {
			break
		}
	}
	return &Error{Status: http.StatusConflict, Code: CodeConflict,
		Message: "this would remove the last global hub-admin binding: bind hub-admin to another user first"}
}

// API keys: each caller manages its own under /apikeys; user
// administrators manage anyone's under /users/{user}/apikeys.

// keyOwner is the user whose keys the call is about.
func (c *call) keyOwner() (string, error) {
	if c.path("user") == "" {
		return c.principal.UserID, nil
	}
	u, err := getUser(c, nil)
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

func listAPIKeys(c *call, _ *none) (store.Page[store.APIKey], error) {
	owner, err := c.keyOwner()
	if err != nil {
		return store.Page[store.APIKey]{}, err
	}
	return list(c, c.store().APIKeys, byName, map[string]string{"userId": owner})
}

func createAPIKey(c *call, req *CreateAPIKeyRequest) (*CreatedAPIKey, error) {
	owner, err := c.keyOwner()
	if err != nil {
		return nil, err
	}
	secret := auth.NewKey()
	prefix, hash, err := auth.SplitKey(secret)
	if err != nil {
		return nil, err
	}
	k, err := create(c, c.store().APIKeys, &store.APIKey{Meta: store.Meta{Name: req.Name}, UserID: owner,
		Prefix: prefix, KeyHash: hash, ExpiresAt: req.ExpiresAt.UTC()})
	if err != nil {
		return nil, err
	}
	return &CreatedAPIKey{APIKey: *k, Key: secret}, nil
}

func revokeAPIKey(c *call, _ *none) (*store.APIKey, error) {
	owner, err := c.keyOwner()
	if err != nil {
		return nil, err
	}
	k, err := get(c, c.store().APIKeys, "key", func(k *store.APIKey) bool { return k.UserID == owner })
	if err != nil {
		return nil, err
	}
	if !k.RevokedAt.IsZero() {
		return k, nil
	}
	return update(c, c.store().APIKeys, k, k.ResourceVersion, func(k *store.APIKey) { k.RevokedAt = time.Now().UTC() })
}

// Audit log.

var auditFilters = map[string]string{
	"principal": "principal", "action": "action", "resource": "resource", "resourceId": "resourceId",
	"tenantId": "tenantId", "projectId": "projectId", "requestId": "requestId",
}

func listAudit(c *call, _ *none) (store.Page[store.AuditEvent], error) {
	format := c.r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		return store.Page[store.AuditEvent]{}, invalid("format", "must be json or csv")
	}
	opts, e := c.listOptions(auditFilters)
	if e != nil {
		return store.Page[store.AuditEvent]{}, e
	}
	if c.scope.TenantID != "" {
		if _, err := c.tenant(); err != nil {
			return store.Page[store.AuditEvent]{}, err
		}
		opts.Filters["tenantId"] = c.scope.TenantID
	}
	page, err := c.store().ListAudit(c.ctx, opts)
	if err != nil || format != "csv" {
		return page, err
	}
	c.raw = func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
		if page.NextCursor != "" {
			w.Header().Set("X-Next-Cursor", page.NextCursor)
		}
		w.WriteHeader(http.StatusOK)
		_ = audit.WriteCSV(w, page.Items)
	}
	return page, nil
}

// Permissions.

func listPermissions(c *call, _ *none) (*Permissions, error) {
	p := &Permissions{Items: []string{}}
	for _, perm := range auth.All() {
		p.Items = append(p.Items, string(perm))
	}
	return p, nil
}

// Who am I.

func whoAmI(c *call, _ *none) (*WhoAmI, error) {
	u, err := c.store().Users.Get(c.ctx, c.principal.UserID)
	if err != nil {
		return nil, err
	}
	w := &WhoAmI{User: *u, KeyID: c.principal.KeyID, Grants: []Grant{}, KubernetesVersions: []string{config.SupportedKubernetesVersion}}
	for _, g := range c.principal.Grants {
		w.Grants = append(w.Grants, Grant{TenantID: g.TenantID, ProjectID: g.ProjectID, Permissions: g.Permissions})
	}
	return w, nil
}
