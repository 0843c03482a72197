package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/ports"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// kwokPortForwards is KWOK's PortForward resource, served by the tests'
// local host (nest host up --simulate-port-forward).
var kwokPortForwards = schema.GroupVersionResource{Group: "kwok.x-k8s.io", Version: "v1alpha1", Resource: "portforwards"}

// TestPodRuntimePortForward: a pod-runtime cluster reached from outside
// the host only through a port-forward of the host's apiserver. The pod
// runner publishes the pod's own URLs (the Service's in-cluster names,
// which do not resolve here), and a KWOK PortForward object sends the
// pod's ports 6443 and 6444 to the runner's apiserver and admin endpoint,
// as a kubelet would send them into the pod. Then `nest port-forward`
// serves a kubeconfig through which kubectl lists namespaces and a client
// makes config maps, and the lifecycle's snapshot and certificates reach
// the admin endpoint through a port-forward of their own (the published
// URL being unreachable: with admin access "direct" they fail).
func TestPodRuntimePortForward(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const name = "podpf"
	ns, full := createPodCluster(t, p, name)
	state := filepath.Join(t.TempDir(), "volume")
	runChartPodWith(t, env, ns, full+"-0", state, runnerOptions{keepPublishedURLs: true})
	port, adminPort := runnerPorts(t, state)

	// What a kubelet does for the real pod: its ports lead into it.
	cfg, err := kube.RESTConfig(env.Kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pf := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward",
		"metadata": map[string]any{"name": full + "-0", "namespace": ns},
		"spec": map[string]any{"forwards": []any{
			map[string]any{"ports": []any{int64(6443)}, "target": map[string]any{"address": "127.0.0.1", "port": int64(port)}},
			map[string]any{"ports": []any{int64(6444)}, "target": map[string]any{"address": "127.0.0.1", "port": int64(adminPort)}},
		}},
	}}
	if _, err := dyn.Resource(kwokPortForwards).Namespace(ns).Create(ctx, pf, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the cluster's delete: it is not Nest's
		_ = dyn.Resource(kwokPortForwards).Namespace(ns).Delete(context.Background(), full+"-0", metav1.DeleteOptions{})
	})

	// The published URLs are the Service's, unreachable from here.
	var published string
	testenv.Eventually(t, 3*time.Minute, "the published kubeconfig", func() (bool, error) {
		kc, err := p.Kubeconfig(ctx, name)
		if err != nil {
			return false, err
		}
		published = kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster].Server
		return true, nil
	})
	if want := "https://" + full + "." + ns + ".svc:443"; published != want {
		t.Fatalf("published server %s, want %s", published, want)
	}
	s, err := env.Client.CoreV1().Secrets(ns).Get(ctx, full+"-kubeconfig", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	adminURL := string(s.Data[controlplane.AdminURLSecretKey])
	for _, u := range []string{published, adminURL} {
		if dialable(u) {
			t.Fatalf("%s is reachable from here: the test would not prove the port-forward", u)
		}
	}

	// nest port-forward: a kubeconfig through the host's apiserver.
	kubeconfigPath := filepath.Join(t.TempDir(), "pf.kubeconfig")
	cmd := exec.Command(env.NestBinary, "port-forward", name, "--write-kubeconfig", kubeconfigPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	lines := bufio.NewScanner(stdout)
	var out strings.Builder
	for lines.Scan() {
		out.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "get namespaces") {
			break
		}
	}
	go func() {
		for lines.Scan() {
		}
	}()
	t.Logf("nest port-forward:\n%s", out.String())
	fwd, err := clientcmd.LoadFromFile(kubeconfigPath)
	if err != nil {
		t.Fatalf("%v; stderr: %s", err, stderr.String())
	}
	fwdServer := fwd.Clusters[fwd.Contexts[fwd.CurrentContext].Cluster].Server
	if u, err := url.Parse(fwdServer); err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("forwarded server %s, want https://127.0.0.1:PORT", fwdServer)
	}
	var nsList string
	testenv.Eventually(t, 3*time.Minute, "kubectl get ns through the port-forward", func() (bool, error) {
		o, err := exec.Command(testenv.KubectlBinary(t), "--kubeconfig", kubeconfigPath, "get", "ns", "-o", "name").CombinedOutput()
		nsList = string(o)
		if err != nil {
			return false, fmt.Errorf("%w: %s", err, o)
		}
		return strings.Contains(nsList, "namespace/kube-system"), nil
	})
	t.Logf("kubectl get ns through %s:\n%s", fwdServer, nsList)
	client := kubeClient(t, kubeconfigPath)
	testenv.Eventually(t, 2*time.Minute, "the default service account", func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "data"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const configMaps = 3
	for i := range configMaps {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}}
		if _, err := client.CoreV1().ConfigMaps("data").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// The admin endpoint: unreachable directly, reached by a port-forward.
	direct, err := env.Provider(lifecycle.WithAdminAccess(lifecycle.AdminAccessDirect))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Certificates(ctx, name); err == nil {
		t.Error("certificates with direct admin access succeeded, want the published URL unreachable")
	}
	start := time.Now()
	certs, err := p.Certificates(ctx, name)
	if err != nil || len(certs) == 0 {
		t.Fatalf("certificates through the port-forward: %d, %v", len(certs), err)
	}
	certsTook := time.Since(start)
	snap := filepath.Join(t.TempDir(), "podpf.snapshot")
	start = time.Now()
	h, err := p.Snapshot(ctx, name, snap)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("through a port-forward of their own (the published URL tried first): certificates in %s, snapshot in %s", certsTook.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	r, err := snapshot.Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	kvs, err := r.ReadAll()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	inSnap := 0
	for _, kv := range kvs {
		if strings.HasPrefix(string(kv.Key), "/configmaps/data/cm-") {
			inSnap++
		}
	}
	if h.Cluster != name || inSnap != configMaps {
		t.Errorf("snapshot through the port-forward: cluster %q, %d of the %d configmaps", h.Cluster, inSnap, configMaps)
	}
	t.Logf("snapshot through the port-forward: %d keys, %d bytes", h.Keys, fileSize(t, snap))

	// A forward that breaks (here KWOK's target is closed for a while, as
	// when the pod goes) is followed by a new one on the same local port.
	setTarget := func(apiserverPort int) {
		t.Helper()
		cur, err := dyn.Resource(kwokPortForwards).Namespace(ns).Get(ctx, full+"-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		forwards, _, _ := unstructured.NestedSlice(cur.Object, "spec", "forwards")
		_ = unstructured.SetNestedField(forwards[0].(map[string]any), int64(apiserverPort), "target", "port")
		_ = unstructured.SetNestedSlice(cur.Object, forwards, "spec", "forwards")
		if _, err := dyn.Resource(kwokPortForwards).Namespace(ns).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	closedPort, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	setTarget(closedPort)
	testenv.Eventually(t, 2*time.Minute, "kubectl to fail while the pod's port is closed", func() (bool, error) {
		return exec.Command(testenv.KubectlBinary(t), "--kubeconfig", kubeconfigPath, "get", "ns", "--request-timeout=20s").Run() != nil, nil
	})
	setTarget(port)
	testenv.Eventually(t, 2*time.Minute, "kubectl through the followed port-forward", func() (bool, error) {
		o, err := exec.Command(testenv.KubectlBinary(t), "--kubeconfig", kubeconfigPath, "get", "configmaps", "-n", "data", "-o", "name").CombinedOutput()
		if err != nil {
			return false, fmt.Errorf("%w: %s", err, o)
		}
		return strings.Count(string(o), "configmap/cm-") == configMaps, nil
	})

	// The command stops cleanly on an interrupt.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("nest port-forward after SIGINT: %v; stderr: %s", err, stderr.String())
		}
	case <-time.After(time.Minute): // a deadlock guard
		t.Errorf("nest port-forward did not stop on SIGINT")
	}
	if !strings.Contains(stderr.String(), "following the next ready pod") {
		t.Errorf("nest port-forward did not report the lost forward; stderr:\n%s", stderr.String())
	}
}

// dialable tells whether a TCP connection to rawURL's host opens.
func dialable(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}
