package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerNodeModes: with sync.fromHost.nodes.mode real (fake is the default) the
// node a virtual pod is bound to is the host node it runs on, with its
// labels, capacity, conditions and node info (read through a grant made at
// create time and revoked at delete); with fake, it is a generated node
// whose name and data tell nothing of the host. Either way the kubelet
// paths reach the host pod.
func TestSyncerNodeModes(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	tests := []struct {
		name string
		mode config.NodeMode
	}{
		{"real", config.NodeModeReal},
		{"fake", config.NodeModeFake},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vcName := "nodes-" + tt.name
			grant := hostaccess.NodeGrantName("nest-" + vcName)
			t.Cleanup(func() { // runs after the cluster's deletion
				if _, err := env.Client.RbacV1().ClusterRoles().Get(context.Background(), grant, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("cluster role %s after the cluster's deletion: %v, want NotFound", grant, err)
				}
			})
			cfg := config.Default()
			cfg.Sync.FromHost["nodes"] = config.FromHostSync{Enabled: ptrTo(true), Mode: tt.mode}
			vc, client := env.VirtualCluster(t, vcName, lifecycle.CreateOptions{Config: cfg})
			_, err := env.Client.RbacV1().ClusterRoles().Get(ctx, grant, metav1.GetOptions{})
			if tt.mode == config.NodeModeReal && err != nil || tt.mode == config.NodeModeFake && !apierrors.IsNotFound(err) {
				t.Fatalf("cluster role %s in mode %s: %v", grant, tt.mode, err)
			}
			pod := runningPod(t, client, "talker")
			hostPod, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, "talker-x-default-x-"+vcName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			hostNode, err := env.Client.CoreV1().Nodes().Get(ctx, hostPod.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			node, err := client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			switch tt.mode {
			case config.NodeModeReal:
				if node.Name != hostNode.Name {
					t.Errorf("virtual pod on node %s, its host copy on %s", node.Name, hostNode.Name)
				}
				for k, v := range hostNode.Labels {
					if node.Labels[k] != v {
						t.Errorf("virtual node label %s=%q, host %q", k, node.Labels[k], v)
					}
				}
				if !equality.Semantic.DeepEqual(node.Status.Capacity, hostNode.Status.Capacity) || !equality.Semantic.DeepEqual(node.Status.Allocatable, hostNode.Status.Allocatable) {
					t.Errorf("virtual capacity %v / allocatable %v, host %v / %v", node.Status.Capacity, node.Status.Allocatable, hostNode.Status.Capacity, hostNode.Status.Allocatable)
				}
				if node.Status.NodeInfo != hostNode.Status.NodeInfo {
					t.Errorf("virtual node info %+v, host %+v", node.Status.NodeInfo, hostNode.Status.NodeInfo)
				}
				if c := readyCondition(node); c == nil || c.Status != readyCondition(hostNode).Status || c.Reason != readyCondition(hostNode).Reason {
					t.Errorf("virtual Ready condition %+v, host %+v", c, readyCondition(hostNode))
				}
			case config.NodeModeFake:
				raw, _ := json.Marshal(node)
				if !strings.HasPrefix(node.Name, "vnode-") || strings.Contains(string(raw), hostNode.Name) {
					t.Errorf("fake node %s tells the host node's name %s: %s", node.Name, hostNode.Name, raw)
				}
				if node.Status.NodeInfo.KubeletVersion != "nest" || node.Status.NodeInfo.MachineID != "" {
					t.Errorf("fake node info %+v", node.Status.NodeInfo)
				}
			}
			want := fmt.Sprintf("no logs found for container %q in pod %q", "sidecar", vc.HostNamespace+"/talker-x-default-x-"+vcName)
			testenv.Eventually(t, time.Minute, "the log request to reach the host pod's sidecar container", func() (bool, error) {
				stream, err := client.CoreV1().Pods("default").GetLogs("talker", &corev1.PodLogOptions{Container: "sidecar"}).Stream(ctx)
				if err == nil {
					stream.Close()
					return false, errors.New("no error: KWOK keeps no logs, it should have said so")
				}
				return strings.Contains(err.Error(), want), fmt.Errorf("%v%s", err, nodeAddresses(env, client))
			})
		})
	}
}

func readyCondition(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }
