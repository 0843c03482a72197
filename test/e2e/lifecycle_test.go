package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/cmd"
	"github.com/nestcluster/nest/pkg/cmd/app"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

func TestCreateRejectsBadInput(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	unreachable := filepath.Join(t.TempDir(), "unreachable.kubeconfig")
	data, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://127.0.0.1:1" // nothing listens there
	}
	if err := clientcmd.WriteToFile(*cfg, unreachable); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		vc      string
		opts    lifecycle.CreateOptions
		wantErr string
	}{
		{name: "uppercase name", vc: "Dev", wantErr: "invalid virtual cluster name"},
		{name: "underscore", vc: "dev_1", wantErr: "invalid virtual cluster name"},
		{name: "too long", vc: strings.Repeat("a", 64), wantErr: "invalid virtual cluster name"},
		{name: "empty", vc: "", wantErr: "invalid virtual cluster name"},
		{name: "unreachable host", vc: "unreachable", opts: lifecycle.CreateOptions{HostKubeconfig: unreachable}, wantErr: "unreachable"},
		{name: "missing host kubeconfig", vc: "nohost", opts: lifecycle.CreateOptions{HostKubeconfig: "/does/not/exist"}, wantErr: "host kubeconfig"},
		{name: "namespace owned by someone else", vc: "squatter", opts: lifecycle.CreateOptions{Namespace: "someone-elses"}, wantErr: "not managed by Nest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Create(ctx, tt.vc, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Create(%q) error = %v, want %q", tt.vc, err, tt.wantErr)
			}
			if _, err := p.Get(ctx, tt.vc); !errors.Is(err, lifecycle.ErrNotFound) {
				t.Fatalf("a rejected create left state behind: %v", err)
			}
		})
	}
	ns, err := env.Client.CoreV1().Namespaces().Get(ctx, "someone-elses", metav1.GetOptions{})
	if err != nil || ns.DeletionTimestamp != nil || len(ns.Labels) > 1 {
		t.Fatalf("a foreign namespace was touched: %+v, %v", ns, err)
	}
}

func TestCLIRejectsBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"unknown field", "apiVersion: nest.dev/v1alpha1\nkind: VirtualClusterConfig\ncontrolPlane:\n  apiserver: {}\n", "controlPlane.apiserver"},
		{"wrong type", "apiVersion: nest.dev/v1alpha1\nkind: VirtualClusterConfig\nisolation:\n  allowHostPath: maybe\n", "isolation.allowHostPath"},
		{"unsupported version", "apiVersion: nest.dev/v1alpha1\nkind: VirtualClusterConfig\nkubernetesVersion: v1.20.0\n", "kubernetesVersion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := app.Run(context.Background(), cmd.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out}, []string{"create", "badconfig", "--config", path})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("nest create --config: err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestKilledClusterComesBack kills a control plane with SIGKILL and checks
// that list reports it and resume brings back every object.
func TestKilledClusterComesBack(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "phoenix", lifecycle.CreateOptions{})
	ctx := context.Background()
	const n = 50
	for i := range n {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "before-kill-"}, Data: map[string]string{"i": string(rune('a' + i%26))}}
		if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Kill(vc.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "list to show the cluster Stopped", func() (bool, error) {
		got, err := p.Get(ctx, "phoenix")
		return err == nil && got.State == lifecycle.StateStopped, err
	})
	// Creating it again is refused: its state is kept for resume.
	if _, err := p.Create(ctx, "phoenix", lifecycle.CreateOptions{}); !errors.Is(err, lifecycle.ErrExists) {
		t.Fatalf("create over a stopped cluster: err = %v, want ErrExists", err)
	}
	resumed, err := p.Start(ctx, "phoenix", 0)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.State != lifecycle.StateRunning {
		t.Fatalf("resumed state = %s, want Running", resumed.State)
	}
	client, err = kube.Clientset(resumed.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cms, err := client.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, cm := range cms.Items {
		if strings.HasPrefix(cm.Name, "before-kill-") {
			count++
		}
	}
	if count != n {
		t.Fatalf("%d configmaps after resume, want %d", count, n)
	}
}

