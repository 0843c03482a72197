package reconciler

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/hub/placement"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kube"
)

// checkHost asks a host cluster for its version and nodes, records its
// health and capacity, and requeues its virtual clusters when its health
// changed (an unreachable host makes them Unknown; its return, Ready).
func (r *Reconciler) checkHost(ctx context.Context, id string) error {
	h, err := r.store.HostClusters.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	vcs, err := r.store.VirtualClusters.All(ctx, map[string]string{"hostClusterId": h.ID})
	if err != nil {
		return err
	}
	var allocated store.Resources
	for _, vc := range vcs {
		if allocated, err = placement.Add(allocated, vc.Quota); err != nil {
			return err
		}
	}
	status := store.HostClusterStatus{Phase: store.HostReady, LastCheck: time.Now().UTC().Truncate(time.Microsecond), Allocated: allocated}
	if err := r.probe(ctx, h, &status); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		status.Phase, status.Message = store.HostUnreachable, err.Error()
		// Keep what was last seen of the capacity.
		status.Capacity, status.Nodes, status.KubernetesVersion = h.Status.Capacity, h.Status.Nodes, h.Status.KubernetesVersion
	}
	was := h.Status.Phase
	for attempt := 0; ; attempt++ {
		h.Status = status
		err = r.store.HostClusters.Update(ctx, h)
		if errors.Is(err, store.ErrConflict) && attempt < 20 {
			if h, err = r.store.HostClusters.Get(ctx, id); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("write status of host cluster %s: %w", h.Name, err)
		}
		break
	}
	if was != status.Phase {
		r.log.Info("Host cluster health changed", "hostCluster", h.Name, "from", was, "to", status.Phase, "message", status.Message)
		for _, vc := range vcs {
			r.Changed("virtualcluster", vc.ID)
		}
	}
	return nil
}

// probe connects to the host with its decrypted kubeconfig and fills in
// its version, nodes and capacity (the allocatable resources of its ready,
// schedulable nodes).
func (r *Reconciler) probe(ctx context.Context, h *store.HostCluster, status *store.HostClusterStatus) error {
	data, err := r.cfg.Secrets.Decrypt(h.KubeconfigEnc)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		return fmt.Errorf("host kubeconfig: %w", err)
	}
	cfg = kube.Tune(cfg)
	cfg.Timeout = 10 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return fmt.Errorf("host apiserver at %s does not answer: %w", cfg.Host, err)
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	sum := map[corev1.ResourceName]*resource.Quantity{}
	names := map[corev1.ResourceName]string{corev1.ResourceCPU: "cpu", corev1.ResourceMemory: "memory",
		corev1.ResourceEphemeralStorage: "storage", corev1.ResourcePods: "pods"}
	ready := 0
	for _, n := range nodes.Items {
		if n.Spec.Unschedulable || !nodeReady(&n) {
			continue
		}
		ready++
		for rn := range names {
			q, ok := n.Status.Allocatable[rn]
			if !ok {
				continue
			}
			if sum[rn] == nil {
				sum[rn] = &resource.Quantity{}
			}
			sum[rn].Add(q)
		}
	}
	var capacity store.Resources
	for rn, dim := range names {
		if q := sum[rn]; q != nil {
			placement.Set(&capacity, dim, q.String())
		}
	}
	status.Capacity, status.Nodes, status.KubernetesVersion = capacity, ready, v.GitVersion
	if ready == 0 {
		status.Message = "no ready, schedulable node"
	}
	return nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
