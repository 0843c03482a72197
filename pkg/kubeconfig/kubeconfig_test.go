package kubeconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// existingConfig is a typical user kubeconfig with entries Nest must not touch,
// including parts that are easy to lose: exec auth, relative file paths,
// extensions and preferences.
const existingConfig = `apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: prod
  cluster:
    server: https://prod.example.test:6443
    certificate-authority: certs/prod-ca.crt
    extensions:
    - name: vendor
      extension:
        region: eu-1
- name: nest-dev
  cluster:
    server: https://old.example.test:6443
users:
- name: prod-admin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: cloud-login
      args: ["token"]
      interactiveMode: IfAvailable
- name: nest-dev
  user:
    token: old-token
contexts:
- name: prod
  context:
    cluster: prod
    user: prod-admin
    namespace: payments
- name: nest-dev
  context:
    cluster: nest-dev
    user: nest-dev
current-context: prod
`

func nestConfig(server string) *clientcmdapi.Config {
	return Build(Params{
		ContextName:    "nest-dev",
		Server:         server,
		CAData:         []byte("ca-pem"),
		ClientCertData: []byte("cert-pem"),
		ClientKeyData:  []byte("key-pem"),
		Namespace:      "team-a",
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func loadFile(t *testing.T, path string) *clientcmdapi.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return cfg
}

func backups(t *testing.T, target string) []string {
	t.Helper()
	list, err := listBackups(target)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range list {
		names = append(names, filepath.Base(b.path))
	}
	return names
}

func TestBuild(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                  string
		params                Params
		wantCluster, wantUser string
	}{
		{
			name:        "names default to the context name",
			params:      Params{ContextName: "nest-a", Server: "https://127.0.0.1:6443"},
			wantCluster: "nest-a", wantUser: "nest-a",
		},
		{
			name:        "explicit names",
			params:      Params{ContextName: "ctx", ClusterName: "cl", UserName: "admin", Server: "https://x:6443", Namespace: "ns"},
			wantCluster: "cl", wantUser: "admin",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tt.params
			p.CAData, p.ClientCertData, p.ClientKeyData = []byte("ca"), []byte("cert"), []byte("key")
			cfg := Build(p)
			if cfg.CurrentContext != p.ContextName {
				t.Errorf("current-context = %q, want %q", cfg.CurrentContext, p.ContextName)
			}
			ctx := cfg.Contexts[p.ContextName]
			if ctx == nil || ctx.Cluster != tt.wantCluster || ctx.AuthInfo != tt.wantUser || ctx.Namespace != p.Namespace {
				t.Fatalf("context = %+v, want cluster %q user %q namespace %q", ctx, tt.wantCluster, tt.wantUser, p.Namespace)
			}
			cluster := cfg.Clusters[tt.wantCluster]
			if cluster == nil || cluster.Server != p.Server || string(cluster.CertificateAuthorityData) != "ca" {
				t.Errorf("cluster = %+v", cluster)
			}
			user := cfg.AuthInfos[tt.wantUser]
			if user == nil || string(user.ClientCertificateData) != "cert" || string(user.ClientKeyData) != "key" {
				t.Errorf("user = %+v", user)
			}
			// The built config must survive a write/read round trip.
			path := filepath.Join(t.TempDir(), "config")
			if err := Write(path, cfg); err != nil {
				t.Fatal(err)
			}
			if got := loadFile(t, path); !reflect.DeepEqual(got.Contexts, cfg.Contexts) || got.CurrentContext != cfg.CurrentContext {
				t.Errorf("round trip changed config: %+v", got)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing bool
	}{
		{name: "creates parent dirs"},
		{name: "replaces a world-readable file", existing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "a", "b", "config")
			if tt.existing {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(path, nestConfig("https://x:6443")); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got != 0o600 {
				t.Errorf("mode = %o, want 600", got)
			}
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("dir holds %d entries, want only config (temp file left behind?)", len(entries))
			}
			if loadFile(t, path).Contexts["nest-dev"] == nil {
				t.Error("written file lacks the context")
			}
		})
	}
}

func TestMerge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		initial     *string // nil: target missing
		setCurrent  bool
		wantBackup  bool
		wantCurrent string
		wantContext []string
	}{
		{
			name: "missing target is created", setCurrent: true,
			wantCurrent: "nest-dev", wantContext: []string{"nest-dev"},
		},
		{
			name:        "missing target without setCurrent",
			wantContext: []string{"nest-dev"},
		},
		{
			name: "empty target", initial: ptr(""), setCurrent: true, wantBackup: true,
			wantCurrent: "nest-dev", wantContext: []string{"nest-dev"},
		},
		{
			name: "existing target keeps current-context", initial: ptr(existingConfig), wantBackup: true,
			wantCurrent: "prod", wantContext: []string{"nest-dev", "prod"},
		},
		{
			name: "existing target switches current-context", initial: ptr(existingConfig), setCurrent: true, wantBackup: true,
			wantCurrent: "nest-dev", wantContext: []string{"nest-dev", "prod"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := filepath.Join(t.TempDir(), ".kube", "config")
			if tt.initial != nil {
				if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, target, *tt.initial)
			}
			cfg := nestConfig("https://new.example.test:6443")

			backup, err := Merge(target, cfg, tt.setCurrent)
			if err != nil {
				t.Fatalf("Merge: %v", err)
			}
			if (backup != "") != tt.wantBackup {
				t.Errorf("backup = %q, want backup: %v", backup, tt.wantBackup)
			}
			if backup != "" {
				data, err := os.ReadFile(backup)
				if err != nil {
					t.Fatal(err)
				}
				if string(data) != *tt.initial {
					t.Errorf("backup content differs from the original file")
				}
				if !strings.HasPrefix(filepath.Base(backup), "config.nest-backup-") {
					t.Errorf("backup name = %s", backup)
				}
			}

			got := loadFile(t, target)
			if got.CurrentContext != tt.wantCurrent {
				t.Errorf("current-context = %q, want %q", got.CurrentContext, tt.wantCurrent)
			}
			var contexts []string
			for name := range got.Contexts {
				contexts = append(contexts, name)
			}
			if !sameStrings(contexts, tt.wantContext) {
				t.Errorf("contexts = %v, want %v", contexts, tt.wantContext)
			}
			// The same-name entries are replaced wholesale by the new ones.
			if !equality.Semantic.DeepEqual(got.Clusters["nest-dev"], cfg.Clusters["nest-dev"]) ||
				!equality.Semantic.DeepEqual(got.AuthInfos["nest-dev"], cfg.AuthInfos["nest-dev"]) ||
				!equality.Semantic.DeepEqual(got.Contexts["nest-dev"], cfg.Contexts["nest-dev"]) {
				t.Errorf("nest-dev entries not replaced: cluster %+v user %+v", got.Clusters["nest-dev"], got.AuthInfos["nest-dev"])
			}

			// Merging the same thing again changes nothing and makes no backup.
			before, _ := os.ReadFile(target)
			again, err := Merge(target, cfg, tt.setCurrent)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := os.ReadFile(target)
			if again != "" || string(before) != string(after) {
				t.Errorf("repeated Merge rewrote the file (backup %q)", again)
			}
		})
	}
}

