package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

func TestAllowed(t *testing.T) {
	t.Parallel()
	global := store.Grant{Permissions: []string{"*"}}
	tenantA := store.Grant{TenantID: "A", Permissions: []string{"project.get", "team.*"}}
	projectP := store.Grant{TenantID: "A", ProjectID: "P", Permissions: []string{"virtualcluster.create"}}
	tests := []struct {
		name   string
		grants []store.Grant
		perm   auth.Permission
		scope  auth.Scope
		want   bool
	}{
		{"no grants", nil, "project.get", auth.Scope{TenantID: "A"}, false},
		{"global wildcard reaches global", []store.Grant{global}, "user.create", auth.Scope{}, true},
		{"global wildcard reaches a project", []store.Grant{global}, "virtualcluster.kubeconfig", auth.Scope{TenantID: "B", ProjectID: "Q"}, true},
		{"tenant grant at its tenant", []store.Grant{tenantA}, "project.get", auth.Scope{TenantID: "A"}, true},
		{"tenant grant reaches its projects", []store.Grant{tenantA}, "project.get", auth.Scope{TenantID: "A", ProjectID: "P"}, true},
		{"tenant grant not another tenant", []store.Grant{tenantA}, "project.get", auth.Scope{TenantID: "B"}, false},
		{"tenant grant not global", []store.Grant{tenantA}, "project.get", auth.Scope{}, false},
		{"resource wildcard", []store.Grant{tenantA}, "team.delete", auth.Scope{TenantID: "A"}, true},
		{"permission not held", []store.Grant{tenantA}, "project.delete", auth.Scope{TenantID: "A"}, false},
		{"project grant at its project", []store.Grant{projectP}, "virtualcluster.create", auth.Scope{TenantID: "A", ProjectID: "P"}, true},
		{"project grant not its tenant", []store.Grant{projectP}, "virtualcluster.create", auth.Scope{TenantID: "A"}, false},
		{"project grant not a sibling", []store.Grant{projectP}, "virtualcluster.create", auth.Scope{TenantID: "A", ProjectID: "R"}, false},
		{"any scope", []store.Grant{projectP}, "virtualcluster.create", auth.Scope{Any: true}, true},
		{"any scope still needs the permission", []store.Grant{projectP}, "virtualcluster.delete", auth.Scope{Any: true}, false},
		{"second grant allows", []store.Grant{projectP, tenantA}, "project.get", auth.Scope{TenantID: "A", ProjectID: "R"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := auth.Allowed(tc.grants, tc.perm, tc.scope); got != tc.want {
				t.Fatalf("Allowed = %v, want %v", got, tc.want)
			}
			err := auth.Authorize(context.Background(), &auth.Principal{UserName: "u", Grants: tc.grants}, tc.perm, tc.scope)
			if (err == nil) != tc.want || (err != nil && !errors.Is(err, auth.ErrForbidden)) {
				t.Fatalf("Authorize = %v", err)
			}
		})
	}
}

func TestBuiltinRolesUseKnownPermissions(t *testing.T) {
	t.Parallel()
	for _, r := range auth.BuiltinRoles() {
		if r.Name == auth.RoleHubAdmin {
			continue
		}
		if err := auth.ValidatePermissions(r.Permissions); err != nil {
			t.Errorf("role %s: %v", r.Name, err)
		}
	}
}

