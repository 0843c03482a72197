package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestLogin exchanges a user's password for an API key: valid 12 hours,
// named after the host, audited; every wrong attempt is a 401 that counts
// against the address's rate limit.
func TestLogin(t *testing.T) {
	t.Parallel()
	h := newHub(t, storetest.SQLite.Open(t), func(c *api.Config) { c.AuthFailures, c.AuthBurst = rate.Limit(1e-6), 5 })
	const password = "correct horse battery"
	h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "bob", "password": password}).must(t, 201)
	h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "keyonly"}).must(t, 201)
	var disabled store.User
	h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "gone", "password": password}).must(t, 201).decode(t, &disabled)
	h.do("PUT", "/api/v1/users/"+disabled.ID, h.admin, map[string]any{"disabled": true, "resourceVersion": disabled.ResourceVersion}).must(t, 200)

	tests := []struct {
		name   string
		body   any
		header []string
		want   int
		field  string
	}{
		{name: "wrong password", body: map[string]any{"user": "bob", "password": "not the password"}, want: 401},
		{name: "unknown user", body: map[string]any{"user": "nobody", "password": password}, want: 401},
		{name: "user without password", body: map[string]any{"user": "keyonly", "password": password}, want: 401},
		{name: "disabled user", body: map[string]any{"user": "gone", "password": password}, want: 401},
		{name: "no password", body: map[string]any{"user": "bob"}, want: 400, field: "password"},
		{name: "bad user name", body: map[string]any{"user": "Bob!", "password": password}, want: 400, field: "user"},
		{name: "unknown field", body: map[string]any{"user": "bob", "password": password, "admin": true}, want: 400, field: "admin"},
		{name: "idempotency key", body: map[string]any{"user": "bob", "password": password}, header: []string{"Idempotency-Key", "k"}, want: 400, field: "Idempotency-Key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.do("POST", "/api/v1/login", "", tt.body, tt.header...).must(t, tt.want)
			if tt.field != "" {
				if e := resp.apiError(t); e.Details["field"] != tt.field {
					t.Fatalf("error %+v, want field %s", e, tt.field)
				}
			}
			if strings.Contains(string(resp.body), password) {
				t.Fatal("the response holds the password")
			}
		})
	}

	var key api.CreatedAPIKey
	h.do("POST", "/api/v1/login", "", map[string]any{"user": "bob", "password": password, "host": "Bob's Laptop.local"}).must(t, 201).decode(t, &key)
	if !strings.HasPrefix(key.Name, "login-bob-s-laptop-local-") || key.Key == "" {
		t.Fatalf("login key %+v", key.APIKey)
	}
	if ttl := time.Until(key.ExpiresAt); ttl < api.LoginKeyTTL-time.Minute || ttl > api.LoginKeyTTL {
		t.Fatalf("login key expires in %s, want %s", ttl, api.LoginKeyTTL)
	}
	var who api.WhoAmI
	h.do("GET", "/api/v1/whoami", key.Key, nil).must(t, 200).decode(t, &who)
	if who.User.Name != "bob" || who.KeyID != key.ID {
		t.Fatalf("whoami with the login key: %+v", who)
	}
	var events store.Page[store.AuditEvent]
	h.do("GET", "/api/v1/audit?action=apikey.login", h.admin, nil).must(t, 200).decode(t, &events)
	if len(events.Items) != 1 || events.Items[0].Principal != "user:bob" || events.Items[0].ResourceID != key.ID ||
		strings.Contains(string(events.Items[0].After), key.Key) {
		t.Fatalf("audit of the login: %+v", events.Items)
	}

	// A key sent to login is ignored: the route authenticates itself.
	h.do("POST", "/api/v1/login", h.admin, map[string]any{"user": "bob", "password": "wrong password!"}).must(t, 401)

	// Five failures so far: the address is blocked, even with the right password.
	e := h.do("POST", "/api/v1/login", "", map[string]any{"user": "bob", "password": password}).must(t, http.StatusTooManyRequests).apiError(t)
	if e.Code != api.CodeTooManyRequests {
		t.Fatalf("rate limit error %+v", e)
	}
}
