package kwok

import (
	"bytes"
	"testing"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		simulateExec bool
		want, absent []string
	}{
		{name: "default: stages and the port-forward echo, no local exec", want: []string{"kind: Stage", "kind: ClusterPortForward", "name: nest-virtual-job-pod-complete"}, absent: []string{"kind: ClusterExec"}},
		{name: "simulated exec", simulateExec: true, want: []string{"kind: Stage", "kind: ClusterPortForward", "kind: ClusterExec"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Config(tt.simulateExec)
			for _, w := range tt.want {
				if !bytes.Contains(got, []byte(w)) {
					t.Errorf("config lacks %q", w)
				}
			}
			for _, a := range tt.absent {
				if bytes.Contains(got, []byte(a)) {
					t.Errorf("config has %q", a)
				}
			}
		})
	}
}

// TestPortForwardCRD: the embedded CRD is KWOK's PortForward, and the
// configuration holds no static PortForward (kwok refuses both at once).
func TestPortForwardCRD(t *testing.T) {
	t.Parallel()
	for _, w := range []string{"name: portforwards.kwok.x-k8s.io", "kind: PortForward", "scope: Namespaced", "name: v1alpha1"} {
		if !bytes.Contains(PortForwardCRD, []byte(w)) {
			t.Errorf("CRD lacks %q", w)
		}
	}
	for _, exec := range []bool{false, true} {
		if bytes.Contains(Config(exec), []byte("kind: PortForward\n")) {
			t.Errorf("Config(%v) has a static PortForward", exec)
		}
	}
	args := Args("kc", "cfg", 1, "10.0.0.0/8", EnablePortForwardCRD)
	if args[len(args)-1] != "--enable-crds=PortForward" {
		t.Errorf("args %v", args)
	}
}