func TestValidatePermissions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		perms []string
		err   string
	}{
		{"ok", []string{"project.get", "virtualcluster.kubeconfig"}, ""},
		{"empty", nil, "at least one"},
		{"unknown", []string{"project.get", "project.fly"}, `[1]: unknown permission "project.fly"`},
		{"wildcard", []string{"*"}, "unknown permission"},
		{"twice", []string{"audit.list", "audit.list"}, "listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := auth.ValidatePermissions(tc.perms)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	k1, k2 := auth.NewKey(), auth.NewKey()
	if k1 == k2 || !strings.HasPrefix(k1, "nest_") || len(k1) != 48 {
		t.Fatalf("keys %q %q", k1, k2)
	}
	tests := []struct {
		name string
		key  string
		ok   bool
	}{
		{"new key", k1, true},
		{"long key", "nest_" + strings.Repeat("a", 100), true},
		{"no prefix", strings.TrimPrefix(k1, "nest_"), false},
		{"short", "nest_abc", false},
		{"bad characters", "nest_" + strings.Repeat("$", 43), false},
		{"too long", "nest_" + strings.Repeat("a", 200), false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix, hash, err := auth.SplitKey(tc.key)
			if (err == nil) != tc.ok {
				t.Fatalf("SplitKey err = %v", err)
			}
			if tc.ok && (len(prefix) != 12 || hash != auth.HashKey(tc.key) || strings.Contains(hash, tc.key)) {
				t.Fatalf("prefix %q hash %q", prefix, hash)
			}
		})
	}
	for header, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer": "", "": ""} {
		if got, _ := auth.BearerToken(header); got != want {
			t.Errorf("BearerToken(%q) = %q, want %q", header, got, want)
		}
	}
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	h1 := auth.HashPassword("correct horse battery")
	h2 := auth.HashPassword("correct horse battery")
	if h1 == h2 || !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hashes %q %q: want distinct salts and PHC format", h1, h2)
	}
	tests := []struct {
		name string
		hash string
		pw   string
		want error
	}{
		{"right", h1, "correct horse battery", nil},
		{"wrong", h1, "correct horse batterz", auth.ErrMismatchedPassword},
		{"empty", h2, "", auth.ErrMismatchedPassword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := auth.VerifyPassword(tc.hash, tc.pw); !errors.Is(err, tc.want) {
				t.Fatalf("VerifyPassword = %v, want %v", err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "$bcrypt$x", "$argon2id$v=19$m=x$a$b", "$argon2id$v=18$m=1,t=1,p=1$YQ$YQ"} {
		if err := auth.VerifyPassword(bad, "x"); err == nil || errors.Is(err, auth.ErrMismatchedPassword) {
			t.Errorf("VerifyPassword(%q) = %v, want a format error", bad, err)
		}
	}
	if auth.ValidatePassword("short") == nil || auth.ValidatePassword("long enough password") != nil {
		t.Error("ValidatePassword length limits")
	}
}

// TestAuthenticate runs against SQLite and PostgreSQL.
func TestAuthenticate(t *testing.T) {
	for _, b := range storetest.Both(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := b.Open(t)
			now := time.Now()
			if err := auth.EnsureBuiltinRoles(ctx, s); err != nil {
				t.Fatal(err)
			}
			if err := auth.EnsureBuiltinRoles(ctx, s); err != nil {
				t.Fatalf("second EnsureBuiltinRoles: %v", err)
			}
			given := auth.NewKey()
			key, err := auth.Bootstrap(ctx, s, given)
			if err != nil || key != given {
				t.Fatalf("Bootstrap = %q, %v", key, err)
			}
			if again, err := auth.Bootstrap(ctx, s, ""); err != nil || again != "" {
				t.Fatalf("second Bootstrap = %q, %v; want nothing", again, err)
			}
			p, err := auth.Authenticate(ctx, s, key, now)
			if err != nil {
				t.Fatal(err)
			}
			if p.UserName != auth.AdminUser || auth.Authorize(ctx, p, "user.create", auth.Scope{}) != nil {
				t.Fatalf("bootstrap principal %+v cannot administer", p)
			}
			k, err := s.APIKeys.Get(ctx, p.KeyID)
			if err != nil || k.LastUsedAt.IsZero() || k.KeyHash == key {
				t.Fatalf("key after use: %+v, %v", k, err)
			}

			admin, _ := s.Users.Find(ctx, map[string]string{"name": auth.AdminUser})
			mk := func(name string, mutate func(*store.APIKey)) string {
				secret := auth.NewKey()
				prefix, hash, _ := auth.SplitKey(secret)
				k := &store.APIKey{Meta: store.Meta{Name: name}, UserID: admin.ID, Prefix: prefix, KeyHash: hash}
				mutate(k)
				if err := s.APIKeys.Create(ctx, k); err != nil {
					t.Fatal(err)
				}
				return secret
			}
			expired := mk("expired", func(k *store.APIKey) { k.ExpiresAt = now.Add(-time.Second) })
			revoked := mk("revoked", func(k *store.APIKey) { k.RevokedAt = now.Add(-time.Hour) })
			future := mk("future", func(k *store.APIKey) { k.ExpiresAt = now.Add(time.Hour) })
			wrongSecret := key[:len(auth.KeyPrefix)+12] + strings.Repeat("A", len(key)-len(auth.KeyPrefix)-12)
			tests := []struct {
				name string
				key  string
				ok   bool
			}{
				{"not yet expired", future, true},
				{"expired", expired, false},
				{"revoked", revoked, false},
				{"right prefix, wrong secret", wrongSecret, false},
				{"unknown", auth.NewKey(), false},
				{"malformed", "hello", false},
			}
			for _, tc := range tests {
				_, err := auth.Authenticate(ctx, s, tc.key, now)
				if tc.ok != (err == nil) || (err != nil && !errors.Is(err, auth.ErrUnauthenticated)) {
					t.Errorf("%s: Authenticate = %v", tc.name, err)
				}
			}
			admin.Disabled = true
			if err := s.Users.Update(ctx, admin); err != nil {
				t.Fatal(err)
			}
			if _, err := auth.Authenticate(ctx, s, key, now); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("disabled user: Authenticate = %v", err)
			}
		})
	}
}

