package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParse(t *testing.T) {
	t.Parallel()
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		input   string
		wantErr string // substring; empty means success
		check   func(t *testing.T, c *Config)
	}{
		{
			name:  "valid full file",
			input: string(full),
			check: func(t *testing.T, c *Config) {
				if c.Datastore.Endpoint != "etcd://etcd-0:2379,etcd-1:2379" {
					t.Errorf("endpoint = %q", c.Datastore.Endpoint)
				}
				if got := c.ControlPlane.APIServer.ExtraArgs["audit-log-path"]; got != "/var/log/audit.log" {
					t.Errorf("extraArgs[audit-log-path] = %q", got)
				}
				if got := c.ControlPlane.Controllers.Enabled; !reflect.DeepEqual(got, []string{"*", "-cronjob", "daemonset"}) {
					t.Errorf("controllers = %q", got)
				}
				wantSelector := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
				if got := c.Sync.ToHost["pods"].Selector; !reflect.DeepEqual(got, wantSelector) {
					t.Errorf("pods selector = %v", got)
				}
				if !c.Sync.ToHostEnabled("ingresses") || !c.Sync.ToHostEnabled("secrets") {
					t.Error("ingresses and secrets should be synced to the host")
				}
				if c.Sync.FromHost["nodes"].Mode != NodeModeFake || c.Sync.FromHostEnabled("events") {
					t.Errorf("fromHost = %+v", c.Sync.FromHost)
				}
				if want := []CustomResource{{Group: "tekton.dev", Version: "v1", Kind: "Pipeline"}}; !reflect.DeepEqual(c.Sync.CustomResources, want) {
					t.Errorf("customResources = %+v", c.Sync.CustomResources)
				}
				if want := (ServiceMappings{FromHost: []ServiceMapping{{From: "shared/postgres", To: "default/db"}}, ToHost: []ServiceMapping{{From: "default/web", To: "tenant-web"}}}); !reflect.DeepEqual(c.Sync.ServiceMappings, want) {
					t.Errorf("serviceMappings = %+v", c.Sync.ServiceMappings)
				}
				if want := (Isolation{PodSecurity: PodSecurityRestricted, AllowHostPath: true, AllowHostNetwork: true, AllowPrivileged: true, AllowHostPorts: true}); c.Isolation != want {
					t.Errorf("isolation = %+v", c.Isolation)
				}
			},
		},
		{
			name:  "JSON",
			input: `{"kubernetesVersion": "v1.34.4", "isolation": {"allowPrivileged": true}}`,
			check: func(t *testing.T, c *Config) {
				if !c.Isolation.AllowPrivileged {
					t.Error("allowPrivileged not set")
				}
			},
		},
		{name: "empty file", input: "", check: wantDefault},
		{name: "only comments", input: "# nothing set\n", check: wantDefault},
		{name: "explicit null", input: "null", check: wantDefault},
		{
			name:  "defaults applied around set fields",
			input: "sync:\n  toHost:\n    ingresses: {enabled: true}\n    pods:\n      selector: {matchLabels: {a: b}}\n  fromHost:\n    nodes: {enabled: true}\n",
			check: func(t *testing.T, c *Config) {
				for _, kind := range []string{"pods", "services", "configmaps", "ingresses"} {
					if !c.Sync.ToHost[kind].IsEnabled() {
						t.Errorf("toHost %s should be enabled", kind)
					}
				}
				if c.Sync.ToHost["networkpolicies"].IsEnabled() {
					t.Error("toHost networkpolicies should be disabled by default")
				}
				if c.Sync.FromHost["nodes"].Mode != NodeModeFake {
					t.Errorf("nodes mode = %q, want %q", c.Sync.FromHost["nodes"].Mode, NodeModeFake)
				}
				if !reflect.DeepEqual(c.ControlPlane.Controllers.Enabled, []string{"*"}) {
					t.Errorf("controllers = %q", c.ControlPlane.Controllers.Enabled)
				}
				if c.KubernetesVersion != SupportedKubernetesVersion || c.APIVersion != APIVersion || c.Kind != Kind {
					t.Errorf("header = %q %q %q", c.APIVersion, c.Kind, c.KubernetesVersion)
				}
			},
		},
		{
			name:  "empty selector means no selector",
			input: "sync: {toHost: {pods: {selector: {matchLabels: {}}}}}",
			check: func(t *testing.T, c *Config) {
				if c.Sync.ToHost["pods"].Selector != nil {
					t.Errorf("selector = %v, want nil", c.Sync.ToHost["pods"].Selector)
				}
			},
		},
		{
			name:  "explicit empty controller list runs none",
			input: "controlPlane: {controllers: {enabled: []}}",
			check: func(t *testing.T, c *Config) {
				if got := c.ControlPlane.Controllers.Resolve(); len(got) != 0 {
					t.Errorf("Resolve() = %q, want none", got)
				}
			},
		},
		{name: "unknown top-level field", input: "kubernetesVersion: v1.34.4\nfoo: 1\n", wantErr: `unknown field "foo"`},
		{name: "unknown nested field", input: "sync:\n  toHost:\n    pods: {enabled: true, bar: 1}\n", wantErr: `unknown field "sync.toHost.pods.bar"`},
		{name: "unknown field in selector", input: "sync: {fromHost: {nodes: {selector: {matchLabelz: {}}}}}", wantErr: `unknown field "sync.fromHost.nodes.selector.matchLabelz"`},
		{name: "field names are case-sensitive", input: "Isolation: {allowPrivileged: true}", wantErr: `unknown field "Isolation"`},
		{name: "wrong type bool", input: `isolation: {allowHostPath: "yes"}`, wantErr: "isolation.allowHostPath: wrong type: got string, want bool"},
		{name: "wrong type flag value", input: "controlPlane: {apiServer: {extraArgs: {v: 2}}}", wantErr: "controlPlane.apiServer.extraArgs: wrong type: got number, want string"},
		{name: "wrong type list", input: "controlPlane: {controllers: {enabled: job}}", wantErr: "controlPlane.controllers.enabled: wrong type: got string, want []string"},
		{name: "wrong type version", input: "kubernetesVersion: [v1]", wantErr: "kubernetesVersion: wrong type: got array"},
		{name: "not a mapping", input: "- a\n", wantErr: "cannot unmarshal array"},
		{name: "duplicate key", input: "kind: a\nkind: b\n", wantErr: `key "kind" already set`},
		{name: "syntax error", input: "sync: {toHost: [\n", wantErr: "parse YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Parse([]byte(tt.input))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func wantDefault(t *testing.T, c *Config) {
	t.Helper()
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("got %+v, want Default()", c)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name      string
		path      string
		wantErr   string // substring; empty means success
		wantErrIs error
	}{
		{name: "valid file", path: filepath.Join("testdata", "full.yaml")},
		{name: "empty file", path: write("empty.yaml", "")},
		{name: "missing file", path: filepath.Join(dir, "missing.yaml"), wantErr: "missing.yaml", wantErrIs: fs.ErrNotExist},
		{name: "undecodable file", path: write("unknown.yaml", "foo: 1\n"), wantErr: `unknown.yaml: decode: unknown field "foo"`},
		{name: "invalid file", path: write("invalid.yaml", "kubernetesVersion: v1.30.0\n"), wantErr: `invalid.yaml: kubernetesVersion: Unsupported value: "v1.30.0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.path)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("Load() = %v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load() error = %v, want it to contain %q", err, tt.wantErr)
			}
			if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
				t.Errorf("Load() error = %v, want errors.Is %v", err, tt.wantErrIs)
			}
		})
	}
}
