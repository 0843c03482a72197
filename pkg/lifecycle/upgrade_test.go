package lifecycle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/pkg/config"
)

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, out string
		want      NestBuild
		wantErr   bool
	}{
		{name: "nest version output", out: "nest v0.2.0\nkubernetes v1.34.4\n", want: NestBuild{Nest: "v0.2.0", Kubernetes: "v1.34.4"}},
		{name: "extra lines", out: "warning: x\nnest dev\nkubernetes v1.35.0\n", want: NestBuild{Nest: "dev", Kubernetes: "v1.35.0"}},
		{name: "not nest", out: "Usage: ls [OPTION]...\n", wantErr: true},
		{name: "no kubernetes line", out: "nest v1\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseVersion("/bin/x", tc.out)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("parseVersion(%q) = %+v, %v; want %+v (error %v)", tc.out, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestSetConfigVersionKeepsTheRest(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	path := filepath.Join(home, "nest.yaml")
	cfg := config.Default()
	cfg.ControlPlane.Certificates.Validity = "48h"
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := setKubernetesVersion(path, "v1.99.0"); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(path)
	for _, want := range []string{"kubernetesVersion: v1.99.0", "validity: 48h"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("nest.yaml lacks %q:\n%s", want, out)
		}
	}
}

func TestChartValues(t *testing.T) {
	t.Parallel()
	user := map[string]any{
		"image":        map[string]any{"tag": "v1"},
		"controlPlane": map[string]any{"port": 7443, "config": map[string]any{"ignored": true}},
	}
	got, err := chartValues("dev", config.Default(), user)
	if err != nil {
		t.Fatal(err)
	}
	cp := got["controlPlane"].(map[string]any)
	if got["clusterName"] != "dev" || cp["port"] != 7443 || got["image"] == nil {
		t.Fatalf("values %v", got)
	}
	if cfg := cp["config"].(map[string]any); cfg["kubernetesVersion"] != config.SupportedKubernetesVersion {
		t.Errorf("controlPlane.config = %v, want the cluster's nest.yaml", cfg)
	}
	if user["controlPlane"].(map[string]any)["config"].(map[string]any)["ignored"] != true {
		t.Error("the caller's values were modified")
	}
	for release, want := range map[string]string{"dev": "dev-nest", "nest-a": "nest-a"} {
		if got := chartFullname(release); got != want {
			t.Errorf("chartFullname(%s) = %s, want %s", release, got, want)
		}
	}
}

// TestChartServiceAccount: the account the chart's control plane runs as,
// which the grants outside the namespace name.
func TestChartServiceAccount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, release string
		values        map[string]any
		want          string
	}{
		{name: "default", release: "dev", want: "dev-nest"},
		{name: "release naming nest", release: "nest-a", want: "nest-a"},
		{name: "named by the values", release: "dev", values: map[string]any{"serviceAccount": map[string]any{"name": "mine"}}, want: "mine"},
		{name: "empty name", release: "dev", values: map[string]any{"serviceAccount": map[string]any{"name": ""}}, want: "dev-nest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chartServiceAccount(tt.release, tt.values); got != tt.want {
				t.Errorf("chartServiceAccount = %q, want %q", got, tt.want)
			}
		})
	}
}
