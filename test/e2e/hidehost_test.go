package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerFakeNodesHideHost: in the fake node mode (the default), what
// comes up from the host names the fake node, never the host's: the
// virtual pod's host IP is its fake node's address, and the host
// scheduler's event copied up says the pod went to the fake node.
func TestSyncerFakeNodesHideHost(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	vc, client := env.VirtualCluster(t, "hidehost", lifecycle.CreateOptions{})
	pod := runningPod(t, client, "quiet")
	hostPod, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, "quiet-x-default-x-hidehost", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hostNode, hostIP := hostPod.Spec.NodeName, hostPod.Status.HostIP
	if hostNode == "" || hostIP == "" {
		t.Fatalf("host pod on node %q with host IP %q", hostNode, hostIP)
	}
	node, err := client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var nodeIP string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			nodeIP = a.Address
			break
		}
	}
	// On the local host KWOK's nodes are at 127.0.0.1 too, like the
	// syncer's kubelet endpoint: only the names tell them apart here (the
	// unit test TestHideHostNodes checks the addresses).
	if node.Name == hostNode || nodeIP == "" {
		t.Fatalf("virtual node %s (%s) tells the host node %s (%s)", node.Name, nodeIP, hostNode, hostIP)
	}
	testenv.Eventually(t, time.Minute, "the virtual pod's host IP is its fake node's", func() (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "quiet", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, ip := range p.Status.HostIPs {
			if ip.IP != nodeIP {
				return false, fmt.Errorf("host IPs %v", p.Status.HostIPs)
			}
		}
		return p.Status.HostIP == nodeIP, fmt.Errorf("host IP %q, want %q", p.Status.HostIP, nodeIP)
	})
	testenv.Eventually(t, time.Minute, "the host's Scheduled event up, naming the fake node", func() (bool, error) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=quiet"})
		if err != nil {
			return false, err
		}
		scheduled := false
		for _, ev := range evs.Items {
			for _, field := range []string{ev.Message, ev.Source.Host, ev.ReportingInstance} {
				if strings.Contains(field, hostNode) || hostIP != nodeIP && strings.Contains(field, hostIP) {
					return false, fmt.Errorf("event %s tells the host node: %q (source %+v, instance %q)", ev.Reason, ev.Message, ev.Source, ev.ReportingInstance)
				}
			}
			if ev.Reason == "Scheduled" && strings.HasSuffix(ev.Message, " to "+node.Name) {
				scheduled = true
			}
		}
		return scheduled, fmt.Errorf("no Scheduled event naming %s among %d", node.Name, len(evs.Items))
	})
}
