package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// nestIn runs the nest binary as a user would, with its own Nest home and
// kubeconfig (a login must not leak into the other tests' home).
func nestIn(t *testing.T, bin, home, kubeconfig string, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "NEST_HOME="+home, "KUBECONFIG="+kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	t.Logf("nest %s (%s): %s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), strings.TrimSpace(out.String()))
	if err != nil {
		return out.String(), &cliError{err: err, stderr: errOut.String()}
	}
	return out.String(), nil
}

type cliError struct {
	err    error
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + ": " + strings.TrimSpace(e.stderr) }

// TestCLIHub logs the CLI in to a hub that drives the local host, and runs
// the lifecycle verbs against it: create, list, connect and kubectl,
// pause, resume, delete, logout.
func TestCLIHub(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	key := auth.NewKey()
	h := startHub(t, t.TempDir(), key)
	group, vcs := hubSetup(t, h, env, map[string]any{"cpu": "2", "memory": "4Gi", "storage": "10Gi", "pods": "20"})
	// vcs is /tenants/T/projects/P/virtualclusters.
	parts := strings.Split(vcs, "/")
	tenantID, projectID := parts[2], parts[4]
	// alice administers the project only, and logs in with her password.
	const password = "correct horse battery staple"
	var alice struct{ ID string }
	h.must(201, "POST", "/users", map[string]any{"name": "alice", "password": password}, &alice)
	h.must(201, "POST", "/tenants/"+tenantID+"/projects/"+projectID+"/rolebindings",
		map[string]any{"name": "alice", "role": "project-admin", "subjectKind": "user", "subjectId": alice.ID}, nil)

	dir := t.TempDir()
	home, kubeconfig := filepath.Join(dir, "nest"), filepath.Join(dir, "user.kubeconfig")
	keyFile, caFile := filepath.Join(dir, "hub.key"), filepath.Join(h.dataDir, "tls", "hub.crt")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl := filepath.Join(testenv.RepoRoot(), "bin", "kubectl")
	run := func(stdin string, args ...string) (string, error) {
		out, err := nestIn(t, env.NestBinary, home, kubeconfig, stdin, args...)
		for _, secret := range []string{key, password} {
			if strings.Contains(out, secret) || (err != nil && strings.Contains(err.Error(), secret)) {
				t.Fatalf("nest %v printed a secret", args)
			}
		}
		return out, err
	}

	steps := []struct {
		name    string
		stdin   string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "status before login", args: []string{"login", "--status"}, want: []string{"Not logged in"}},
		{name: "login needs a key", args: []string{"login", h.url}, wantErr: "--api-key-file"},
		{name: "login with a wrong key", stdin: "nest_wrong\n", args: []string{"login", h.url, "--api-key-stdin", "--ca-file", caFile}, wantErr: "unauthenticated"},
		{name: "login without the CA", args: []string{"login", h.url, "--api-key-file", keyFile}, wantErr: "certificate"},
		{name: "login unknown project", args: []string{"login", h.url, "--api-key-file", keyFile, "--ca-file", caFile, "--tenant", "acme", "--project", "nope"}, wantErr: `project "nope"`},
		{name: "login with a key", args: []string{"login", h.url, "--api-key-file", keyFile, "--ca-file", caFile, "--tenant", "acme", "--project", "web"},
			want: []string{"Logged in to " + h.url + " as admin", "project web of tenant acme"}},
		{name: "status", args: []string{"login", "--status"}, want: []string{h.url, "web (tenant acme)", "pinned CA", "Key:      valid"}},
		{name: "list as admin", args: []string{"list", "-o", "json"}, want: []string{"[]"}},
		{name: "logout the admin", args: []string{"logout"}, want: []string{"Logged out of " + h.url}},
		{name: "login with a wrong password", stdin: "not her password\n", args: []string{"login", h.url, "--ca-file", caFile, "--user", "alice", "--password-stdin"},
			wantErr: "wrong user name or password"},
		{name: "login", stdin: password + "\n", args: []string{"login", h.url, "--ca-file", caFile, "--user", "alice", "--password-stdin",
			"--tenant", tenantID, "--project", projectID}, want: []string{"Logged in to " + h.url + " as alice", "project web"}},
		{name: "status of a password login", args: []string{"login", "--status"}, want: []string{"alice", "Expires:", "Key:      valid"}},
		{name: "create needs a group", args: []string{"create", "dev"}, wantErr: "--group is required"},
		{name: "create refuses host flags", args: []string{"create", "dev", "--group", group, "--namespace", "mine"}, wantErr: "for the local runtime"},
		{name: "create --local refuses hub flags", args: []string{"create", "dev", "--local", "--group", group}, wantErr: "for a hub"},
		{name: "create", args: []string{"create", "dev", "--group", group, "--quota-pods", "10", "--wait", "--timeout", "3m"},
			want: []string{`Virtual cluster "dev" is ready`, "nest connect dev"}},
		{name: "list", args: []string{"list"}, want: []string{"NAME", "dev", "Ready", "hub"}},
		{name: "list local", args: []string{"list", "--local", "-o", "json"}, want: []string{"[]"}},
		{name: "connect", args: []string{"connect", "dev"}, want: []string{"Context nest_dev is now current"}},
		{name: "pause", args: []string{"pause", "dev"}, want: []string{`Virtual cluster "dev" is paused`}},
		{name: "list paused", args: []string{"list", "-o", "yaml"}, want: []string{"name: dev", "state: Paused", "runtime: hub"}},
		{name: "resume", args: []string{"resume", "dev", "--timeout", "3m"}, want: []string{`Virtual cluster "dev" is Ready`}},
		{name: "delete", args: []string{"delete", "dev"}, want: []string{`Virtual cluster "dev" deleted.`}},
		{name: "delete again", args: []string{"delete", "dev"}, want: []string{`Virtual cluster "dev" does not exist.`}},
		{name: "logout", args: []string{"logout"}, want: []string{"Logged out of " + h.url}},
		{name: "status after logout", args: []string{"login", "--status"}, want: []string{"Not logged in"}},
		{name: "logout again", args: []string{"logout"}, want: []string{"Not logged in"}},
	}
	for _, s := range steps {
		out, err := run(s.stdin, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%s: nest %v: err = %v, want %q", s.name, s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: nest %v: %v", s.name, s.args, err)
		}
		for _, w := range s.want {
			if !strings.Contains(out, w) {
				t.Fatalf("%s: nest %v output lacks %q:\n%s", s.name, s.args, w, out)
			}
		}
		switch s.name {
		case "login":
			fi, err := os.Stat(filepath.Join(home, "hub.json"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("hub.json: %v, %v", fi, err)
			}
		case "list":
			js, err := run("", "list", "-o", "json")
			if err != nil {
				t.Fatal(err)
			}
			var clusters []lifecycle.Cluster
			if err := json.Unmarshal([]byte(js), &clusters); err != nil || len(clusters) != 1 || clusters[0].State != "Ready" || clusters[0].HostNamespace == "" {
				t.Fatalf("list -o json: %v\n%s", err, js)
			}
		case "connect", "resume":
			// The written context works (after resume: again).
			var ns []byte
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
				cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name")
				if ns, err = cmd.CombinedOutput(); err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil || !strings.Contains(string(ns), "namespace/default") {
				t.Fatalf("kubectl get namespaces with context nest_dev: %v\n%s", err, ns)
			}
		case "delete":
			cfg, err := clientcmd.LoadFromFile(kubeconfig)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := cfg.Contexts["nest_dev"]; ok {
				t.Fatal("the context nest_dev is still in the kubeconfig after delete")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(home, "hub.json")); !os.IsNotExist(err) {
		t.Fatalf("hub.json after logout: %v", err)
	}
}
