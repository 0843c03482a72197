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
