package localhost

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/localhost/kwok"
)

// Capacity of every simulated node: a common mid-size machine.
var nodeCapacity = corev1.ResourceList{
	corev1.ResourceCPU:              resource.MustParse("8"),
	corev1.ResourceMemory:           resource.MustParse("32Gi"),
	corev1.ResourcePods:             resource.MustParse("110"),
	corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
}

// nodeLabel marks the nodes that `nest host up` made, so that it only ever
// removes its own when the node count shrinks.
const nodeLabel = "nest.dev/local-host-node"

func nodeName(i int) string { return "nest-node-" + strconv.Itoa(i) }

// ensureNodes makes the host have exactly n simulated nodes made by Nest,
// then waits until KWOK reports them Ready.
func (h *Host) ensureNodes(ctx context.Context, n int) error {
	client, err := h.Client()
	if err != nil {
		return err
	}
	existing, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: nodeLabel + "=true"})
	if err != nil {
		return fmt.Errorf("list simulated nodes: %w", err)
	}
	want := map[string]bool{}
	for i := range n {
		want[nodeName(i)] = true
	}
	for _, node := range existing.Items {
		if want[node.Name] {
			delete(want, node.Name)
			continue
		}
		if err := client.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("remove simulated node %s: %w", node.Name, err)
		}
		h.logger.Info("Removed simulated node", "node", node.Name)
	}
	for name := range want {
		node := simulatedNode(name)
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create simulated node %s: %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		st, err := h.Status(ctx)
		if err == nil && st.Nodes >= n && st.NodesReady == st.Nodes {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("simulated nodes did not turn Ready (is kwok running? log: %s): %w", h.logPath("kwok"), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func simulatedNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{kwok.NodeAnnotation: kwok.NodeAnnotationValue},
			Labels: map[string]string{
				nodeLabel:                "true",
				"type":                   "kwok",
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    nodeCapacity,
			Allocatable: nodeCapacity,
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:    "amd64",
				OperatingSystem: "linux",
			},
		},
	}
}