func TestMergeKeepsOtherEntries(t *testing.T) {
	t.Parallel()
	target := filepath.Join(t.TempDir(), "config")
	writeFile(t, target, existingConfig)
	want := loadFile(t, target)

	if _, err := Merge(target, nestConfig("https://new:6443"), true); err != nil {
		t.Fatal(err)
	}
	got := loadFile(t, target)
	if !reflect.DeepEqual(got.Clusters["prod"], want.Clusters["prod"]) {
		t.Errorf("cluster prod changed:\n got %+v\nwant %+v", got.Clusters["prod"], want.Clusters["prod"])
	}
	if !reflect.DeepEqual(got.AuthInfos["prod-admin"], want.AuthInfos["prod-admin"]) {
		t.Errorf("user prod-admin changed:\n got %+v\nwant %+v", got.AuthInfos["prod-admin"], want.AuthInfos["prod-admin"])
	}
	if !reflect.DeepEqual(got.Contexts["prod"], want.Contexts["prod"]) {
		t.Errorf("context prod changed: %+v", got.Contexts["prod"])
	}
	if !reflect.DeepEqual(got.Preferences, want.Preferences) {
		t.Errorf("preferences changed: %+v", got.Preferences)
	}
	if got.Clusters["prod"].CertificateAuthority != "certs/prod-ca.crt" {
		t.Errorf("relative CA path rewritten to %q", got.Clusters["prod"].CertificateAuthority)
	}
}

func TestMergeThroughSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	real, link := filepath.Join(dir, "real-config"), filepath.Join(dir, "config")
	writeFile(t, real, existingConfig)
	if err := os.Symlink(real, link); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
	if _, err := Merge(link, nestConfig("https://new:6443"), false); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced by a regular file (err %v)", err)
	}
	if loadFile(t, real).Contexts["nest-dev"] == nil {
		t.Error("merge did not reach the symlink target")
	}
}

func TestInvalidTargetUntouched(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
	}{
		{name: "broken YAML", content: "clusters: [oops\n"},
		{name: "YAML list", content: "- a\n- b\n"},
		{name: "not a kubeconfig", content: "foo: bar\n"},
		{name: "other kind", content: "apiVersion: v1\nkind: Pod\n"},
		{name: "unknown field would be lost", content: "clusters:\n- name: a\n  cluster:\n    server: x\n    bogus: 1\n"},
		{name: "wrong section type", content: "apiVersion: v1\nkind: Config\nclusters: nope\n"},
	}
	ops := []struct {
		name string
		run  func(target string) error
	}{
		{name: "merge", run: func(target string) error {
			_, err := Merge(target, nestConfig("https://x:6443"), true)
			return err
		}},
		{name: "remove", run: func(target string) error { return Remove(target, "a", "a", "a") }},
	}
	for _, tt := range tests {
		for _, op := range ops {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				target := filepath.Join(dir, "config")
				writeFile(t, target, tt.content)

				err := op.run(target)
				if err == nil || !strings.Contains(err.Error(), target) {
					t.Fatalf("error = %v, want one naming %s", err, target)
				}
				data, _ := os.ReadFile(target)
				if string(data) != tt.content {
					t.Errorf("target rewritten to %q", data)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 1 {
					t.Errorf("dir holds %d entries, want only the target", len(entries))
				}
			})
		}
	}
}