// TestConcurrentStarts is hub replicas starting together on one empty
// Postgres database: all succeed, and exactly one admin key is made.
func TestConcurrentStarts(t *testing.T) {
	t.Parallel()
	pg := storetest.Postgres(t)
	url := pg.URL(t)
	const replicas = 4
	keys := make(chan string, replicas)
	errs := make(chan error, replicas)
	for range replicas {
		go func() {
			ctx := context.Background()
			s, err := store.Open(ctx, url)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			if _, err := s.Migrate(ctx); err != nil {
				errs <- err
				return
			}
			if err := auth.EnsureBuiltinRoles(ctx, s); err != nil {
				errs <- err
				return
			}
			key, err := auth.Bootstrap(ctx, s, "")
			if err != nil {
				errs <- err
				return
			}
			keys <- key
		}()
	}
	made := 0
	for range replicas {
		select {
		case err := <-errs:
			t.Fatalf("a replica failed to start: %v", err)
		case key := <-keys:
			if key != "" {
				made++
			}
		}
	}
	if made != 1 {
		t.Fatalf("%d replicas made an admin key, want 1", made)
	}
}

// TestAuthenticatorFollowsChanges: the Authenticator keeps principals
// between requests, yet every change of what a principal is made of (a
// revoked key, a disabled user, a new or removed binding, a team
// membership, a role's permissions) shows on the very next request, made
// through this store or another one on the same database (another hub
// replica). Expiry and last use are checked while a principal is kept.
func TestAuthenticatorFollowsChanges(t *testing.T) {
	for _, b := range storetest.Both(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.URL(t)
			s := storetest.OpenURL(t, url)
			other := storetest.OpenURL(t, url) // a second replica's store
			if err := auth.EnsureBuiltinRoles(ctx, s); err != nil {
				t.Fatal(err)
			}
			tenant := &store.Tenant{Meta: store.Meta{Name: "acme"}}
			if err := s.Tenants.Create(ctx, tenant); err != nil {
				t.Fatal(err)
			}
			u := &store.User{Meta: store.Meta{Name: "ada"}}
			if err := s.Users.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			secret := auth.NewKey()
			prefix, hash, _ := auth.SplitKey(secret)
			key := &store.APIKey{Meta: store.Meta{Name: "k"}, UserID: u.ID, Prefix: prefix, KeyHash: hash, ExpiresAt: now.Add(time.Hour)}
			if err := s.APIKeys.Create(ctx, key); err != nil {
				t.Fatal(err)
			}
			viewer, err := s.Roles.Find(ctx, map[string]string{"name": auth.RoleProjectViewer})
			if err != nil {
				t.Fatal(err)
			}
			a := auth.NewAuthenticator(s)
			allowed := func(at time.Time) (bool, error) {
				t.Helper()
				p, err := a.Authenticate(ctx, secret, at)
				if err != nil {
					return false, err
				}
				return auth.Authorize(ctx, p, "virtualcluster.list", auth.Scope{TenantID: tenant.ID, ProjectID: "p"}) == nil, nil
			}
			want := func(step string, wantOK bool, wantErr error) {
				t.Helper()
				ok, err := allowed(now)
				if !errors.Is(err, wantErr) || ok != wantOK {
					t.Fatalf("%s: allowed = %v, %v; want %v, %v", step, ok, err, wantOK, wantErr)
				}
			}
			want("no binding", false, nil)
			want("no binding, kept", false, nil)
			epoch, _ := s.AuthEpoch(ctx)

			// The key's use is recorded (bookkeeping: not a change of the
			// principal, the epoch stays).
			if k, err := s.APIKeys.Get(ctx, key.ID); err != nil || k.LastUsedAt.IsZero() {
				t.Fatalf("last use not recorded: %+v, %v", k, err)
			}
			if _, err := a.Authenticate(ctx, secret, now.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if k, _ := s.APIKeys.Get(ctx, key.ID); !k.LastUsedAt.After(now) {
				t.Fatalf("last use of a kept principal not recorded: %v", k.LastUsedAt)
			}
			if e, _ := s.AuthEpoch(ctx); e != epoch {
				t.Fatalf("recording a key's use bumped the auth epoch %d -> %d", epoch, e)
			}
			// Expiry is checked on a kept principal.
			if _, err := allowed(now.Add(2 * time.Hour)); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Fatalf("expired key: %v", err)
			}

			rb := &store.RoleBinding{Meta: store.Meta{Name: "ada"}, TenantID: tenant.ID, RoleID: viewer.ID, SubjectKind: store.SubjectUser, SubjectID: u.ID}
			if err := other.RoleBindings.Create(ctx, rb); err != nil {
				t.Fatal(err)
			}
			want("binding made by another replica", true, nil)
			if err := other.RoleBindings.Delete(ctx, rb.ID, 0); err != nil {
				t.Fatal(err)
			}
			want("binding deleted", false, nil)

			team := &store.Team{Meta: store.Meta{Name: "devs"}, TenantID: tenant.ID}
			if err := s.Teams.Create(ctx, team); err != nil {
				t.Fatal(err)
			}
			trb := &store.RoleBinding{Meta: store.Meta{Name: "devs"}, TenantID: tenant.ID, RoleID: viewer.ID, SubjectKind: store.SubjectTeam, SubjectID: team.ID}
			if err := s.RoleBindings.Create(ctx, trb); err != nil {
				t.Fatal(err)
			}
			want("team bound, not a member", false, nil)
			if _, err := other.AddTeamMember(ctx, team.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			want("team member", true, nil)
			if err := other.RemoveTeamMember(ctx, team.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			want("out of the team", false, nil)

			custom := &store.Role{Meta: store.Meta{Name: "lister"}, Permissions: []string{"virtualcluster.get"}}
			if err := s.Roles.Create(ctx, custom); err != nil {
				t.Fatal(err)
			}
			crb := &store.RoleBinding{Meta: store.Meta{Name: "lister"}, TenantID: tenant.ID, RoleID: custom.ID, SubjectKind: store.SubjectUser, SubjectID: u.ID}
			if err := s.RoleBindings.Create(ctx, crb); err != nil {
				t.Fatal(err)
			}
			want("role without the permission", false, nil)
			custom.Permissions = []string{"virtualcluster.get", "virtualcluster.list"}
			if err := other.Roles.Update(ctx, custom); err != nil {
				t.Fatal(err)
			}
			want("role given the permission", true, nil)

			u.Disabled = true
			if err := other.Users.Update(ctx, u); err != nil {
				t.Fatal(err)
			}
			want("user disabled", false, auth.ErrUnauthenticated)
			u.Disabled = false
			if err := other.Users.Update(ctx, u); err != nil {
				t.Fatal(err)
			}
			want("user enabled again", true, nil)

			k, err := other.APIKeys.Get(ctx, key.ID)
			if err != nil {
				t.Fatal(err)
			}
			k.RevokedAt = now
			if err := other.APIKeys.Update(ctx, k); err != nil {
				t.Fatal(err)
			}
			want("key revoked", false, auth.ErrUnauthenticated)
		})
	}
}
