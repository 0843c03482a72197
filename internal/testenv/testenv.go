// Package testenv gives Kubernetes tests a real local host cluster: one per
// test binary, started in a temporary NEST_HOME by TestMain and stopped after
// the tests, or an already running one named by NEST_TEST_HOME (handy while
// iterating: `NEST_TEST_HOME=~/.nest go test ./test/e2e`). Tests never use
// fake clients for Kubernetes.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/pkg/controlplane"
	nestexec "github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/localhost"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// Env is the running local host shared by a test binary.
type Env struct {
	Home       *nesthome.Home
	Host       *localhost.Host
	Kubeconfig string
	Client     kubernetes.Interface
	// NestBinary is the nest executable the host and virtual clusters run.
	NestBinary string
}

var shared *Env

// RepoRoot returns the repository root (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// NestBinary returns $NEST_BINARY or bin/nest of the repository; `make
// test` builds it before running the tests.
func NestBinary() (string, error) {
	p := os.Getenv(nestexec.NestBinaryEnvVar)
	if p == "" {
		p = filepath.Join(RepoRoot(), "bin", "nest")
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("nest binary %s not found: run `make build` first (or set NEST_BINARY): %w", p, err)
	}
	return filepath.Abs(p)
}

// KubectlBinary returns bin/kubectl of the repository, built by `make build`
// from the pinned k8s.io/kubernetes.
func KubectlBinary(t testing.TB) string {
	t.Helper()
	p := filepath.Join(RepoRoot(), "bin", "kubectl")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("kubectl not found at %s: run `make build`", p)
	}
	return p
}

// Main starts the shared local host, runs the tests and stops the host.
// Call it from TestMain: os.Exit(testenv.Main(m)).
func Main(m *testing.M) int {
	env, stop, err := start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	shared = env
	code := m.Run()
	stop()
	return code
}

// Get returns the shared local host; the test binary's TestMain must call Main.
func Get(t testing.TB) *Env {
	t.Helper()
	if shared == nil {
		t.Fatal("testenv: TestMain must call testenv.Main")
	}
	return shared
}

func start() (*Env, func(), error) {
	bin, err := NestBinary()
	if err != nil {
		return nil, nil, err
	}
	dir := os.Getenv("NEST_TEST_HOME")
	reuse := dir != ""
	if !reuse {
		sweepAbandonedHomes(bin)
		if dir, err = os.MkdirTemp("", testHomePrefix); err != nil {
			return nil, nil, err
		}
		if _, err := nesthome.Open(dir); err != nil { // marks it a Nest home first
			return nil, nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			return nil, nil, err
		}
	}
	// Keep tests away from the user's kubeconfig: connect and delete edit
	// the default one.
	if err := os.Setenv("KUBECONFIG", filepath.Join(dir, "user.kubeconfig")); err != nil {
		return nil, nil, err
	}
	// CLI calls made in-process (app.Run) use the same home, and start
	// bin/nest, never copies of the test binary.
	if err := os.Setenv(nesthome.EnvVar, dir); err != nil {
		return nil, nil, err
	}
	if err := os.Setenv(nestexec.NestBinaryEnvVar, bin); err != nil {
		return nil, nil, err
	}
	env, err := StartHost(dir, bin, 3)
	if err != nil {
		if !reuse {
			// Stop whatever part of the host did start, and its files.
			if home, herr := nesthome.Open(dir); herr == nil {
				if h, herr := localhost.New(home, localhost.WithNestBinary(bin)); herr == nil {
					_, _ = h.Down(context.Background(), false)
				}
			}
			if os.Getenv("NEST_TEST_KEEP") == "" {
				_ = os.RemoveAll(dir)
			}
		}
		return nil, nil, err
	}
	stop := func() {
		if reuse {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		StopVirtualClusters(ctx, env)
		if _, err := env.Host.Down(ctx, false); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop local host:", err)
		}
		if os.Getenv("NEST_TEST_KEEP") == "" {
			_ = os.RemoveAll(dir)
		}
	}
	return env, stop, nil
}

const (
	testHomePrefix = "nest-test-home-"
	// ownerFile holds the pid of the test binary that made a test home.
	ownerFile = "test-owner.pid"
)

// sweepAbandonedHomes stops the hosts and virtual clusters of test homes
// whose test binary died without cleaning up (killed by `go test -timeout`,
// say), so that their processes do not load the machine for later runs.
func sweepAbandonedHomes(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), testHomePrefix+"*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours to judge (an older layout, or being made)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || nestexec.Alive(pid, "") {
			continue
		}
		home, err := nesthome.Open(dir)
		if err != nil {
			continue
		}
		env := &Env{Home: home, NestBinary: bin}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		StopVirtualClusters(ctx, env)
		if h, err := localhost.New(home, localhost.WithNestBinary(bin)); err == nil {
			_, _ = h.Down(ctx, true)
		}
		cancel()
		_ = os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "testenv: cleaned up the abandoned test home", dir)
	}
}

