package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/app"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/localhost"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// nest runs the CLI in-process, as a user would from a shell, against the
// test binary's Nest home.
func nest(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := app.Run(context.Background(), cmd.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	return out.String(), err
}

func TestCLI(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	env.VirtualCluster(t, "cli", lifecycle.CreateOptions{})
	tests := []struct {
		name    string
		args    []string
		want    []string // substrings of stdout
		wantErr string
	}{
		{name: "list table", args: []string{"list"}, want: []string{"NAME", "STATUS", "cli", "Running", "nest-cli"}},
		{name: "list yaml", args: []string{"list", "-o", "yaml"}, want: []string{"name: cli", "state: Running"}},
		{name: "list bad output", args: []string{"list", "-o", "xml"}, wantErr: "--output must be table, json or yaml"},
		{name: "connect print", args: []string{"connect", "cli", "--print"}, want: []string{"current-context: nest_cli", "client-certificate-data"}},
		{name: "connect unknown", args: []string{"connect", "nope", "--print"}, wantErr: `virtual cluster "nope": not found`},
		{name: "delete unknown is fine", args: []string{"delete", "nope"}, want: []string{`Virtual cluster "nope" does not exist.`}},
		{name: "resume running is a no-op", args: []string{"resume", "cli"}, want: []string{`Virtual cluster "cli" is Running`}},
		{name: "host kubeconfig", args: []string{"host", "kubeconfig"}, want: []string{env.Kubeconfig}},
		{name: "host status", args: []string{"host", "status"}, want: []string{"kube-apiserver", "healthy", "3/3 Ready"}},
		{name: "version", args: []string{"version"}, want: []string{"kubernetes v1.34.4"}},
		{name: "create needs a name", args: []string{"create"}, wantErr: "accepts 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := nest(t, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("nest %v: err = %v, want %q", tt.args, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("nest %v: %v", tt.args, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("nest %v output lacks %q:\n%s", tt.args, w, out)
				}
			}
		})
	}
	t.Run("list json", func(t *testing.T) {
		out, err := nest(t, "list", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var clusters []lifecycle.Cluster
		if err := json.Unmarshal([]byte(out), &clusters); err != nil {
			t.Fatalf("list -o json is not JSON: %v\n%s", err, out)
		}
		found := false
		for _, c := range clusters {
			found = found || (c.Name == "cli" && c.State == lifecycle.StateRunning)
		}
		if !found {
			t.Fatalf("cli not Running in %s", out)
		}
	})
}

// TestHostUpDryRun prints what would start and starts nothing.
func TestHostUpDryRun(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	home, err := nesthome.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	h, err := localhost.New(home, localhost.WithNestBinary(env.NestBinary), localhost.WithRunner(exec.DryRun{Out: &out}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Up(context.Background(), localhost.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"component etcd", "component kube-apiserver", "component kube-controller-manager", "component kube-scheduler", "kwok --kubeconfig", "component nest-metrics"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	pids, _ := filepath.Glob(filepath.Join(h.Dir(), "run", "*.pid"))
	if len(pids) > 0 {
		t.Fatalf("dry run wrote pid files %v", pids)
	}
	if procs := processesMentioning(t, h.Dir()); len(procs) > 0 {
		t.Fatalf("dry run started processes: %v", procs)
	}
}
