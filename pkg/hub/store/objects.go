package store

import (
	"context"
	"fmt"
	"time"
)

// Tenant is an organisation; projects, teams and bindings live in one.
type Tenant struct {
	Meta
	DisplayName string `json:"displayName"`
	// Quota bounds the sum of the quotas of the tenant's virtual clusters
	// and their number; empty dimensions (and 0 clusters) are unlimited.
	Quota TenantQuota `json:"quota"`
}

// TenantQuota is a tenant's quota.
type TenantQuota struct {
	Resources
	VirtualClusters int `json:"virtualClusters,omitempty"`
}

// Project groups virtual clusters inside a tenant.
type Project struct {
	Meta
	TenantID    string `json:"tenantId"`
	DisplayName string `json:"displayName"`
}

// User is a person or robot that authenticates with API keys (and, with
// `nest login`, a password). PasswordHash is never serialised.
type User struct {
	Meta
	Email        string `json:"email"`
	PasswordHash string `json:"-"`
	Disabled     bool   `json:"disabled"`
}

// Team is a set of users inside a tenant, bindable to roles as a whole.
type Team struct {
	Meta
	TenantID    string `json:"tenantId"`
	Description string `json:"description"`
}

// TeamMember is one user in one team.
type TeamMember struct {
	TeamID    string    `json:"teamId"`
	UserID    string    `json:"userId"`
	CreatedAt time.Time `json:"createdAt"`
}

// Role is a named set of permissions ("resource.verb", or "*" for the
// built-in hub-admin). Built-in roles are kept by the hub, not by users.
type Role struct {
	Meta
	Description string   `json:"description"`
	Builtin     bool     `json:"builtin"`
	Permissions []string `json:"permissions"`
}

// Subject kinds of a role binding.
const (
	SubjectUser = "user"
	SubjectTeam = "team"
)

// RoleBinding grants a role to a user or team at a scope: global (no
// tenant), a tenant (and so all its projects) or one project.
type RoleBinding struct {
	Meta
	TenantID    string `json:"tenantId,omitempty"`
	ProjectID   string `json:"projectId,omitempty"`
	RoleID      string `json:"roleId"`
	SubjectKind string `json:"subjectKind"`
	SubjectID   string `json:"subjectId"`
}

// APIKey is a user's key, stored as a hash; the secret is shown once at
// creation and never stored. Prefix finds the row for an offered key.
type APIKey struct {
	Meta
	UserID     string    `json:"userId"`
	Prefix     string    `json:"prefix"`
	KeyHash    string    `json:"-"`
	ExpiresAt  time.Time `json:"expiresAt,omitzero"`
	RevokedAt  time.Time `json:"revokedAt,omitzero"`
	LastUsedAt time.Time `json:"lastUsedAt,omitzero"`
}

func (s *Store) initCollections() {
	s.Tenants = newCollection(s, "tenants", func(o *Tenant) *Meta { return &o.Meta },
		[]string{"display_name", "quota_json"},
		func(o *Tenant) []any { return []any{&o.DisplayName, jsonCol{&o.Quota}} }, nil)
	s.Tenants.beforeDelete = []string{`DELETE FROM role_bindings WHERE tenant_id = ?`}

	s.Projects = newCollection(s, "projects", func(o *Project) *Meta { return &o.Meta },
		[]string{"tenant_id", "display_name"},
		func(o *Project) []any { return []any{&o.TenantID, &o.DisplayName} },
		map[string]string{"tenantId": "tenant_id"})
	s.Projects.beforeDelete = []string{`DELETE FROM role_bindings WHERE project_id = ?`}

	s.Users = newCollection(s, "users", func(o *User) *Meta { return &o.Meta },
		[]string{"email", "password_hash", "disabled"},
		func(o *User) []any { return []any{&o.Email, &o.PasswordHash, boolCol{&o.Disabled}} }, nil)
	s.Users.beforeDelete = []string{`DELETE FROM role_bindings WHERE subject_kind = 'user' AND subject_id = ?`}

	s.Teams = newCollection(s, "teams", func(o *Team) *Meta { return &o.Meta },
		[]string{"tenant_id", "description"},
		func(o *Team) []any { return []any{&o.TenantID, &o.Description} },
		map[string]string{"tenantId": "tenant_id"})
	s.Teams.beforeDelete = []string{`DELETE FROM role_bindings WHERE subject_kind = 'team' AND subject_id = ?`}

	s.Roles = newCollection(s, "roles", func(o *Role) *Meta { return &o.Meta },
		[]string{"description", "builtin", "permissions"},
		func(o *Role) []any { return []any{&o.Description, boolCol{&o.Builtin}, stringsCol{&o.Permissions}} }, nil)

	s.RoleBindings = newCollection(s, "role_bindings", func(o *RoleBinding) *Meta { return &o.Meta },
		[]string{"tenant_id", "project_id", "role_id", "subject_kind", "subject_id"},
		func(o *RoleBinding) []any {
			return []any{&o.TenantID, &o.ProjectID, &o.RoleID, &o.SubjectKind, &o.SubjectID}
		},
		map[string]string{"tenantId": "tenant_id", "projectId": "project_id", "roleId": "role_id", "subjectKind": "subject_kind", "subjectId": "subject_id"})

	s.APIKeys = newCollection(s, "api_keys", func(o *APIKey) *Meta { return &o.Meta },
		[]string{"user_id", "prefix", "key_hash", "expires_at", "revoked_at", "last_used_at"},
		func(o *APIKey) []any {
			return []any{&o.UserID, &o.Prefix, &o.KeyHash, timeCol{&o.ExpiresAt}, timeCol{&o.RevokedAt}, timeCol{&o.LastUsedAt}}
		},
		map[string]string{"userId": "user_id", "prefix": "prefix"})

	for _, c := range []interface{ markAuthData() }{s.Tenants, s.Projects, s.Users, s.Teams, s.Roles, s.RoleBindings, s.APIKeys} {
		c.markAuthData()
	}
}