// StartHost brings up a local host with nodes simulated nodes in the Nest
// home at dir, using the nest binary bin. Its kwok simulates exec (runs
// the commands here), so that tests can exec into pods.
func StartHost(dir, bin string, nodes int) (*Env, error) {
	home, err := nesthome.Open(dir)
	if err != nil {
		return nil, err
	}
	h, err := localhost.New(home, localhost.WithNestBinary(bin), localhost.WithLogger(nestlog.New(os.Stderr, -1)))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := h.Up(ctx, localhost.Options{Nodes: nodes, SimulateExec: true, SimulatePortForward: true}); err != nil {
		// Up leaves what it started running (a later Up carries on);
		// a test host that failed must not outlive the test.
		_, _ = h.Down(context.Background(), false)
		return nil, fmt.Errorf("start local host in %s: %w", dir, err)
	}
	client, err := kube.Clientset(h.KubeconfigPath())
	if err != nil {
		return nil, err
	}
	return &Env{Home: home, Host: h, Kubeconfig: h.KubeconfigPath(), Client: client, NestBinary: bin}, nil
}

// StopVirtualClusters stops every virtual cluster process of env's home, so
// that no process outlives the tests.
func StopVirtualClusters(ctx context.Context, env *Env) {
	p, err := env.Provider()
	if err != nil {
		return
	}
	clusters, _ := p.List(ctx)
	for _, c := range clusters {
		_ = p.Stop(ctx, c.Name)
	}
}

// Provider returns a lifecycle provider on env's home.
func (e *Env) Provider(opts ...lifecycle.Option) (*lifecycle.Provider, error) {
	return lifecycle.NewProvider(e.Home, append([]lifecycle.Option{lifecycle.WithNestBinary(e.NestBinary)}, opts...)...)
}

// VirtualCluster creates a virtual cluster for one test and deletes it when
// the test ends. It returns the cluster and an admin client of it.
func (e *Env) VirtualCluster(t testing.TB, name string, opts lifecycle.CreateOptions) (*lifecycle.Cluster, kubernetes.Interface) {
	t.Helper()
	p, err := e.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	vc, err := p.Create(ctx, name, opts)
	if err != nil {
		t.Fatalf("create virtual cluster %s: %v", name, err)
	}
	client, err := kube.Clientset(vc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			e.dumpVirtualCluster(ctx, t, vc, client)
		}
		if err := p.Delete(ctx, name); err != nil && !errors.Is(err, lifecycle.ErrNotFound) {
			t.Errorf("delete virtual cluster %s: %v", name, err)
		}
	})
	return vc, client
}

// dumpVirtualCluster logs what a failed test needs to be understood on a
// machine nobody can log in to (CI): the pods on both sides and the end of
// the control plane's log.
func (e *Env) dumpVirtualCluster(ctx context.Context, t testing.TB, vc *lifecycle.Cluster, client kubernetes.Interface) {
	t.Helper()
	podLines := func(c kubernetes.Interface, ns, selector string) string {
		l, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err.Error()
		}
		var b strings.Builder
		for _, p := range l.Items {
			fmt.Fprintf(&b, "\n  %s/%s node=%q phase=%s", p.Namespace, p.Name, p.Spec.NodeName, p.Status.Phase)
		}
		return fmt.Sprintf("%d pods%s", len(l.Items), b.String())
	}
	t.Logf("virtual cluster %s: virtual pods: %s", vc.Name, podLines(client, "", ""))
	t.Logf("virtual cluster %s: host pods in %s: %s", vc.Name, vc.HostNamespace, podLines(e.Client, vc.HostNamespace, ""))
	if rs, err := client.AppsV1().ReplicaSets("").List(ctx, metav1.ListOptions{}); err == nil {
		for _, r := range rs.Items {
			t.Logf("virtual cluster %s: replicaset %s/%s: %d replicas, %d ready, %d available", vc.Name, r.Namespace, r.Name, r.Status.Replicas, r.Status.ReadyReplicas, r.Status.AvailableReplicas)
		}
	}
	if evs, err := client.CoreV1().Events("").List(ctx, metav1.ListOptions{}); err == nil {
		for i, ev := range evs.Items {
			if i >= 40 {
				break
			}
			t.Logf("virtual cluster %s: event %s %s/%s %s: %s", vc.Name, ev.Type, ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Reason, ev.Message)
		}
	}
	t.Logf("virtual cluster %s: %s", vc.Name, nestexec.TailLog(controlplane.Layout{Dir: e.Home.ClusterDir(vc.Name)}.LogPath(), 80))
}

// Eventually polls cond until it returns true or timeout passes. There are
// no wall-clock limits on performance in tests: timeouts only bound waits
// for things that must happen.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}
