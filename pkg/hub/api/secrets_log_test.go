package api_test

import (
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/log/logtest"
)

// TestNoSecretsInLogs captures the API's log, at its most verbose, while
// every kind of secret passes through it (API keys made, used and
// refused, a password set and used to log in, a host kubeconfig, a
// virtual cluster's kubeconfig), and scans it for each of them.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	h := newHub(t, storetest.SQLite.Open(t), func(c *api.Config) { c.Logger = nestlog.New(&logs, 10) })
	const password = "correct horse battery staple"
	f := newFleet(t, h, map[string]any{"cpu": "1"}, "8")
	var vc struct{ ID string }
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group}).must(t, 201).decode(t, &vc)
	var u struct{ ID string }
	h.do("POST", "/api/v1/users", h.admin, map[string]any{"name": "bob", "password": password}).must(t, 201).decode(t, &u)
	var made, login api.CreatedAPIKey
	h.do("POST", "/api/v1/users/"+u.ID+"/apikeys", h.admin, map[string]any{"name": "ci"}).must(t, 201).decode(t, &made)
	h.do("POST", "/api/v1/login", "", map[string]any{"user": "bob", "password": password, "host": "laptop"}).must(t, 201).decode(t, &login)
	h.do("POST", "/api/v1/login", "", map[string]any{"user": "bob", "password": password + "!", "host": "laptop"}).must(t, 401)
	h.do("GET", "/api/v1/whoami", made.Key, nil).must(t, 200)
	wrong := auth.NewKey()
	h.do("GET", "/api/v1/whoami", wrong, nil).must(t, 401)
	h.do("GET", "/api/v1/whoami", "Bearer-less "+made.Key, nil).must(t, 401)

	out := logs.String()
	if !strings.Contains(out, "Request served") {
		t.Fatalf("nothing logged:\n%s", out)
	}
	secrets := map[string]string{
		"admin key": h.admin, "admin key's secret part": h.admin[len(auth.KeyPrefix)+12:],
		"made key": made.Key, "login key": login.Key, "refused key": wrong,
		"password": password, "host token": "secret-host-token", "host kubeconfig": "insecure-skip-tls-verify",
	}
	for what, secret := range secrets {
		if secret == "" {
			t.Fatalf("%s: empty", what)
		}
		if strings.Contains(out, secret) {
			t.Errorf("the log holds the %s", what)
		}
	}
}
