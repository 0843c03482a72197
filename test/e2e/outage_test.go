package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/localhost"
)

// TestSyncerSurvivesHostOutage: the host's apiserver is down for 30 s while
// the tenant keeps working; once it is back, the syncer catches up on its
// own (back-off, no restart of the virtual cluster). It runs on a private
// host, so the outage touches no other test.
func TestSyncerSurvivesHostOutage(t *testing.T) {
	t.Parallel()
	shared := testenv.Get(t)
	host, err := testenv.StartHost(t.TempDir(), shared.NestBinary, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = host.Host.Down(context.Background(), false) })
	vc, client := host.VirtualCluster(t, "outage", lifecycle.CreateOptions{})
	ctx := context.Background()
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1"}}}}
	}
	running := func(name string) func() (bool, error) {
		return func() (bool, error) {
			p, err := client.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return p.Status.Phase == corev1.PodRunning, fmt.Errorf("phase %s", p.Status.Phase)
		}
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod("before"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the first pod Running", running("before"))

	pid := readPID(t, filepath.Join(host.Host.Dir(), "run", "kube-apiserver.pid"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	outageStart := time.Now()
	// The tenant works on: its cluster does not depend on the host.
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod("during"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Pods("default").Delete(ctx, "before", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30*time.Second - time.Since(outageStart))
	if _, err := host.Host.Up(ctx, localhost.Options{Nodes: 1}); err != nil {
		t.Fatalf("bring the host's apiserver back: %v", err)
	}
	back := time.Now()

	testenv.Eventually(t, 2*time.Minute, "the pod made during the outage Running", running("during"))
	testenv.Eventually(t, 2*time.Minute, "the pod deleted during the outage gone on both sides", func() (bool, error) {
		_, verr := client.CoreV1().Pods("default").Get(ctx, "before", metav1.GetOptions{})
		_, herr := host.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, "before-x-default-x-outage", metav1.GetOptions{})
		return apierrors.IsNotFound(verr) && apierrors.IsNotFound(herr), fmt.Errorf("virtual: %v, host: %v", verr, herr)
	})
	t.Logf("outage of %s; caught up %s after the host's apiserver was back", back.Sub(outageStart).Round(time.Second), time.Since(back).Round(time.Second))
	p, err := host.Provider()
	if err != nil {
		t.Fatal(err)
	}
	now, err := p.Get(ctx, vc.Name)
	if err != nil {
		t.Fatal(err)
	}
	if now.PID != vc.PID {
		t.Fatalf("the control plane was restarted (pid %d, was %d): the syncer must recover by itself", now.PID, vc.PID)
	}
}
