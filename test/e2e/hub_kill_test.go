package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/nesthome"
	"github.com/nestcluster/nest/pkg/ports"
)

// serveHub runs `nest hub serve` (bin/nest) as its own process on dataDir
// and returns a testHub talking to it and the process; stop sends SIGTERM
// and waits.
func serveHub(t *testing.T, env *testenv.Env, dataDir, key string, port int) (*testHub, *exec.Cmd) {
	t.Helper()
	logs := &lockedWriter{w: &bytes.Buffer{}}
	cmd := exec.Command(env.NestBinary, "hub", "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", dataDir,
		"--resync-interval", "2s", "--health-interval", "2s")
	cmd.Env = append(os.Environ(), server.BootstrapKeyEnv+"="+key, nesthome.EnvVar+"="+filepath.Join(dataDir, "home"))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	h := &testHub{t: t, dataDir: dataDir, url: fmt.Sprintf("https://127.0.0.1:%d", port), key: key, logs: logs}
	h.stop = func() {
		select {
		case <-exited:
			return
		default:
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	}
	t.Cleanup(h.stop)
	// Ready once /healthz answers over its certificate (a deadlock guard
	// bounds the wait).
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatalf("nest hub serve did not come up:\n%s", logs.String())
		}
		select {
		case <-exited:
			t.Fatalf("nest hub serve exited:\n%s", logs.String())
		default:
		}
		if pem, err := os.ReadFile(filepath.Join(dataDir, "tls", "hub.crt")); err == nil {
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(pem)
			h.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
			if resp, err := h.client.Get(h.url + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return h, cmd
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHubKilledMidCreate kills `nest hub serve` with SIGKILL while its
// reconciler is creating a virtual cluster (at a random moment of the
// Provisioning phase: host namespace, state, control plane starting), then
// starts it again on the same data directory. The virtual cluster ends
// Ready exactly once: one record, one lifecycle cluster running, one host
// namespace and one control-plane process; and it is deleted cleanly.
// This proves that every step of a create is idempotent and resumed from
// what the store and the lifecycle recorded, with no graceful shutdown to
// tidy up.
func TestHubKilledMidCreate(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	ctx := context.Background()
	dataDir, key := t.TempDir(), auth.NewKey()
	port, err := ports.Free()
	if err != nil {
		t.Fatal(err)
	}
	h, cmd := serveHub(t, env, dataDir, key, port)
	group, vcs := hubSetup(t, h, env, map[string]any{"cpu": "1", "pods": "10"})
	var vc store.VirtualCluster
	h.must(201, "POST", vcs, map[string]any{"name": "killed", "clusterGroupId": group}, &vc)
	path := vcs + "/" + vc.ID
	h.waitVC(path, "Provisioning", func(vc *store.VirtualCluster, code int) bool {
		if vc.Status.Phase == store.VCReady {
			t.Fatal("Ready before the kill: the create was too quick to interrupt")
		}
		return vc.Status.Phase == store.VCProvisioning
	})
	delay := rand.N(1500 * time.Millisecond)
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.stop() // waits for the exit
	// Where the create was: read from the store the killed hub left.
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(dataDir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	at, err := s.VirtualClusters.Get(ctx, vc.ID)
	_ = s.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s into Provisioning: phase %s, %q", delay.Round(time.Millisecond), at.Status.Phase, at.Status.Message)
	if at.Status.Phase == store.VCReady {
		t.Fatal("the virtual cluster was Ready when the hub was killed: nothing was interrupted")
	}

	h, _ = serveHub(t, env, dataDir, key, port)
	deadline := time.Now().Add(5 * time.Minute)
	got := h.waitVC(path, "Ready after the restart", func(vc *store.VirtualCluster, code int) bool {
		if time.Now().After(deadline) {
			t.Fatalf("not Ready 5 minutes after the restart: %+v", vc.Status)
		}
		if vc.Status.Phase == store.VCFailed {
			t.Fatalf("Failed after the restart: %s", vc.Status.Message)
		}
		return readyVC(vc, code)
	})

	// One record, one running lifecycle cluster under the name the hub gives it.
	h.mustHaveOneRunningCluster(ctx, env, vcs, dataDir, got)
	// One host namespace: the one the status names.
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	host := kubernetes.NewForConfigOrDie(kube.Tune(cfg))
	sel := labels.SelectorFromSet(labels.Set{names.LabelVirtualCluster: names.LabelValue(reconciler.LifecycleName(got))}).String()
	nss, err := host.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil || len(nss.Items) != 1 || nss.Items[0].Name != got.Status.HostNamespace {
		t.Fatalf("host namespaces of the virtual cluster: %v (want only %s), %v", nss, got.Status.HostNamespace, err)
	}
	// One control-plane process for it.
	if n := controlPlaneProcesses(t, filepath.Join(dataDir, "nest")); n != 1 {
		t.Fatalf("%d control-plane processes under %s, want 1", n, dataDir)
	}

	h.must(202, "DELETE", path, nil, nil)
	h.waitVC(path, "gone", func(_ *store.VirtualCluster, code int) bool { return code == 404 })
	if n := controlPlaneProcesses(t, filepath.Join(dataDir, "nest")); n != 0 {
		t.Fatalf("%d control-plane processes left after the delete", n)
	}
	h.stop()
	if strings.Contains(h.logs.String(), key) {
		t.Fatal("the hub's output holds the bootstrap key")
	}
}

// controlPlaneProcesses counts the live `nest controlplane` processes
// whose command line names a path under home.
func controlPlaneProcesses(t *testing.T, home string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) > 1 && args[1] == "controlplane" && strings.Contains(string(cmdline), home) {
			if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil && strings.Contains(string(stat), ") Z ") {
				continue // a zombie
			}
			n++
		}
	}
	return n
}
