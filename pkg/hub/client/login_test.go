package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
)

// TestLogin exchanges a password for a key, and uses the key.
func TestLogin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := hub(t)
	const password = "correct horse battery"
	if _, err := admin(t).CreateUser(ctx, api.CreateUserRequest{Name: "login-user", Password: password}); err != nil {
		t.Fatal(err)
	}
	cfg := client.Config{URL: h.URL, CACert: h.CACert}
	if _, err := client.Login(ctx, cfg, api.LoginRequest{User: "login-user", Password: "wrong password!"}); !client.IsUnauthenticated(err) ||
		strings.Contains(err.Error(), "wrong password!") {
		t.Fatalf("login with a wrong password: %v", err)
	}
	key, err := client.Login(ctx, cfg, api.LoginRequest{User: "login-user", Password: password, Host: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key.Name, "login-laptop-") || key.ExpiresAt.IsZero() {
		t.Fatalf("login key %+v", key.APIKey)
	}
	who, err := newClient(t, key.Key).WhoAmI(ctx)
	if err != nil || who.User.Name != "login-user" {
		t.Fatalf("whoami with the login key: %+v, %v", who, err)
	}
}
