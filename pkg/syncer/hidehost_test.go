package syncer

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/pkg/config"
)

func TestReplaceNames(t *testing.T) {
	t.Parallel()
	renames := map[string]string{"node-1": "vnode-a", "node-1.example.com": "vnode-b", "10.0.0.1": "127.0.0.1"}
	tests := []struct {
		name, in, want string
	}{
		{"scheduler message", "Successfully assigned shop/web to node-1", "Successfully assigned shop/web to vnode-a"},
		{"end of a sentence", "Pod was placed on node-1. Retrying.", "Pod was placed on vnode-a. Retrying."},
		{"longer name first", "node node-1.example.com is ready", "node vnode-b is ready"},
		{"not inside a longer name", "node-10 and node-1x and xnode-1 and node-1", "node-10 and node-1x and xnode-1 and vnode-a"},
		{"address", "probe to 10.0.0.1:10250 failed, 10.0.0.12 fine", "probe to 127.0.0.1:10250 failed, 10.0.0.12 fine"},
		{"not inside a longer address", "110.0.0.1 and 10.0.0.1.5", "110.0.0.1 and 10.0.0.1.5"},
		{"quoted", `node "node-1" not ready`, `node "vnode-a" not ready`},
		{"nothing to do", "Pulled image", "Pulled image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := replaceNames(tt.in, renames); got != tt.want {
				t.Fatalf("replaceNames(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHideHostNodes(t *testing.T) {
	t.Parallel()
	real := &Syncer{vc: "dev", rules: config.Sync{FromHost: map[string]config.FromHostSync{"nodes": {Enabled: ptrTo(true), Mode: config.NodeModeReal}}}}
	fake := &Syncer{vc: "dev", kubelet: &kubeletEndpoint{address: "127.0.0.9", port: 10250}}
	fake.hostPodIndex = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{indexPodNodeName: podIndexers[indexPodNodeName]})
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "nest-dev", Name: "other"}, Spec: corev1.PodSpec{NodeName: "host-b"}}
	if err := fake.hostPodIndex.Add(other); err != nil {
		t.Fatal(err)
	}
	hpod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "host-a"},
		Status: corev1.PodStatus{HostIP: "10.1.0.5", HostIPs: []corev1.HostIP{{IP: "10.1.0.5"}, {IP: "fd00::5"}}}}
	event := func() *corev1.Event {
		return &corev1.Event{Message: "Successfully assigned shop/web to host-a (10.1.0.5, fd00::5); host-b was full",
			Source: corev1.EventSource{Component: "kubelet", Host: "host-a"}, ReportingInstance: "host-a"}
	}
	tests := []struct {
		name        string
		s           *Syncer
		wantMessage string
		wantHost    string
		wantIP      string
		wantIPs     int
	}{
		{"fake: the fake nodes' names and address", fake,
			"Successfully assigned shop/web to " + fake.virtualNodeName("host-a") + " (127.0.0.9, 127.0.0.9); " + fake.virtualNodeName("host-b") + " was full",
			fake.virtualNodeName("host-a"), "127.0.0.9", 1},
		{"real: the host's", real, event().Message, "host-a", "10.1.0.5", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := event()
			hideHostNodes(ev, tt.s.hostNodeRenames(hpod, ev.Source.Host))
			if ev.Message != tt.wantMessage || ev.Source.Host != tt.wantHost || ev.ReportingInstance != tt.wantHost {
				t.Fatalf("event %q host %q instance %q, want %q host %q", ev.Message, ev.Source.Host, ev.ReportingInstance, tt.wantMessage, tt.wantHost)
			}
			status := *hpod.Status.DeepCopy()
			tt.s.hideHostIP(&status)
			if status.HostIP != tt.wantIP || len(status.HostIPs) != tt.wantIPs || status.HostIPs[0].IP != tt.wantIP {
				t.Fatalf("status host IP %q, IPs %v; want %q (%d)", status.HostIP, status.HostIPs, tt.wantIP, tt.wantIPs)
			}
		})
	}
	t.Run("fake: a kubelet's node before any pod shows it", func(t *testing.T) {
		t.Parallel()
		ev := &corev1.Event{Message: "Node host-c rebooted", Source: corev1.EventSource{Component: "kubelet", Host: "host-c"}}
		hideHostNodes(ev, fake.hostNodeRenames(nil, ev.Source.Host))
		if want := fake.virtualNodeName("host-c"); ev.Source.Host != want || ev.Message != "Node "+want+" rebooted" {
			t.Fatalf("event %q from %q", ev.Message, ev.Source.Host)
		}
	})
	t.Run("fake without a kubelet endpoint: loopback", func(t *testing.T) {
		t.Parallel()
		status := corev1.PodStatus{HostIP: "10.1.0.5"}
		(&Syncer{vc: "dev"}).hideHostIP(&status)
		if status.HostIP != fallbackNodeIP {
			t.Fatalf("host IP %q", status.HostIP)
		}
	})
}
