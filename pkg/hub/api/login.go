package api

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// LoginKeyTTL is how long a key made by POST /login is valid.
const LoginKeyTTL = 12 * time.Hour

// LoginRequest exchanges a user's name and password for a new API key
// (`nest login --user`).
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	// Host names the machine the key is for, in the key's name
	// (login-HOST-TIME); it is cut to 20 lower-case letters, digits and '-'.
	Host string `json:"host,omitempty"`
}

func (r *LoginRequest) validate() *Error {
	var pw *Error
	switch {
	case r.Password == "":
		pw = invalid("password", "is required")
	case len(r.Password) > auth.MaxPasswordLen:
		pw = invalid("password", "must be at most %d characters", auth.MaxPasswordLen)
	}
	return firstError(validateName("user", r.User), pw, validateText("host", r.Host, 255))
}

// loginKeyName is login-HOST-TIME, a valid object name.
func loginKeyName(host string, now time.Time) string {
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= 20 {
			break
		}
	}
	h := strings.Trim(b.String(), "-")
	if h == "" {
		h = "cli"
	}
	return "login-" + h + "-" + now.UTC().Format("20060102-150405")
}

// dummyHash keeps a login for an unknown user as slow as a wrong password.
// It is made once, by New, not at package init: an argon2id hash costs
// ~100 ms of CPU and 20 MB, which every nest process (each virtual
// cluster's control plane among them) paid at start.
var dummyHash = sync.OnceValue(func() string { return auth.HashPassword("not the password of anyone") })

// login authenticates itself: the route takes no API key. A wrong user or
// password counts as a failed authentication of the client's address (the
// same rate limit as bad API keys) and is logged, never with the password.
func login(c *call, req *LoginRequest) (*CreatedAPIKey, error) {
	ip := clientIP(c.r)
	fail := func() error {
		c.api.limiter.fail(ip, c.api.now())
		c.api.log.Info("Login failed", "requestId", c.requestID, "client", ip, "user", req.User)
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "wrong user name or password"}
	}
	u, err := c.store().Users.Find(c.ctx, map[string]string{"name": req.User})
	if errors.Is(err, store.ErrNotFound) {
		_ = auth.VerifyPassword(dummyHash(), req.Password)
		return nil, fail()
	}
	if err != nil {
		return nil, err
	}
	if u.PasswordHash == "" {
		_ = auth.VerifyPassword(dummyHash(), req.Password)
		return nil, fail()
	}
	if auth.VerifyPassword(u.PasswordHash, req.Password) != nil || u.Disabled {
		return nil, fail()
	}
	c.principal = &auth.Principal{UserID: u.ID, UserName: u.Name}
	secret := auth.NewKey()
	prefix, hash, err := auth.SplitKey(secret)
	if err != nil {
		return nil, err
	}
	now := c.api.now()
	k := &store.APIKey{Meta: store.Meta{Name: loginKeyName(req.Host, now)}, UserID: u.ID, Prefix: prefix, KeyHash: hash,
		ExpiresAt: now.Add(LoginKeyTTL).UTC()}
	if err := c.store().APIKeys.Create(c.ctx, k); err != nil {
		return nil, err
	}
	if err := c.recordAs("apikey.login", "apikey", k.ID, nil, k); err != nil {
		return nil, err
	}
	c.api.log.Info("Logged in", "requestId", c.requestID, "client", ip, "user", u.Name, "key", k.ID)
	return &CreatedAPIKey{APIKey: *k, Key: secret}, nil
}
