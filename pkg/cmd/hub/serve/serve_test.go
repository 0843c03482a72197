package serve_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/hub/serve"
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
