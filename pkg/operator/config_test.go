package operator

import (
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

func TestClusterConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		spec    v1alpha1.VirtualClusterSpec
		wantErr string
		check   func(*testing.T, *config.Config)
	}{
		{name: "empty spec is the default config", check: func(t *testing.T, c *config.Config) {
			if c.KubernetesVersion != config.SupportedKubernetesVersion || c.Isolation.PodSecurity != config.PodSecurityBaseline || c.Datastore.Endpoint != "" {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "spec fields go into the config", spec: v1alpha1.VirtualClusterSpec{
			KubernetesVersion: "v1.34.4",
			Isolation:         &v1alpha1.Isolation{PodSecurity: "restricted", AllowHostPath: true},
			Datastore:         &v1alpha1.Datastore{Endpoint: "etcd://127.0.0.1:2379"},
			Config:            map[string]any{"sync": map[string]any{"toHost": map[string]any{"ingresses": map[string]any{"enabled": true}}}},
		}, check: func(t *testing.T, c *config.Config) {
			if c.Isolation.PodSecurity != config.PodSecurityRestricted || !c.Isolation.AllowHostPath || c.Datastore.Endpoint != "etcd://127.0.0.1:2379" || !c.Sync.ToHostEnabled("ingresses") {
				t.Errorf("got %+v", c)
			}
		}},
		{name: "isolation without a level is baseline", spec: v1alpha1.VirtualClusterSpec{Isolation: &v1alpha1.Isolation{AllowPrivileged: true}},
			check: func(t *testing.T, c *config.Config) {
				if c.Isolation.PodSecurity != config.PodSecurityBaseline || !c.Isolation.AllowPrivileged {
					t.Errorf("got %+v", c.Isolation)
				}
			}},
		{name: "unknown config field", spec: v1alpha1.VirtualClusterSpec{Config: map[string]any{"colour": "blue"}}, wantErr: `spec.config: decode: unknown field "colour"`},
		{name: "unknown sync kind", spec: v1alpha1.VirtualClusterSpec{Config: map[string]any{"sync": map[string]any{"toHost": map[string]any{"widgets": map[string]any{"enabled": true}}}}}, wantErr: `sync.toHost.widgets: Unsupported value`},
		{name: "unsupported version", spec: v1alpha1.VirtualClusterSpec{KubernetesVersion: "v1.99.0"}, wantErr: `kubernetesVersion: Unsupported value: "v1.99.0"`},
		{name: "bad datastore", spec: v1alpha1.VirtualClusterSpec{Datastore: &v1alpha1.Datastore{Endpoint: "etcd://"}}, wantErr: `datastore.endpoint: Invalid value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := clusterConfig(tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestClusterName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, namespace, vc, want string
	}{
		{"short", "team-a", "dev", "dev-x-team-a"},
		{"ambiguous parts are hashed", "a-x-b", "c", ""},
		{"long is hashed", strings.Repeat("n", 63), strings.Repeat("v", 63), ""},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClusterName(tt.namespace, tt.vc)
			if tt.want != "" && got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if len(got) > clusterNameLimit {
				t.Errorf("%q is longer than %d", got, clusterNameLimit)
			}
			if seen[got] {
				t.Errorf("%q given twice", got)
			}
			seen[got] = true
		})
	}
}
