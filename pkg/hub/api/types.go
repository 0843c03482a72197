package api

import (
	"net/mail"
	"time"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Request bodies. Each validates every field and names the bad one.

// CreateTenantRequest creates a tenant.
type CreateTenantRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	// Quota bounds the tenant's virtual clusters (all of them together).
	Quota store.TenantQuota `json:"quota,omitzero"`
}

func validateTenantQuota(q store.TenantQuota) *Error {
	if q.VirtualClusters < 0 {
		return invalid("quota.virtualClusters", "must be 0 (no limit) or more")
	}
	return validateResources("quota", q.Resources)
}

func (r *CreateTenantRequest) validate() *Error {
	return firstError(validateName("name", r.Name), validateText("displayName", r.DisplayName, 256), validateTenantQuota(r.Quota))
}

// UpdateTenantRequest replaces a tenant's mutable fields. Changing the
// quota needs tenant.update globally (a tenant's admin cannot raise it).
type UpdateTenantRequest struct {
	DisplayName     string            `json:"displayName,omitempty"`
	Quota           store.TenantQuota `json:"quota,omitzero"`
	ResourceVersion int64             `json:"resourceVersion"`
}

func (r *UpdateTenantRequest) validate() *Error {
	return firstError(validateText("displayName", r.DisplayName, 256), validateTenantQuota(r.Quota), validateVersion(r.ResourceVersion))
}

// CreateProjectRequest creates a project in the tenant of the path.
type CreateProjectRequest struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
}

func (r *CreateProjectRequest) validate() *Error {
	return firstError(validateName("name", r.Name), validateText("displayName", r.DisplayName, 256))
}

// UpdateProjectRequest replaces a project's mutable fields.
type UpdateProjectRequest struct {
	DisplayName     string `json:"displayName,omitempty"`
	ResourceVersion int64  `json:"resourceVersion"`
}

func (r *UpdateProjectRequest) validate() *Error {
	return firstError(validateText("displayName", r.DisplayName, 256), validateVersion(r.ResourceVersion))
}

// CreateUserRequest creates a user; the password is optional (API keys
// need none) and stored only as an argon2id hash.
type CreateUserRequest struct {
	Name     string `json:"name"`
	Email    string `json:"email,omitempty"`
	Password string `json:"password,omitempty"`
}

func validateEmail(email string) *Error {
	if email == "" {
		return nil
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		return invalid("email", "must be a plain e-mail address like ada@example.com")
	}
	return nil
}

func validatePassword(pw string) *Error {
	if pw == "" {
		return nil
	}
	if err := auth.ValidatePassword(pw); err != nil {
		return invalid("password", "%v", err)
	}
	return nil
}

func (r *CreateUserRequest) validate() *Error {
	return firstError(validateName("name", r.Name), validateEmail(r.Email), validatePassword(r.Password))
}

// UpdateUserRequest replaces a user's mutable fields; an empty password
// keeps the current one.
type UpdateUserRequest struct {
	Email           string `json:"email,omitempty"`
	Password        string `json:"password,omitempty"`
	Disabled        bool   `json:"disabled,omitempty"`
	ResourceVersion int64  `json:"resourceVersion"`
}

func (r *UpdateUserRequest) validate() *Error {
	return firstError(validateEmail(r.Email), validatePassword(r.Password), validateVersion(r.ResourceVersion))
}

// CreateTeamRequest creates a team in the tenant of the path.
type CreateTeamRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

func (r *CreateTeamRequest) validate() *Error {
	return firstError(validateName("name", r.Name), validateText("description", r.Description, 1024))
}

// UpdateTeamRequest replaces a team's mutable fields.
type UpdateTeamRequest struct {
	Description     string `json:"description,omitempty"`
	ResourceVersion int64  `json:"resourceVersion"`
}

func (r *UpdateTeamRequest) validate() *Error {
	return firstError(validateText("description", r.Description, 1024), validateVersion(r.ResourceVersion))
}

// CreateRoleRequest creates a custom role.
type CreateRoleRequest struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Permissions []string `json:"permissions"`
}

func validatePermissions(perms []string) *Error {
	if err := auth.ValidatePermissions(perms); err != nil {
		return invalid("permissions", "%v", err)
	}
	return nil
}

func (r *CreateRoleRequest) validate() *Error {
	return firstError(validateName("name", r.Name), validateText("description", r.Description, 1024), validatePermissions(r.Permissions))
}

// UpdateRoleRequest replaces a custom role's mutable fields.
type UpdateRoleRequest struct {
	Description     string   `json:"description,omitempty"`
	Permissions     []string `json:"permissions"`
	ResourceVersion int64    `json:"resourceVersion"`
}

func (r *UpdateRoleRequest) validate() *Error {
	return firstError(validateText("description", r.Description, 1024), validatePermissions(r.Permissions), validateVersion(r.ResourceVersion))
}

// CreateRoleBindingRequest binds a role (by name) to a user or team at the
// scope of the path.
type CreateRoleBindingRequest struct {
	Name        string `json:"name"`
	Role        string `json:"role"`
	SubjectKind string `json:"subjectKind"`
	SubjectID   string `json:"subjectId"`
}

func (r *CreateRoleBindingRequest) validate() *Error {
	var kind *Error
	if r.SubjectKind != store.SubjectUser && r.SubjectKind != store.SubjectTeam {
		kind = invalid("subjectKind", "must be %q or %q", store.SubjectUser, store.SubjectTeam)
	}
	var subject *Error
	if r.SubjectID == "" {
		subject = invalid("subjectId", "is required")
	}
	return firstError(validateName("name", r.Name), validateName("role", r.Role), kind, subject)
}

// CreateAPIKeyRequest creates an API key for the caller.
type CreateAPIKeyRequest struct {
	Name      string    `json:"name"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

func (r *CreateAPIKeyRequest) validate() *Error {
	if err := validateName("name", r.Name); err != nil {
		return err
	}
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(time.Now()) {
		return invalid("expiresAt", "must be in the future")
	}
	return nil
}

// Responses.

// CreatedAPIKey is a new API key with its secret: the only time the
// secret is ever shown.
type CreatedAPIKey struct {
	store.APIKey
	Key string `json:"key"`
}

// TeamMembers lists a team's members.
type TeamMembers struct {
	Items []store.TeamMember `json:"items"`
}

// Permissions lists every permission a custom role may name.
type Permissions struct {
	Items []string `json:"items"`
}

// Grant is one role binding's permissions at its scope, as whoami shows it.
type Grant struct {
	TenantID    string   `json:"tenantId,omitempty"`
	ProjectID   string   `json:"projectId,omitempty"`
	Permissions []string `json:"permissions"`
}

// WhoAmI describes the caller.
type WhoAmI struct {
	User   store.User `json:"user"`
	KeyID  string     `json:"keyId"`
	Grants []Grant    `json:"grants"`
	// KubernetesVersions are the versions a virtual cluster may be
	// created with or upgraded to on this hub.
	KubernetesVersions []string `json:"kubernetesVersions"`
}

// none is the request or response of a route that has no body.
type none struct{}
