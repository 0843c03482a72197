package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/localhost"
)

func TestHostNodesAreReady(t *testing.T) {
	env := testenv.Get(t)
	st, err := env.Host.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Healthy || st.Nodes != 3 || st.NodesReady != 3 {
		t.Fatalf("status = %+v, want healthy with 3/3 nodes Ready", st)
	}
	for _, c := range st.Components {
		if !c.Healthy {
			t.Errorf("component %s is not healthy: %s", c.Name, c.Message)
		}
	}
}

func TestHostRunsDeployment(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	ns := createNamespace(t, env, "deploy-10")
	d := deployment("web", 10)
	if _, err := env.Client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "10/10 replicas available", func() (bool, error) {
		got, err := env.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.AvailableReplicas == 10, fmt.Errorf("available %d", got.Status.AvailableReplicas)
	})
	pods, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Spec.NodeName == "" {
			t.Errorf("pod %s: phase %s on node %q, want Running on a simulated node", p.Name, p.Status.Phase, p.Spec.NodeName)
		}
	}
}

// TestHostLifecycle drives a second, private local host through up, a
// crash, a restart and down.
func TestHostLifecycle(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	dir := t.TempDir()
	private, err := testenv.StartHost(dir, env.NestBinary, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := private.Host
	ctx := context.Background()
	t.Cleanup(func() { _, _ = h.Down(context.Background(), false) })

	res, err := h.Up(ctx, localhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Started) != 0 {
		t.Fatalf("second up started %v, want nothing", res.Started)
	}

	// A crashed component is reported and restarted, alone.
	pid := readPID(t, filepath.Join(h.Dir(), "run", "kube-scheduler.pid"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "status to report the scheduler down", func() (bool, error) {
		st, err := h.Status(ctx)
		if err != nil {
			return false, err
		}
		return !st.Healthy && !st.Components[3].Running, nil
	})
	res, err = h.Up(ctx, localhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Started, ",") != "kube-scheduler" {
		t.Fatalf("up after crash started %v, want only kube-scheduler", res.Started)
	}

	// Down leaves no process behind, and a second down is a no-op.
	stopped, err := h.Down(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped) != 6 {
		t.Fatalf("down stopped %v, want all 6 components", stopped)
	}
	if procs := processesMentioning(t, h.Dir()); len(procs) > 0 {
		t.Fatalf("processes left after down: %v", procs)
	}
	stopped, err = h.Down(ctx, false)
	if err != nil || len(stopped) != 0 {
		t.Fatalf("second down = %v, %v; want nothing stopped", stopped, err)
	}

	// The apiserver's port taken by a stranger: a clear error, no data lost.
	st, err := h.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", strings.TrimPrefix(st.Server, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Up(ctx, localhost.Options{})
	l.Close()
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("up with a busy apiserver port: err = %v, want a port-in-use error", err)
	}
	if entries, err := os.ReadDir(filepath.Join(h.Dir(), "data")); err != nil || len(entries) == 0 {
		t.Fatalf("data lost after failed up: %v, %d entries", err, len(entries))
	}
	if _, err := h.Up(ctx, localhost.Options{}); err != nil {
		t.Fatalf("up once the port is free again: %v", err)
	}
}

func TestHostUpRejectsBadInput(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	tests := []struct {
		name    string
		opts    localhost.Options
		wantErr string
	}{
		{name: "negative nodes", opts: localhost.Options{Nodes: -1}, wantErr: "--nodes"},
		{name: "unknown datastore", opts: localhost.Options{Datastore: "mysql"}, wantErr: "--datastore"},
		{name: "switching datastore of an existing host", opts: localhost.Options{Datastore: otherDatastore()}, wantErr: "down --purge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := env.Host.Up(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Up(%+v) error = %v, want %q", tt.opts, err, tt.wantErr)
			}
		})
	}
}

func createNamespace(t *testing.T, env *testenv.Env, prefix string) string {
	t.Helper()
	ns, err := env.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
			},
		},
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(t *testing.T, s string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		if strings.Contains(string(cmdline), s) {
			found = append(found, e.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return found
}

// otherDatastore is the datastore that a default host does not use.
func otherDatastore() string {
	if localhost.DefaultDatastore == localhost.DatastoreEtcd {
		return localhost.DatastoreKine
	}
	return localhost.DatastoreEtcd
}