// AddTeamMember puts a user in a team; adding a member twice is a no-op.
func (s *Store) AddTeamMember(ctx context.Context, teamID, userID string) (*TeamMember, error) {
	m := &TeamMember{TeamID: teamID, UserID: userID, CreatedAt: s.now().UTC().Truncate(1000)}
	err := s.InTx(ctx, func(ctx context.Context) error {
		authChanged(ctx)
		var n int
		if err := s.queryRow(ctx, `SELECT COUNT(*) FROM team_members WHERE team_id = ? AND user_id = ?`, teamID, userID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		_, err := s.exec(ctx, `INSERT INTO team_members (team_id, user_id, created_at) VALUES (?, ?, ?)`, teamID, userID, micros(m.CreatedAt))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("add user %s to team %s: %w", userID, teamID, err)
	}
	return m, nil
}

// RemoveTeamMember takes a user out of a team, or fails with ErrNotFound.
func (s *Store) RemoveTeamMember(ctx context.Context, teamID, userID string) error {
	return s.InTx(ctx, func(ctx context.Context) error {
		authChanged(ctx)
		res, err := s.exec(ctx, `DELETE FROM team_members WHERE team_id = ? AND user_id = ?`, teamID, userID)
		if err != nil {
			return fmt.Errorf("remove user %s from team %s: %w", userID, teamID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s in team %s: %w", userID, teamID, ErrNotFound)
		}
		return nil
	})
}

// TeamMembers lists a team's members in the order they joined.
func (s *Store) TeamMembers(ctx context.Context, teamID string) ([]TeamMember, error) {
	rows, err := s.query(ctx, `SELECT user_id, created_at FROM team_members WHERE team_id = ? ORDER BY created_at, user_id`, teamID)
	if err != nil {
		return nil, fmt.Errorf("list members of team %s: %w", teamID, err)
	}
	defer rows.Close()
	members := []TeamMember{}
	for rows.Next() {
		m := TeamMember{TeamID: teamID}
		if err := rows.Scan(&m.UserID, timeCol{&m.CreatedAt}); err != nil {
			return nil, fmt.Errorf("list members of team %s: %w", teamID, err)
		}
		members = append(members, m)
	}
	return members, rows.Err()
}

// Grant is one role's permissions at one binding's scope.
type Grant struct {
	TenantID    string
	ProjectID   string
	Permissions []string
}

// Grants returns every grant a user holds, directly or through its teams.
func (s *Store) Grants(ctx context.Context, userID string) ([]Grant, error) {
	rows, err := s.query(ctx, `SELECT rb.tenant_id, rb.project_id, r.permissions
		FROM role_bindings rb JOIN roles r ON r.id = rb.role_id
		WHERE (rb.subject_kind = 'user' AND rb.subject_id = ?)
		   OR (rb.subject_kind = 'team' AND rb.subject_id IN (SELECT team_id FROM team_members WHERE user_id = ?))
		ORDER BY rb.id`, userID, userID)
	if err != nil {
		return nil, fmt.Errorf("grants of user %s: %w", userID, err)
	}
	defer rows.Close()
	var grants []Grant
	for rows.Next() {
		var g Grant
		if err := rows.Scan(&g.TenantID, &g.ProjectID, stringsCol{&g.Permissions}); err != nil {
			return nil, fmt.Errorf("grants of user %s: %w", userID, err)
		}
		grants = append(grants, g)
	}
	return grants, rows.Err()
}

// TouchAPIKey records that a key was used, without bumping its
// resourceVersion (bookkeeping, not a change by anyone).
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	if _, err := s.exec(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, micros(at), id); err != nil {
		return fmt.Errorf("record use of API key %s: %w", id, err)
	}
	return nil
}
