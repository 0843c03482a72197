package syncer

import (
	"net/url"
	"testing"
)

func TestStreamLocation(t *testing.T) {
	t.Parallel()
	p := &streamProxy{
		s:      &Syncer{vc: "dev", hostNamespace: "nest-dev"},
		server: &url.URL{Scheme: "https", Host: "127.0.0.1:6443", Path: "/"},
	}
	tests := []struct {
		name      string
		sub       string
		container string
		kubelet   url.Values
		want      string
	}{
		{
			name: "exec with stdin, no tty", sub: "exec", container: "main",
			kubelet: url.Values{"command": {"sh", "-c", "echo hi"}, "input": {"1"}, "output": {"1"}, "error": {"1"}},
			want:    "https://127.0.0.1:6443/api/v1/namespaces/nest-dev/pods/web-x-shop-x-dev/exec?command=sh&command=-c&command=echo+hi&container=main&stderr=true&stdin=true&stdout=true",
		},
		{
			name: "exec with a tty", sub: "exec", container: "side",
			kubelet: url.Values{"command": {"bash"}, "input": {"1"}, "output": {"1"}, "tty": {"1"}},
			want:    "https://127.0.0.1:6443/api/v1/namespaces/nest-dev/pods/web-x-shop-x-dev/exec?command=bash&container=side&stdin=true&stdout=true&tty=true",
		},
		{
			name: "attach takes no command", sub: "attach", container: "main",
			kubelet: url.Values{"command": {"ignored"}, "output": {"1"}},
			want:    "https://127.0.0.1:6443/api/v1/namespaces/nest-dev/pods/web-x-shop-x-dev/attach?container=main&stdout=true",
		},
		{
			name: "port-forward ports", sub: "portforward",
			kubelet: url.Values{"port": {"80,443"}},
			want:    "https://127.0.0.1:6443/api/v1/namespaces/nest-dev/pods/web-x-shop-x-dev/portforward?ports=80&ports=443",
		},
		{
			name: "port-forward without ports (given per stream)", sub: "portforward",
			want: "https://127.0.0.1:6443/api/v1/namespaces/nest-dev/pods/web-x-shop-x-dev/portforward",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := p.location(tt.sub, p.s.hostPodName("shop", "web"), tt.container, tt.kubelet).String()
			if got != tt.want {
				t.Fatalf("location:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