func TestBackupsPruned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "config")
	writeFile(t, target, existingConfig)
	// Files that only look like backups must survive pruning.
	foreign := []string{"config.nest-backup-latest", "config.bak", "other.nest-backup-20200101T000000Z"}
	for _, name := range foreign {
		writeFile(t, filepath.Join(dir, name), "keep me")
	}

	start := mustTime(t, "20261125T190000Z")
	var made []string
	for i := range 8 {
		// Two merges per second exercise the same-second "-N" suffix.
		now := start.Add(time.Duration(i/2) * time.Second)
		backup, err := merge(target, nestConfig("https://server-"+string(rune('a'+i))+":6443"), false, now)
		if err != nil {
			t.Fatalf("merge %d: %v", i, err)
		}
		if backup == "" {
			t.Fatalf("merge %d made no backup", i)
		}
		made = append(made, filepath.Base(backup))
	}

	want := made[len(made)-keepBackups:]
	if got := backups(t, target); !reflect.DeepEqual(got, want) {
		t.Errorf("backups kept = %v, want newest %v", got, want)
	}
	if made[1] != "config.nest-backup-20261125T190000Z-1" {
		t.Errorf("same-second backup named %s", made[1])
	}
	for _, name := range foreign {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("foreign file %s was pruned: %v", name, err)
		}
	}
	for _, name := range want {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != 0o600 {
			t.Errorf("backup %s mode = %o, want 600", name, got)
		}
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		initial                *string
		context, cluster, user string
		wantBackup             bool
		wantCurrent            string
		wantContexts           []string
		wantClusters           []string
		wantUsers              []string
	}{
		{
			name: "missing file is fine", context: "nest-dev", cluster: "nest-dev", user: "nest-dev",
		},
		{
			name: "removes entries, keeps unrelated current-context", initial: ptr(existingConfig),
			context: "nest-dev", cluster: "nest-dev", user: "nest-dev", wantBackup: true,
			wantCurrent: "prod", wantContexts: []string{"prod"}, wantClusters: []string{"prod"}, wantUsers: []string{"prod-admin"},
		},
		{
			name:    "clears current-context pointing at the removed context",
			initial: ptr(strings.Replace(existingConfig, "current-context: prod", "current-context: nest-dev", 1)),
			context: "nest-dev", cluster: "nest-dev", user: "nest-dev", wantBackup: true,
			wantContexts: []string{"prod"}, wantClusters: []string{"prod"}, wantUsers: []string{"prod-admin"},
		},
		{
			name: "absent entries change nothing", initial: ptr(existingConfig),
			context: "ghost", cluster: "ghost", user: "ghost",
			wantCurrent: "prod", wantContexts: []string{"nest-dev", "prod"}, wantClusters: []string{"nest-dev", "prod"}, wantUsers: []string{"nest-dev", "prod-admin"},
		},
		{
			name: "empty names are skipped", initial: ptr(existingConfig),
			context: "nest-dev", wantBackup: true,
			wantCurrent: "prod", wantContexts: []string{"prod"}, wantClusters: []string{"nest-dev", "prod"}, wantUsers: []string{"nest-dev", "prod-admin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target := filepath.Join(dir, "config")
			if tt.initial != nil {
				writeFile(t, target, *tt.initial)
			}
			for round := range 2 { // the second round proves idempotence
				if err := Remove(target, tt.context, tt.cluster, tt.user); err != nil {
					t.Fatalf("Remove round %d: %v", round, err)
				}
			}
			wantBackups := 0
			if tt.wantBackup {
				wantBackups = 1
			}
			if got := backups(t, target); len(got) != wantBackups {
				t.Errorf("backups = %v, want %d", got, wantBackups)
			}
			if tt.initial == nil {
				if _, err := os.Stat(target); !os.IsNotExist(err) {
					t.Errorf("Remove created %s", target)
				}
				return
			}
			got := loadFile(t, target)
			if got.CurrentContext != tt.wantCurrent {
				t.Errorf("current-context = %q, want %q", got.CurrentContext, tt.wantCurrent)
			}
			if !sameStrings(keys(got.Contexts), tt.wantContexts) || !sameStrings(keys(got.Clusters), tt.wantClusters) ||
				!sameStrings(keys(got.AuthInfos), tt.wantUsers) {
				t.Errorf("contexts %v clusters %v users %v, want %v %v %v", keys(got.Contexts), keys(got.Clusters),
					keys(got.AuthInfos), tt.wantContexts, tt.wantClusters, tt.wantUsers)
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	// Not parallel: it changes the environment.
	home := t.TempDir()
	tests := []struct {
		name       string
		kubeconfig string
		want       string
	}{
		{name: "unset uses home", want: filepath.Join(home, ".kube", "config")},
		{name: "single entry", kubeconfig: "/tmp/a", want: "/tmp/a"},
		{name: "first of a list", kubeconfig: "/tmp/a" + string(os.PathListSeparator) + "/tmp/b", want: "/tmp/a"},
		{name: "empty leading entry skipped", kubeconfig: string(os.PathListSeparator) + "/tmp/b", want: "/tmp/b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HOME", home)
			t.Setenv("KUBECONFIG", tt.kubeconfig)
			if got := DefaultPath(); got != tt.want {
				t.Errorf("DefaultPath() = %q, want %q", got, tt.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(backupLayout, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