func TestDeleteRemovesHostObjectsAndState(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vc, err := p.Create(ctx, "ephemeral", lifecycle.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "config")
	if _, err := p.Connect(ctx, "ephemeral", target); err != nil {
		t.Fatal(err)
	}
	merged, err := clientcmd.LoadFromFile(target)
	if err != nil || merged.CurrentContext != "nest_ephemeral" {
		t.Fatalf("connect: current context = %v, %v", merged, err)
	}
	ns, err := env.Client.CoreV1().Namespaces().Get(ctx, vc.HostNamespace, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("host namespace: %v", err)
	}
	if ns.Labels["nest.dev/managed-by"] != "nest" {
		t.Fatalf("host namespace labels = %v", ns.Labels)
	}
	if err := p.Delete(ctx, "ephemeral"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().Namespaces().Get(ctx, vc.HostNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("host namespace after delete: err = %v, want NotFound", err)
	}
	if _, err := os.Stat(env.Home.ClusterDir("ephemeral")); !os.IsNotExist(err) {
		t.Fatalf("state dir after delete: %v", err)
	}
	if procs := processesMentioning(t, env.Home.ClusterDir("ephemeral")); len(procs) > 0 {
		t.Fatalf("processes left after delete: %v", procs)
	}
	if err := p.Delete(ctx, "ephemeral"); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Fatalf("second delete: err = %v, want ErrNotFound", err)
	}
}

// TestDeleteKeepsForeignHostObjects: deleting a virtual cluster whose host
// namespace also holds an object Nest did not make deletes the cluster's
// own objects and leaves the namespace and that object alone.
func TestDeleteKeepsForeignHostObjects(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vc, err := p.Create(ctx, "cohabited", lifecycle.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := kube.Clientset(vc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	owned := metav1.ListOptions{LabelSelector: "nest.dev/virtual-cluster=cohabited"}
	testenv.Eventually(t, time.Minute, "2 pods on the host", func() (bool, error) {
		pods, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, owned)
		return err == nil && len(pods.Items) == 2, err
	})
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "monitoring-agent"}, Data: map[string]string{"owner": "platform team"}}
	if _, err := env.Client.CoreV1().ConfigMaps(vc.HostNamespace).Create(ctx, foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The cluster's pods go by label selector: neither a pod of the platform
	// team's nor one labelled as another virtual cluster's may go with it.
	foreignPods := []*corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "log-shipper"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "neighbour", Labels: map[string]string{"nest.dev/managed-by": "nest", "nest.dev/virtual-cluster": "cohabited-too"}}},
	}
	for _, pod := range foreignPods {
		pod.Spec.Containers = []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}
		if _, err := env.Client.CoreV1().Pods(vc.HostNamespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	if err := p.Delete(ctx, "cohabited"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.CoreV1().ConfigMaps(vc.HostNamespace).Get(ctx, foreign.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the foreign configmap after delete: %v", err)
	}
	for _, pod := range foreignPods {
		got, err := env.Client.CoreV1().Pods(vc.HostNamespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the foreign pod %s after delete: %v", pod.Name, err)
		}
		if got.DeletionTimestamp != nil {
			t.Errorf("the foreign pod %s is being deleted", pod.Name)
		}
	}
	for what, list := range map[string]func() (int, error){
		"pods": func() (int, error) {
			l, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, owned)
			return countLive(l.Items, err)
		},
		"service accounts": func() (int, error) {
			l, err := env.Client.CoreV1().ServiceAccounts(vc.HostNamespace).List(ctx, owned)
			return len(l.Items), err
		},
		"roles": func() (int, error) {
			l, err := env.Client.RbacV1().Roles(vc.HostNamespace).List(ctx, owned)
			return len(l.Items), err
		},
		"secrets": func() (int, error) {
			l, err := env.Client.CoreV1().Secrets(vc.HostNamespace).List(ctx, owned)
			return len(l.Items), err
		},
	} {
		n, err := list()
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d of the cluster's %s left in its host namespace", n, what)
		}
	}
	if err := env.Client.CoreV1().Namespaces().Delete(ctx, vc.HostNamespace, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteWithPods: a virtual cluster with pods on its host goes
// entirely, its host namespace included, also when an earlier delete
// stopped after deleting the namespace (a crash: the next delete carries
// on). The test logs how long the delete took: about the host namespace
// controller's fixed 5 s grace when that controller finds the namespace
// empty on its first pass, 5 s more when it had to come back for pods
// still terminating.
func TestDeleteWithPods(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// crashAfterNamespaceDelete stops the control plane and deletes the
		// host namespace before Delete, as a delete that died there would
		// have left it.
		crashAfterNamespaceDelete bool
	}{
		{name: "fresh"},
		{name: "resumed", crashAfterNamespaceDelete: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testenv.Get(t)
			p, err := env.Provider()
			if err != nil {
				t.Fatal(err)
			}
			name := "podded-" + tc.name
			vc, client := env.VirtualCluster(t, name, lifecycle.CreateOptions{})
			ctx := context.Background()
			const replicas = 20
			if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", replicas), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			owned := metav1.ListOptions{LabelSelector: "nest.dev/virtual-cluster=" + name}
			testenv.Eventually(t, 2*time.Minute, "the pods on the host", func() (bool, error) {
				pods, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, owned)
				return err == nil && len(pods.Items) == replicas, err
			})
			if tc.crashAfterNamespaceDelete {
				if err := p.Stop(ctx, name); err != nil {
					t.Fatal(err)
				}
				if err := env.Client.CoreV1().Namespaces().Delete(ctx, vc.HostNamespace, metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			}

			start := time.Now()
			if err := p.Delete(ctx, name); err != nil {
				t.Fatal(err)
			}
			t.Logf("delete of a cluster with %d pods on its host took %s", replicas, time.Since(start).Round(time.Millisecond))
			if _, err := env.Client.CoreV1().Namespaces().Get(ctx, vc.HostNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("host namespace after delete: err = %v, want NotFound", err)
			}
			if _, err := os.Stat(env.Home.ClusterDir(name)); !os.IsNotExist(err) {
				t.Fatalf("state dir after delete: %v", err)
			}
		})
	}
}

