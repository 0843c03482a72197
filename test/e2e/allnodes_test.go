package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestSyncerAllNodes: with sync.fromHost.nodes.all the virtual cluster shows
// every host node before any of its pods runs (in real mode under their
// names, in fake mode under anonymised, stable ones), read through the node
// grant made at create time and revoked at delete; without it (the default)
// there is no grant and no node until a pod runs. A daemon set then runs
// one pod on each node, and each pod's host copy runs on the host node its
// virtual node stands for (the daemon set controller's node affinity,
// translated). With a selector, only the matching host nodes are shown,
// and the daemon set runs on those only.
func TestSyncerAllNodes(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	hostNodes, err := env.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var hostNames []string
	for _, n := range hostNodes.Items {
		hostNames = append(hostNames, n.Name)
	}
	slices.Sort(hostNames)
	if len(hostNames) < 2 {
		t.Fatalf("the local host has %d nodes, want at least 2", len(hostNames))
	}
	tests := []struct {
		name      string
		nodes     *config.FromHostSync // nil: the default
		wantGrant bool
		selectOne bool // select the first host node by its label
	}{
		{name: "default", nodes: nil},
		{name: "all-real", nodes: &config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeReal, All: true}, wantGrant: true},
		{name: "all-fake", nodes: &config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeFake, All: true}, wantGrant: true},
		{name: "selected", nodes: &config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeFake, All: true}, wantGrant: true, selectOne: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vcName := "allnodes-" + tt.name
			grant := hostaccess.NodeGrantName("nest-" + vcName)
			t.Cleanup(func() { // runs after the cluster's deletion
				if _, err := env.Client.RbacV1().ClusterRoles().Get(context.Background(), grant, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
					t.Errorf("cluster role %s after the cluster's deletion: %v, want NotFound", grant, err)
				}
			})
			cfg := config.Default()
			wantHost := hostNames
			if tt.nodes != nil {
				nodes := *tt.nodes
				if tt.selectOne {
					nodes.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/hostname": hostNames[0]}}
					wantHost = hostNames[:1]
				}
				cfg.Sync.FromHost["nodes"] = nodes
			}
			vc, client := env.VirtualCluster(t, vcName, lifecycle.CreateOptions{Config: cfg})
			_, err := env.Client.RbacV1().ClusterRoles().Get(ctx, grant, metav1.GetOptions{})
			if tt.wantGrant && err != nil || !tt.wantGrant && !apierrors.IsNotFound(err) {
				t.Fatalf("node grant %s: %v, want it: %v", grant, err, tt.wantGrant)
			}
			if !tt.wantGrant {
				nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
				if err != nil || len(nodes.Items) != 0 {
					t.Fatalf("virtual nodes before any pod runs: %d (%v), want none", len(nodes.Items), err)
				}
				return
			}
			var virtualNames []string
			testenv.Eventually(t, time.Minute, "every host node in the virtual cluster", func() (bool, error) {
				nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
				if err != nil {
					return false, err
				}
				virtualNames = virtualNames[:0]
				for _, n := range nodes.Items {
					virtualNames = append(virtualNames, n.Name)
				}
				slices.Sort(virtualNames)
				return len(virtualNames) == len(wantHost), fmt.Errorf("virtual nodes %v, want one for each of the host nodes %v", virtualNames, wantHost)
			})
			for _, n := range virtualNames {
				if tt.nodes.Mode == config.NodeModeReal && !slices.Contains(hostNames, n) ||
					tt.nodes.Mode == config.NodeModeFake && (!strings.HasPrefix(n, "vnode-") || slices.Contains(hostNames, n)) {
					t.Errorf("virtual node %s in mode %s (host nodes %v)", n, tt.nodes.Mode, hostNames)
				}
			}

			labels := map[string]string{"app": "everywhere"}
			ds := &appsv1.DaemonSet{
				ObjectMeta: metav1.ObjectMeta{Name: "everywhere"},
				Spec: appsv1.DaemonSetSpec{
					Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "agent:1"}}},
					},
				},
			}
			if _, err := client.AppsV1().DaemonSets("default").Create(ctx, ds, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 2*time.Minute, "a running daemon pod on every node", func() (bool, error) {
				pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=everywhere"})
				if err != nil {
					return false, err
				}
				var on []string
				for _, p := range pods.Items {
					if p.Status.Phase == corev1.PodRunning {
						on = append(on, p.Spec.NodeName)
					}
				}
				slices.Sort(on)
				return slices.Equal(on, virtualNames), fmt.Errorf("running daemon pods on %v, want %v", on, virtualNames)
			})
			pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=everywhere"})
			if err != nil {
				t.Fatal(err)
			}
			var hostOn []string
			for _, p := range pods.Items {
				// The daemon set controller asked for this node.
				terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
				if want := terms[0].MatchFields[0].Values[0]; p.Spec.NodeName != want {
					t.Errorf("daemon pod %s bound to %s, its affinity asks for %s", p.Name, p.Spec.NodeName, want)
				}
				hp, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, p.Name+"-x-default-x-"+vcName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if tt.nodes.Mode == config.NodeModeReal && hp.Spec.NodeName != p.Spec.NodeName {
					t.Errorf("daemon pod %s on virtual node %s, its host copy on %s", p.Name, p.Spec.NodeName, hp.Spec.NodeName)
				}
				hostOn = append(hostOn, hp.Spec.NodeName)
			}
			slices.Sort(hostOn)
			if !slices.Equal(hostOn, wantHost) {
				t.Errorf("host copies of the daemon pods on %v, want one on each of %v", hostOn, wantHost)
			}
		})
	}
}
