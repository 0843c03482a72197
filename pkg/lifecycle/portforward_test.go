package lifecycle

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/config"
)

func TestPortForwardOptionsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    PortForwardOptions
		wantErr string // "" for none
	}{
		{"defaults", PortForwardOptions{}, ""},
		{"fixed ports on every address", PortForwardOptions{Address: "0.0.0.0", Port: 6443, AdminPort: 6444}, ""},
		{"no admin port", PortForwardOptions{AdminPort: -1}, ""},
		{"localhost", PortForwardOptions{Address: "localhost"}, ""},
		{"a host name", PortForwardOptions{Address: "example.com"}, "--address"},
		{"port too big", PortForwardOptions{Port: 70000}, "--port"},
		{"negative port", PortForwardOptions{Port: -1}, "--port"},
		{"admin port below -1", PortForwardOptions{AdminPort: -2}, "--admin-port"},
		{"same ports", PortForwardOptions{Port: 7000, AdminPort: 7000}, "both 7000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.opts.validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestReachable: a listening address is reachable, a closed port and a
// name that does not resolve are not (quickly: no wall-clock assertion).
func TestReachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := "https://" + ln.Addr().String()
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln2.Addr().String()
	ln2.Close()
	defer ln.Close()
	tests := []struct {
		url  string
		want bool
	}{
		{open, true},
		{closed, false},
		{"https://dev-nest.nest-dev.svc.invalid:6444", false},
		{"not a url\x7f", false},
	}
	for _, tt := range tests {
		if got := reachable(context.Background(), tt.url); got != tt.want {
			t.Errorf("reachable(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}

// TestPortForwardRefusesProcessRuntime: a process-runtime cluster's
// apiserver listens on this machine; port-forward says so.
func TestPortForwardRefusesProcessRuntime(t *testing.T) {
	t.Parallel()
	p := stoppedCluster(t, "proc", config.Default())
	_, err := p.PortForward(context.Background(), "proc", PortForwardOptions{})
	if err == nil || !strings.Contains(err.Error(), "nest connect proc") {
		t.Errorf("port-forward of a process-runtime cluster: %v, want a refusal naming nest connect", err)
	}
}