// countLive counts pods that are not being deleted.
func countLive(pods []corev1.Pod, err error) (int, error) {
	n := 0
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			n++
		}
	}
	return n, err
}

// TestCorruptDatastoreIsRefused: a stopped cluster whose SQLite file was
// damaged does not start, says which file is wrong, and comes back intact
// once the file is restored.
func TestCorruptDatastoreIsRefused(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	vc, client := env.VirtualCluster(t, "damaged", lifecycle.CreateOptions{})
	ctx := context.Background()
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "precious"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(ctx, vc.Name); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(env.Home.ClusterDir(vc.Name), "data", "state.db")
	// The database is the main file plus its write-ahead log: keep all of
	// it, then damage the main file and lose the log.
	saved := map[string][]byte{}
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		if data, err := os.ReadFile(f); err == nil {
			saved[f] = data
		}
		_ = os.Remove(f)
	}
	if err := os.WriteFile(db, []byte(strings.Repeat("garbage!", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = p.Start(ctx, vc.Name, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "not a healthy SQLite database") || !strings.Contains(err.Error(), db) {
		t.Fatalf("start on a corrupt datastore: err = %v, want one naming %s", err, db)
	}
	for f, data := range saved {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	client = start(t, p, vc.Name)
	if _, err := client.CoreV1().ConfigMaps("default").Get(ctx, "precious", metav1.GetOptions{}); err != nil {
		t.Fatalf("object lost after restoring the datastore: %v", err)
	}
}

// start starts a stopped virtual cluster and returns a client of it.
func start(t *testing.T, p *lifecycle.Provider, name string) kubernetes.Interface {
	t.Helper()
	vc, err := p.Start(context.Background(), name, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kube.Clientset(vc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return client
}
