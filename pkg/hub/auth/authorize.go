package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nestcluster/nest/pkg/hub/store"
)

// Errors of authentication and authorization. Their messages say nothing
// about which part of a credential was wrong.
var (
	ErrUnauthenticated = errors.New("missing, invalid, expired or revoked API key")
	ErrForbidden       = errors.New("permission denied")
)

// Principal is an authenticated caller: a user, the key it used and every
// grant it holds (directly and through teams), loaded once per request.
type Principal struct {
	UserID   string
	UserName string
	KeyID    string
	Grants   []store.Grant
}

// String names the principal in audit events and logs.
func (p *Principal) String() string { return "user:" + p.UserName }

// Scope is where an action happens. The zero Scope is global (hub-wide
// objects such as users and tenants). Any asks whether the permission is
// held anywhere at all (used for reading hub-wide catalogues such as roles,
// and for one's own API keys).
type Scope struct {
	TenantID  string
	ProjectID string
	Any       bool
}

// scopeOf is a grant seen as the scope of its binding.
// covers reports whether a grant made at the grant's scope reaches s: a
// global grant reaches everything, a tenant grant the tenant and its
// projects, a project grant that project.
func (g scopeOf) covers(s Scope) bool {
	switch {
	case s.Any, g.TenantID == "":
		return true
	case g.TenantID != s.TenantID:
		return false
	default:
		return g.ProjectID == "" || g.ProjectID == s.ProjectID
	}
}

type scopeOf store.Grant

// Allowed reports whether grants give perm at scope.
func Allowed(grants []store.Grant, perm Permission, scope Scope) bool {
	for _, g := range grants {
		if holds(g.Permissions, perm) && scopeOf(g).covers(scope) {
			return true
		}
	}
	return false
}

// Authorize is the one access check of the hub: nil when p holds perm at
// scope, ErrForbidden otherwise. An empty perm only needs a principal.
func Authorize(_ context.Context, p *Principal, perm Permission, scope Scope) error {
	if p == nil {
		return ErrUnauthenticated
	}
	if perm == "" || Allowed(p.Grants, perm, scope) {
		return nil
	}
	return fmt.Errorf("%w: %s needs %s", ErrForbidden, p, perm)
}

// touchEvery bounds how often a key's last-used time is written.
const touchEvery = time.Minute

// Authenticate turns an API key into a Principal, recording the key's use.
// Every failure is ErrUnauthenticated.
func Authenticate(ctx context.Context, s *store.Store, key string, now time.Time) (*Principal, error) {
	prefix, hash, err := SplitKey(key)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	k, err := s.APIKeys.Find(ctx, map[string]string{"prefix": prefix})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if !hashesEqual(k.KeyHash, hash) || !k.RevokedAt.IsZero() || (!k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)) {
		return nil, ErrUnauthenticated
	}
	u, err := s.Users.Get(ctx, k.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if u.Disabled {
		return nil, ErrUnauthenticated
	}
	if now.Sub(k.LastUsedAt) >= touchEvery {
		if err := s.TouchAPIKey(ctx, k.ID, now); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
	}
	grants, err := s.Grants(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return &Principal{UserID: u.ID, UserName: u.Name, KeyID: k.ID, Grants: grants}, nil
}

// EnsureBuiltinRoles creates the built-in roles that are missing and
// brings the others' permissions up to date.
func EnsureBuiltinRoles(ctx context.Context, s *store.Store) error {
	for _, br := range BuiltinRoles() {
		r, err := s.Roles.Find(ctx, map[string]string{"name": br.Name})
		switch {
		case errors.Is(err, store.ErrNotFound):
			r = &store.Role{Meta: store.Meta{Name: br.Name}, Description: br.Description, Builtin: true, Permissions: br.Permissions}
			// A replica starting at the same time may create it first.
			if err := s.Roles.Create(ctx, r); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
				return fmt.Errorf("create built-in role: %w", err)
			}
		case err != nil:
			return fmt.Errorf("read built-in role %s: %w", br.Name, err)
		case !r.Builtin:
			return fmt.Errorf("a custom role is named %s, which is the name of a built-in role: rename it", br.Name)
		case r.Description != br.Description || !slices.Equal(r.Permissions, br.Permissions):
			r.Description, r.Permissions = br.Description, br.Permissions
			if err := s.Roles.Update(ctx, r); err != nil {
				return fmt.Errorf("update built-in role: %w", err)
			}
		}
	}
	return nil
}

// AdminUser is the user made on the first start.
const AdminUser = "admin"

// Bootstrap makes an empty hub usable: when the store has no user, it
// creates the admin user bound to hub-admin globally, with an API key
// named "bootstrap". The key is key when given (from an env var or file)
// or a new one; only its hash is stored. It returns the key to show once,
// or "" when the hub already had users.
func Bootstrap(ctx context.Context, s *store.Store, key string) (string, error) {
	if key == "" {
		key = NewKey()
	}
	prefix, hash, err := SplitKey(key)
	if err != nil {
		return "", fmt.Errorf("bootstrap key: %w", err)
	}
	created := false
	err = s.InTx(ctx, func(ctx context.Context) error {
		users, err := s.Users.List(ctx, store.ListOptions{Limit: 1})
		if err != nil {
			return err
		}
		if len(users.Items) > 0 {
			return nil
		}
		role, err := s.Roles.Find(ctx, map[string]string{"name": RoleHubAdmin})
		if err != nil {
			return err
		}
		u := &store.User{Meta: store.Meta{Name: AdminUser}}
		if err := s.Users.Create(ctx, u); err != nil {
			return err
		}
		rb := &store.RoleBinding{Meta: store.Meta{Name: "bootstrap-hub-admin"}, RoleID: role.ID, SubjectKind: store.SubjectUser, SubjectID: u.ID}
		if err := s.RoleBindings.Create(ctx, rb); err != nil {
			return err
		}
		k := &store.APIKey{Meta: store.Meta{Name: "bootstrap"}, UserID: u.ID, Prefix: prefix, KeyHash: hash}
		if err := s.APIKeys.Create(ctx, k); err != nil {
			return err
		}
		created = true
		return nil
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		// A replica starting at the same time bootstrapped the hub first.
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("bootstrap the hub: %w", err)
	}
	if !created {
		return "", nil
	}
	return key, nil
}
