package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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
// Every failure is ErrUnauthenticated. It reads the store every time; the
// API server uses an Authenticator, which keeps principals between
// changes.
func Authenticate(ctx context.Context, s *store.Store, key string, now time.Time) (*Principal, error) {
	p, _, err := load(ctx, s, key, now)
	return p, err
}

// load reads the principal of key from the store, recording the key's use,
// and returns it with what a cache must check before reusing it.
func load(ctx context.Context, s *store.Store, key string, now time.Time) (*Principal, *cached, error) {
	prefix, hash, err := SplitKey(key)
	if err != nil {
		return nil, nil, ErrUnauthenticated
	}
	k, err := s.APIKeys.Find(ctx, map[string]string{"prefix": prefix})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, nil, fmt.Errorf("authenticate: %w", err)
	}
	if !hashesEqual(k.KeyHash, hash) || !k.RevokedAt.IsZero() || (!k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)) {
		return nil, nil, ErrUnauthenticated
	}
	u, err := s.Users.Get(ctx, k.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, nil, fmt.Errorf("authenticate: %w", err)
	}
	if u.Disabled {
		return nil, nil, ErrUnauthenticated
	}
	if now.Sub(k.LastUsedAt) >= touchEvery {
		if err := s.TouchAPIKey(ctx, k.ID, now); err != nil {
			return nil, nil, fmt.Errorf("authenticate: %w", err)
		}
		k.LastUsedAt = now
	}
	grants, err := s.Grants(ctx, u.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("authenticate: %w", err)
	}
	p := &Principal{UserID: u.ID, UserName: u.Name, KeyID: k.ID, Grants: grants}
	return p, &cached{principal: p, keyHash: k.KeyHash, expiresAt: k.ExpiresAt, lastUsed: k.LastUsedAt}, nil
}

// Authenticator authenticates API keys like Authenticate and keeps the
// principals it loaded while the store's auth epoch stays the same: every
// change of users, keys, teams, roles, bindings, tenants or projects
// bumps it in its own transaction (on whichever replica made it), and the
// next request sees the new epoch and loads again. A request costs one
// read of the epoch instead of the key, the user and the grants; expiry is
// checked on every request and a key's use is still recorded (at most
// once a minute). Unknown keys are never kept.
type Authenticator struct {
	store *store.Store

	mu    sync.Mutex
	epoch int64
	keys  map[string]*cached // by the key's hash
}

// cached is a principal and what its key's row said when it was loaded.
type cached struct {
	principal *Principal
	keyHash   string
	expiresAt time.Time
	lastUsed  time.Time
}

// maxCachedKeys bounds the Authenticator's memory: past it, it starts over.
const maxCachedKeys = 10000

// NewAuthenticator returns an Authenticator on s.
func NewAuthenticator(s *store.Store) *Authenticator {
	return &Authenticator{store: s, epoch: -1, keys: map[string]*cached{}}
}

// Authenticate turns an API key into a Principal (shared: callers must
// not change it). Every failure is ErrUnauthenticated.
func (a *Authenticator) Authenticate(ctx context.Context, key string, now time.Time) (*Principal, error) {
	if _, _, err := SplitKey(key); err != nil {
		return nil, ErrUnauthenticated
	}
	// The epoch is read before the principal is loaded, so a principal is
	// never kept under an epoch newer than what it was loaded from.
	epoch, err := a.store.AuthEpoch(ctx)
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return a.AuthenticateAt(ctx, key, now, epoch)
}

// AuthenticateAt is Authenticate with the auth epoch read by the caller
// (store.Epochs reads it with another epoch in one query), before this
// call.
func (a *Authenticator) AuthenticateAt(ctx context.Context, key string, now time.Time, epoch int64) (*Principal, error) {
	_, hash, err := SplitKey(key)
	if err != nil {
		return nil, ErrUnauthenticated
	}
	a.mu.Lock()
	if epoch != a.epoch {
		a.epoch, a.keys = epoch, map[string]*cached{}
	}
	c := a.keys[hash]
	touch := c != nil && now.Sub(c.lastUsed) >= touchEvery
	if touch {
		c.lastUsed = now // one request records the use
	}
	a.mu.Unlock()
	if c == nil {
		p, loaded, err := load(ctx, a.store, key, now)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		if a.epoch == epoch {
			if len(a.keys) >= maxCachedKeys {
				a.keys = map[string]*cached{}
			}
			a.keys[hash] = loaded
		}
		a.mu.Unlock()
		return p, nil
	}
	if !hashesEqual(c.keyHash, hash) || (!c.expiresAt.IsZero() && !now.Before(c.expiresAt)) {
		return nil, ErrUnauthenticated
	}
	if touch {
		if err := a.store.TouchAPIKey(ctx, c.principal.KeyID, now); err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
	}
	return c.principal, nil
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
