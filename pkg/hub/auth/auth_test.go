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
