package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestPauseResume: pause removes every host pod and keeps every object;
// pausing again does nothing; resume puts the same pods back (a bare pod
// too, which is never re-created by a controller), reported Running, not
// lost.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "sleepy", lifecycle.CreateOptions{})
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", 5), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bare := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bare"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, bare, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hostRunning := func() (int, error) {
		l, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: "nest.dev/virtual-cluster=sleepy"})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, pod := range l.Items {
			if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
				n++
			}
		}
		return n, nil
	}
	testenv.Eventually(t, 2*time.Minute, "6 pods Running on the host", func() (bool, error) {
		n, err := hostRunning()
		return n == 6, fmt.Errorf("%d running: %v", n, err)
	})
	before := virtualPodUIDs(ctx, t, client)

	for range 2 { // the second pause is a no-op
		if err := p.Pause(ctx, "sleepy"); err != nil {
			t.Fatal(err)
		}
		if c, err := p.Get(ctx, "sleepy"); err != nil || c.State != lifecycle.StatePaused {
			t.Fatalf("after pause: %+v, %v; want state Paused", c, err)
		}
		l, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 0 {
			t.Fatalf("host pods after pause: %d, %v; want none", len(l.Items), err)
		}
	}

	if _, err := p.Start(ctx, "sleepy", 0); err != nil {
		t.Fatal(err)
	}
	client, err = kube.Clientset(vc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "6 pods Running on the host again", func() (bool, error) {
		n, err := hostRunning()
		return n == 6, fmt.Errorf("%d running: %v", n, err)
	})
	marker := controlplane.Layout{Dir: env.Home.ClusterDir("sleepy")}.PausedPath()
	testenv.Eventually(t, time.Minute, "the pause marker to go", func() (bool, error) {
		_, err := os.Stat(marker)
		return os.IsNotExist(err), err
	})
	after := virtualPodUIDs(ctx, t, client)
	if len(after) != len(before) {
		t.Fatalf("virtual pods: %d before the pause, %d after", len(before), len(after))
	}
	for name, uid := range before {
		if after[name] != uid {
			t.Errorf("virtual pod %s was replaced across the pause", name)
		}
	}
	testenv.Eventually(t, time.Minute, "the bare pod Running", func() (bool, error) {
		pod, err := client.CoreV1().Pods("default").Get(ctx, "bare", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pod.Status.Phase == corev1.PodRunning, fmt.Errorf("phase %s, reason %q", pod.Status.Phase, pod.Status.Reason)
	})
}

// virtualPodUIDs maps the pods of namespace default to their UIDs.
func virtualPodUIDs(ctx context.Context, t *testing.T, client kubernetes.Interface) map[string]string {
	t.Helper()
	l, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, pod := range l.Items {
		out[pod.Name] = string(pod.UID)
	}
	return out
}
