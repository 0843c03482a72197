package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestVirtualSchedulerPreemption: with controlPlane.scheduler on, the
// virtual cluster's own kube-scheduler places its pods by what the tenant
// made of its virtual nodes and by its priority classes, as upstream's
// SchedulerPreemption conformance test expects. The tenant adds an extended
// resource to a virtual node's status capacity and a label to it: both
// survive the syncer's refreshes from the host node, and the resource
// becomes allocatable (as a kubelet would make it). A low-priority pod
// takes most of the resource, is bound by the virtual scheduler, and its
// host copy runs on that host node without requesting the resource the
// host node lacks. A high-priority pod that needs the resource preempts
// it: the victim gets the DisruptionTarget condition and is gone on both
// sides, and the high-priority pod runs there. Removing the resource from
// capacity removes it from allocatable.
func TestVirtualSchedulerPreemption(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	const (
		vcName  = "vsched"
		fakecpu = corev1.ResourceName("example.com/fakecpu")
	)
	cfg := config.Default()
	cfg.ControlPlane.Scheduler.Enabled = true
	cfg.Sync.FromHost["nodes"] = config.FromHostSync{Enabled: ptrTo(true), Mode: config.NodeModeReal, All: true}
	vc, client := env.VirtualCluster(t, vcName, lifecycle.CreateOptions{Config: cfg})

	var nodeName string
	testenv.Eventually(t, time.Minute, "the host's nodes in the virtual cluster", func() (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil || len(nodes.Items) == 0 {
			return false, fmt.Errorf("virtual nodes: %d (%v)", len(nodes.Items), err)
		}
		names := make([]string, 0, len(nodes.Items))
		for _, n := range nodes.Items {
			// The apiserver's admission taints a new node not-ready; the
			// host's taints replace it (no node controller runs here).
			for _, taint := range n.Spec.Taints {
				if taint.Key == "node.kubernetes.io/not-ready" {
					return false, fmt.Errorf("virtual node %s has taints %v", n.Name, n.Spec.Taints)
				}
			}
			names = append(names, n.Name)
		}
		nodeName = slices.Min(names)
		return true, nil
	})

	// The tenant's additions: as the conformance test does, capacity only.
	testenv.Eventually(t, time.Minute, "the tenant's extended resource and label on "+nodeName, func() (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node.Status.Capacity[fakecpu] = resource.MustParse("10")
		if node, err = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			return false, err
		}
		node.Labels["tenant.example.com/pool"] = "fake"
		_, err = client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err == nil, err
	})
	// Each change of the virtual node makes the syncer refresh it from the
	// host node: allocatable filled in is that refresh.
	testenv.Eventually(t, time.Minute, "the extended resource allocatable", func() (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		alloc, capacity := node.Status.Allocatable[fakecpu], node.Status.Capacity[fakecpu]
		return alloc.Value() == 10 && capacity.Value() == 10 && node.Labels["tenant.example.com/pool"] == "fake",
			fmt.Errorf("capacity %s, allocatable %s, label %q", capacity.String(), alloc.String(), node.Labels["tenant.example.com/pool"])
	})

	for name, value := range map[string]int32{"low": 1, "high": 1000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "vsched-" + name}, Value: value}
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pod := func(name, class string, units int64) *corev1.Pod {
		need := corev1.ResourceList{fakecpu: *resource.NewQuantity(units, resource.DecimalSI)}
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{
				PriorityClassName: class,
				NodeSelector:      map[string]string{"tenant.example.com/pool": "fake"},
				Containers: []corev1.Container{{
					Name: "main", Image: "app:1",
					Resources: corev1.ResourceRequirements{Requests: need, Limits: need},
				}},
			},
		}
	}
	hostPod := func(name string) (*corev1.Pod, error) {
		return env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, name+"-x-default-x-"+vcName, metav1.GetOptions{})
	}
	running := func(name string) {
		t.Helper()
		testenv.Eventually(t, 2*time.Minute, name+" running on "+nodeName+" on both sides", func() (bool, error) {
			p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			hp, err := hostPod(name)
			if err != nil {
				return false, fmt.Errorf("virtual pod on %q (%s), host copy: %w", p.Spec.NodeName, p.Status.Phase, err)
			}
			return p.Spec.NodeName == nodeName && p.Status.Phase == corev1.PodRunning && hp.Spec.NodeName == nodeName,
				fmt.Errorf("virtual pod on %q (%s), host copy on %q (%s)", p.Spec.NodeName, p.Status.Phase, hp.Spec.NodeName, hp.Status.Phase)
		})
	}

	if _, err := client.CoreV1().Pods("default").Create(ctx, pod("low", "vsched-low", 7), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running("low")
	low, err := client.CoreV1().Pods("default").Get(ctx, "low", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hlow, err := hostPod("low")
	if err != nil {
		t.Fatal(err)
	}
	if _, asks := hlow.Spec.Containers[0].Resources.Requests[fakecpu]; asks || hlow.Annotations["nest.dev/virtual-only-resources"] != string(fakecpu) {
		t.Errorf("host copy of low requests %v, annotations %v: want no %s (the host node has none), named in nest.dev/virtual-only-resources",
			hlow.Spec.Containers[0].Resources.Requests, hlow.Annotations, fakecpu)
	}

	// Watch the victim from now on: the scheduler marks it before deleting it.
	w, err := client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=low", ResourceVersion: low.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var disrupted atomic.Bool
	go func() {
		for ev := range w.ResultChan() {
			if p, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Error {
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
						disrupted.Store(true)
					}
				}
			}
		}
	}()

	if _, err := client.CoreV1().Pods("default").Create(ctx, pod("high", "vsched-high", 5), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "the preempted pod gone on both sides", func() (bool, error) {
		_, verr := client.CoreV1().Pods("default").Get(ctx, "low", metav1.GetOptions{})
		_, herr := hostPod("low")
		return apierrors.IsNotFound(verr) && apierrors.IsNotFound(herr), fmt.Errorf("virtual pod: %v, host copy: %v", verr, herr)
	})
	running("high")
	if !disrupted.Load() {
		t.Error("the preempted pod never had the DisruptionTarget condition")
	}

	// The tenant takes its resource away again.
	testenv.Eventually(t, time.Minute, "the extended resource removed", func() (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		delete(node.Status.Capacity, fakecpu)
		_, err = client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err == nil, err
	})
	testenv.Eventually(t, time.Minute, "the extended resource gone from allocatable", func() (bool, error) {
		node, err := client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		_, inAlloc := node.Status.Allocatable[fakecpu]
		_, inCap := node.Status.Capacity[fakecpu]
		return !inAlloc && !inCap && node.Labels["tenant.example.com/pool"] == "fake",
			fmt.Errorf("allocatable %v, capacity %v, labels %v", node.Status.Allocatable, node.Status.Capacity, node.Labels)
	})
}
