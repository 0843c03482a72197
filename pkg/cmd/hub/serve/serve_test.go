package serve_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/hub/serve"
	"github.com/nestcluster/nest/pkg/log/logtest"
)

func TestFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"half TLS", []string{"--tls-key", "k"}, "--tls-cert and --tls-key go together"},
		{"bad addr", []string{"--addr", "nowhere"}, "--addr"},
		{"bad database", []string{"--database", "mysql://x"}, "want sqlite:PATH or postgres://"},
		{"extra argument", []string{"now"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			c := serve.NewCommand(cmd.IOStreams{Out: &out, ErrOut: &out}, &cmd.GlobalFlags{})
			c.SetArgs(append([]string{"--data-dir", t.TempDir()}, tc.args...))
			c.SetOut(&out)
			c.SetErr(&out)
			err := c.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// TestServe runs the verb until the admin key shows on stderr, then stops
// it as SIGTERM would (by cancelling its context).
func TestServe(t *testing.T) {
	t.Parallel()
	var stdout, stderr logtest.Buffer
	dir := t.TempDir()
	c := serve.NewCommand(cmd.IOStreams{Out: &stdout, ErrOut: &stderr}, &cmd.GlobalFlags{})
	c.SetArgs([]string{"--data-dir", dir, "--addr", "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.ExecuteContext(ctx) }()
	for !strings.Contains(stderr.String(), "Hub is serving") {
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	out := stderr.String()
	if !strings.Contains(out, "Admin API key") || !strings.Contains(out, "Hub stopped") || stdout.String() != "" {
		t.Fatalf("stderr %q, stdout %q", out, stdout.String())
	}
	for _, f := range []string{"hub.db", "tls/hub.crt", "tls/hub.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data dir: %v", err)
		}
	}
}
