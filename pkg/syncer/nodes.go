package syncer

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/names"
)

// fakeNodeCapacity is what a virtual node reports. The syncer's host
// credentials are namespace-scoped and cannot read host nodes, so virtual
// nodes are placeholders that carry the host node's name (sync.fromHost.nodes
// mode "real", with a cluster-scoped read grant, is the next step).
var fakeNodeCapacity = corev1.ResourceList{
	corev1.ResourceCPU:    resource.MustParse("16"),
	corev1.ResourceMemory: resource.MustParse("64Gi"),
	corev1.ResourcePods:   resource.MustParse("110"),
}

// ensureNode makes sure the virtual cluster has a node of that name, so a
// virtual pod can be bound to where its host copy runs.
func (s *Syncer) ensureNode(ctx context.Context, name string) error {
	if node, ok, err := found(s.virtualNodes.Get(name)); ok || err != nil {
		if ok {
			return s.pointAtKubelet(ctx, node)
		}
		return err
	}
	now := metav1.Now()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", names.LabelManagedBy: names.ManagedByValue},
			Annotations: map[string]string{names.Domain + "/node-mode": "fake"},
		},
		Status: corev1.NodeStatus{
			Capacity:    fakeNodeCapacity,
			Allocatable: fakeNodeCapacity,
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "HostNode",
				Message: "runs this virtual cluster's pods on the host", LastHeartbeatTime: now, LastTransitionTime: now,
			}},
			NodeInfo: corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "nest"},
		},
	}
	s.setKubelet(node)
	if _, err := s.virtual.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create virtual node %s: %w", name, err)
	}
	return nil
}

// setKubelet points a node at the syncer's kubelet API.
func (s *Syncer) setKubelet(node *corev1.Node) {
	if s.kubelet == nil {
		return
	}
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: s.kubelet.address}}
	node.Status.DaemonEndpoints.KubeletEndpoint.Port = s.kubelet.port
}

// pointAtKubelet updates a placeholder node made by an earlier syncer
// process, whose kubelet API listened elsewhere.
func (s *Syncer) pointAtKubelet(ctx context.Context, node *corev1.Node) error {
	if s.kubelet == nil || node.Labels[names.LabelManagedBy] != names.ManagedByValue {
		return nil
	}
	updated := node.DeepCopy()
	s.setKubelet(updated)
	if equality.Semantic.DeepEqual(updated.Status, node.Status) {
		return nil
	}
	_, err := s.virtual.CoreV1().Nodes().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		// Deleted since the cache saw it: a pod still needs it.
		return fmt.Errorf("virtual node %s is gone, to be made again", node.Name)
	}
	return ignoreGone(err, "point virtual node "+node.Name+" at the syncer's kubelet API")
}

// kindNode is the queue kind of virtual nodes, queued when a pod leaves one.
const kindNode = "nodes"

// syncNode removes a placeholder node once no virtual pod is bound to it.
// Nodes a tenant made (without Nest's label) are left alone. A pod bound
// to it meanwhile brings it back through ensureNode on its next sync,
// long before the pod garbage collector would miss the node (40 s).
func (s *Syncer) syncNode(ctx context.Context, name string) error {
	node, ok, err := found(s.virtualNodes.Get(name))
	if err != nil {
		return err
	}
	pods, err := s.virtualPodIndex.ByIndex(indexPodNodeName, name)
	if err != nil {
		return err
	}
	if !ok {
		if len(pods) > 0 {
			// Deleted while a pod was being bound to it (see below): the
			// pod garbage collector deletes pods of missing nodes.
			return s.ensureNode(ctx, name)
		}
		return nil
	}
	if node.Labels[names.LabelManagedBy] != names.ManagedByValue {
		return nil
	}
	if len(pods) > 0 {
		return s.pointAtKubelet(ctx, node)
	}
	// The pod cache may not show a bind made a moment ago: ask the
	// apiserver before deleting. (A bind after this question brings the
	// node back through the pod's sync or the node's deletion event.)
	live, err := s.virtual.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name, Limit: 1})
	if err != nil {
		return fmt.Errorf("list virtual pods on node %s: %w", name, err)
	}
	if len(live.Items) > 0 {
		return nil // their events bring the node back here
	}
	err = s.virtual.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &node.UID}})
	return ignoreGone(err, "delete unused virtual node "+name)
}
