package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// testHub is a hub served in the test process, over its data directory.
type testHub struct {
	t       *testing.T
	dataDir string
	url     string
	key     string
	client  *http.Client
	stop    func()
	logs    *lockedWriter
}

// startHub serves a hub on dataDir (a second call on the same directory is
// a restart) with short reconcile intervals.
func startHub(t *testing.T, dataDir, key string) *testHub {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	logs := &lockedWriter{w: &bytes.Buffer{}}
	cfg := server.Config{DataDir: dataDir, Addr: "127.0.0.1:0", BootstrapKey: key, Logger: nestlog.New(logs, 1),
		Ready:      func(addr string) { ready <- addr },
		Reconciler: reconciler.Config{Resync: 2 * time.Second, HealthInterval: 2 * time.Second}}
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("hub did not start: %v", err)
	}
	pem, err := os.ReadFile(filepath.Join(dataDir, "tls", "hub.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	h := &testHub{t: t, dataDir: dataDir, url: "https://" + addr, key: key, logs: logs,
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub stopped with %v", err)
		}
	}
	t.Cleanup(h.stop)
	return h
}

// do sends a request and decodes the answer into out (when not nil);
// it returns the status.
func (h *testHub) do(method, path string, body, out any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, h.url+"/api/v1"+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		h.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

func (h *testHub) must(want int, method, path string, body, out any) {
	h.t.Helper()
	if got := h.do(method, path, body, out); got != want {
		h.t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// updateVC PUTs fields to a virtual cluster with its current
// resourceVersion, reading it again after a 409, as any client does: the
// reconciler writes the object's status at any time.
func (h *testHub) updateVC(path string, fields map[string]any, out *store.VirtualCluster) {
	h.t.Helper()
	for attempt := 1; ; attempt++ {
		var cur store.VirtualCluster
		h.must(200, "GET", path, nil, &cur)
		fields["resourceVersion"] = cur.ResourceVersion
		code := h.do("PUT", path, fields, out)
		if code == http.StatusOK {
			return
		}
		if code != http.StatusConflict || attempt == 10 {
			h.t.Fatalf("PUT %s: status %d, want 200 (attempt %d)", path, code, attempt)
		}
	}
}

// waitVC polls a virtual cluster until cond holds, and returns it.
func (h *testHub) waitVC(path string, what string, cond func(*store.VirtualCluster, int) bool) *store.VirtualCluster {
	h.t.Helper()
	var last store.VirtualCluster
	for {
		var vc store.VirtualCluster
		code := h.do("GET", path, nil, &vc)
		if cond(&vc, code) {
			return &vc
		}
		if vc.Status.Phase != last.Status.Phase || vc.Status.Message != last.Status.Message {
			h.t.Logf("waiting for %s: %d %s %s", what, code, vc.Status.Phase, vc.Status.Message)
			last = vc
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lockedWriter is a log buffer the hub's goroutines share.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.String()
}

// hubSetup registers the local host, a group on it, a tenant and project.
func hubSetup(t *testing.T, h *testHub, env *testenv.Env, quota map[string]any) (groupID, vcs string) {
	t.Helper()
	kc, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	var host store.HostCluster
	h.must(201, "POST", "/hostclusters", map[string]any{"name": "local", "kubeconfig": string(kc)}, &host)
	for host.Status.Phase != store.HostReady {
		time.Sleep(100 * time.Millisecond)
		h.must(200, "GET", "/hostclusters/"+host.ID, nil, &host)
	}
	if host.Status.Nodes == 0 || host.Status.Capacity.CPU == "" || host.Status.KubernetesVersion == "" {
		t.Fatalf("host status %+v", host.Status)
	}
	var g, tn, p struct{ ID string }
	h.must(201, "POST", "/clustergroups", map[string]any{"name": "local", "hostClusterIds": []string{host.ID}, "quota": quota}, &g)
	h.must(201, "POST", "/tenants", map[string]any{"name": "acme"}, &tn)
	h.must(201, "POST", "/tenants/"+tn.ID+"/projects", map[string]any{"name": "web"}, &p)
	return g.ID, "/tenants/" + tn.ID + "/projects/" + p.ID + "/virtualclusters"
}

func readyVC(vc *store.VirtualCluster, code int) bool {
	return code == 200 && vc.Status.Phase == store.VCReady && vc.Status.ObservedGeneration == vc.Generation
}

// TestHubVirtualClusterLifecycle drives one virtual cluster through the
// hub's API on the local host: register the host, make a group, create,
// connect with the downloaded kubeconfig, pause, resume and resize,
// delete; the host namespace holds the quota and goes with the cluster,
// and the audit log records the download.
func TestHubVirtualClusterLifecycle(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	h := startHub(t, t.TempDir(), auth.NewKey())
	group, vcs := hubSetup(t, h, env, map[string]any{"cpu": "2", "memory": "4Gi", "storage": "10Gi", "pods": "20"})

	var vc store.VirtualCluster
	h.must(201, "POST", vcs, map[string]any{"name": "dev", "clusterGroupId": group}, &vc)
	path := vcs + "/" + vc.ID
	got := h.waitVC(path, "Ready", readyVC)
	if got.Status.HostNamespace == "" || got.Status.Endpoint == "" || got.Status.KubernetesVersion == "" {
		t.Fatalf("ready status %+v", got.Status)
	}
	for _, c := range got.Status.Conditions {
		if c.Type == reconciler.CondReady && c.Status != "True" {
			t.Fatalf("Ready condition %+v", c)
		}
	}

	// Connect with the downloaded kubeconfig.
	var kc api.VirtualClusterKubeconfig
	h.must(200, "GET", path+"/kubeconfig", nil, &kc)
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc.Kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	vcClient, err := kubernetes.NewForConfig(kube.Tune(cfg))
	if err != nil {
		t.Fatal(err)
	}
	nss, err := vcClient.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list namespaces in the virtual cluster: %v", err)
	}
	if len(nss.Items) == 0 {
		t.Fatal("the virtual cluster has no namespaces")
	}

	// The quota is on the host namespace.
	ns := got.Status.HostNamespace
	rq, err := env.Client.CoreV1().ResourceQuotas(ns).Get(ctx, reconciler.QuotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q := rq.Spec.Hard["pods"]; q.String() != "20" {
		t.Fatalf("host quota %v", rq.Spec.Hard)
	}
	if q := rq.Spec.Hard["requests.cpu"]; q.String() != "2" {
		t.Fatalf("host quota %v", rq.Spec.Hard)
	}

	// Pause: the control plane stops.
	home, err := nesthome.Open(filepath.Join(h.dataDir, "nest"))
	if err != nil {
		t.Fatal(err)
	}
	provider, err := lifecycle.NewProvider(home, lifecycle.WithNestBinary(env.NestBinary))
	if err != nil {
		t.Fatal(err)
	}
	name := reconciler.LifecycleName(got)
	h.updateVC(path, map[string]any{"paused": true}, &vc)
	got = h.waitVC(path, "Paused", func(vc *store.VirtualCluster, code int) bool {
		return vc.Status.Phase == store.VCPaused && vc.Status.ObservedGeneration == vc.Generation
	})
	if c, err := provider.Get(ctx, name); err != nil || c.State != lifecycle.StatePaused {
		t.Fatalf("paused cluster: %+v, %v", c, err)
	}

	// Resume with a smaller quota: running again, quota updated.
	h.updateVC(path, map[string]any{"paused": false, "quota": map[string]any{"pods": "10"}}, &vc)
	got = h.waitVC(path, "Ready again", readyVC)
	if c, err := provider.Get(ctx, name); err != nil || c.State != lifecycle.StateRunning {
		t.Fatalf("resumed cluster: %+v, %v", c, err)
	}
	rq, err = env.Client.CoreV1().ResourceQuotas(ns).Get(ctx, reconciler.QuotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q := rq.Spec.Hard["pods"]; q.String() != "10" {
		t.Fatalf("resized host quota %v", rq.Spec.Hard)
	}
	if _, err := vcClient.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("the resumed cluster does not answer: %v", err)
	}

	// Delete: Deleting, then gone with its host namespace.
	h.must(202, "DELETE", path, nil, &vc)
	h.waitVC(path, "gone", func(_ *store.VirtualCluster, code int) bool { return code == 404 })
	if _, err := env.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("host namespace %s after delete: %v", ns, err)
	}
	if _, err := provider.Get(ctx, name); err == nil {
		t.Fatal("the lifecycle still has the cluster")
	}

	var events store.Page[store.AuditEvent]
	h.must(200, "GET", "/audit?action=virtualcluster.kubeconfig", nil, &events)
	if len(events.Items) != 1 || events.Items[0].ResourceID != vc.ID || strings.Contains(string(events.Items[0].After), "certificate-authority-data") {
		t.Fatalf("audit of the kubeconfig download: %+v", events.Items)
	}
	h.stop()
	if strings.Contains(h.logs.String(), "BEGIN CERTIFICATE") || strings.Contains(h.logs.String(), "client-key-data") {
		t.Fatal("the hub's log holds credentials")
	}
}

// TestHubRestartMidCreate stops the hub while a virtual cluster is being
// created and starts it again: the work resumes and ends with exactly one
// Ready cluster.
func TestHubRestartMidCreate(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	dataDir, key := t.TempDir(), auth.NewKey()
	h := startHub(t, dataDir, key)
	group, vcs := hubSetup(t, h, env, map[string]any{"cpu": "1", "pods": "10"})
	var vc store.VirtualCluster
	h.must(201, "POST", vcs, map[string]any{"name": "restart", "clusterGroupId": group}, &vc)
	path := vcs + "/" + vc.ID
	h.waitVC(path, "Provisioning", func(vc *store.VirtualCluster, code int) bool {
		return vc.Status.Phase == store.VCProvisioning || vc.Status.Phase == store.VCReady
	})
	h.stop()

	h = startHub(t, dataDir, key)
	got := h.waitVC(path, "Ready after the restart", readyVC)
	h.mustHaveOneRunningCluster(ctx, env, vcs, dataDir, got)
	h.must(202, "DELETE", path, nil, nil)
	h.waitVC(path, "gone", func(_ *store.VirtualCluster, code int) bool { return code == 404 })

}

// mustHaveOneRunningCluster: after a hub restart, the hub lists exactly one
// virtual cluster under vcs, and the lifecycle of its data directory runs
// exactly one cluster, under the name the hub gives vc.
func (h *testHub) mustHaveOneRunningCluster(ctx context.Context, env *testenv.Env, vcs, dataDir string, vc *store.VirtualCluster) {
	h.t.Helper()
	var page store.Page[store.VirtualCluster]
	h.must(200, "GET", vcs, nil, &page)
	if len(page.Items) != 1 {
		h.t.Fatalf("%d virtual clusters after the restart", len(page.Items))
	}
	home, err := nesthome.Open(filepath.Join(dataDir, "nest"))
	if err != nil {
		h.t.Fatal(err)
	}
	provider, err := lifecycle.NewProvider(home, lifecycle.WithNestBinary(env.NestBinary))
	if err != nil {
		h.t.Fatal(err)
	}
	clusters, err := provider.List(ctx)
	if err != nil || len(clusters) != 1 || clusters[0].State != lifecycle.StateRunning || clusters[0].Name != reconciler.LifecycleName(vc) {
		h.t.Fatalf("lifecycle clusters after the restart: %+v, %v; want one running, %s", clusters, err, reconciler.LifecycleName(vc))
	}
}
