package components

import (
	"slices"
	"testing"

	"github.com/nestcluster/nest/pkg/pki"
)

func TestAPIServerFlags(t *testing.T) {
	t.Parallel()
	base := APIServerParams{EtcdServers: "unix:///k.sock", BindAddress: "127.0.0.1", Port: 6443, PKI: &pki.Bundle{Dir: "/p"}, ServiceCIDR: "10.96.0.0/12", AuthorizationModes: "RBAC"}
	tests := []struct {
		name    string
		extra   map[string]string
		want    []string
		notWant []string
	}{
		{name: "defaults", want: []string{"--etcd-servers=unix:///k.sock", "--secure-port=6443", "--authorization-mode=RBAC", "--client-ca-file=/p/ca.crt"}},
		{name: "extra args win", extra: map[string]string{"authorization-mode": "AlwaysAllow", "v": "2"},
			want: []string{"--authorization-mode=AlwaysAllow", "--v=2"}, notWant: []string{"--authorization-mode=RBAC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := base
			p.Extra = tt.extra
			got := APIServerFlags(p)
			if !slices.IsSorted(got) {
				t.Errorf("flags are not sorted: %v", got)
			}
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %s in %v", w, got)
				}
			}
			for _, w := range tt.notWant {
				if slices.Contains(got, w) {
					t.Errorf("unexpected %s", w)
				}
			}
		})
	}
}
