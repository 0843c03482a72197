package main

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nestcluster/nest/bench/procfs"
	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/localhost"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// hostNodes is the number of simulated nodes of every host the benchmarks
// start: the default of `nest host up`.
const hostNodes = localhost.DefaultNodes

// runner is what the benchmarks share.
type runner struct {
	quick   bool
	root    string // temporary directory holding everything of this run
	nestBin string
	cleanup *cleanups

	shared *testenv.Env // the local host shared by vc-* and api-latency
}

// sharedHost returns the local host that the virtual cluster benchmarks
// share, starting it in $NEST_HOME (under root) on first use.
func (r *runner) sharedHost(ctx context.Context) (*testenv.Env, error) {
	if r.shared != nil {
		return r.shared, nil
	}
	logf("starting the shared local host")
	env, _, err := r.startHost(ctx, os.Getenv(nesthome.EnvVar), localhost.DatastoreKine, hostNodes)
	if err != nil {
		return nil, err
	}
	r.shared = env
	return env, nil
}

// provider returns a lifecycle provider on env that logs warnings only.
func (r *runner) provider(env *testenv.Env) (*lifecycle.Provider, error) {
	return env.Provider(lifecycle.WithLogger(quietLogger()))
}

// hostAndProvider returns the shared host and a provider on it.
func (r *runner) hostAndProvider(ctx context.Context) (*testenv.Env, *lifecycle.Provider, error) {
	env, err := r.sharedHost(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, err := r.provider(env)
	return env, p, err
}

func quietLogger() *slog.Logger { return nestlog.New(os.Stderr, -1) }

// startHost brings up a local host with the given datastore and number of
// nodes in a fresh Nest home at dir. Its teardown (stop its virtual clusters, stop the host, remove
// dir) is registered before it starts, so a failed or interrupted start is
// cleaned up too; stop runs it now.
func (r *runner) startHost(ctx context.Context, dir, datastore string, nodes int) (env *testenv.Env, stop func(), err error) {
	home, err := nesthome.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	h, err := localhost.New(home, localhost.WithNestBinary(r.nestBin), localhost.WithLogger(quietLogger()))
	if err != nil {
		return nil, nil, err
	}
	stop = r.cleanup.Add("local host in "+dir, func(ctx context.Context) error {
		testenv.StopVirtualClusters(ctx, &testenv.Env{Home: home, NestBinary: r.nestBin})
		if _, err := h.Down(ctx, false); err != nil {
			return err
		}
		return os.RemoveAll(dir)
	})
	if datastore == localhost.DatastoreKine {
		// The default options, exactly as the tests start their host.
		env, err = testenv.StartHost(dir, r.nestBin, nodes)
	} else {
		env, err = startHostWith(ctx, home, h, r.nestBin, localhost.Options{Nodes: nodes, Datastore: datastore})
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return env, stop, nil
}

// startHostWith is testenv.StartHost with options (testenv uses the defaults).
func startHostWith(ctx context.Context, home *nesthome.Home, h *localhost.Host, bin string, opts localhost.Options) (*testenv.Env, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if _, err := h.Up(ctx, opts); err != nil {
		return nil, fmt.Errorf("start local host in %s: %w", h.Dir(), err)
	}
	client, err := kube.Clientset(h.KubeconfigPath())
	if err != nil {
		return nil, err
	}
	return &testenv.Env{Home: home, Host: h, Kubeconfig: h.KubeconfigPath(), Client: client, NestBinary: bin}, nil
}

// cleanups is a stack of teardown steps, run last-in first-out.
type cleanups struct {
	mu    sync.Mutex
	items []*cleanupItem
}

type cleanupItem struct {
	name string
	fn   func(context.Context) error
	done bool
}

// Add registers fn and returns a function that runs it now (once) and
// removes it from the stack.
func (c *cleanups) Add(name string, fn func(context.Context) error) (runNow func()) {
	it := &cleanupItem{name: name, fn: fn}
	c.mu.Lock()
	c.items = append(c.items, it)
	c.mu.Unlock()
	return func() { c.runItem(it) }
}

// RunAll runs every pending step, newest first.
func (c *cleanups) RunAll() {
	for {
		c.mu.Lock()
		var it *cleanupItem
		for i := len(c.items) - 1; i >= 0; i-- {
			if !c.items[i].done {
				it = c.items[i]
				break
			}
		}
		c.mu.Unlock()
		if it == nil {
			return
		}
		c.runItem(it)
	}
}

func (c *cleanups) runItem(it *cleanupItem) {
	c.mu.Lock()
	if it.done {
		c.mu.Unlock()
		return
	}
	it.done = true
	c.mu.Unlock()
	// A fresh context: cleanup must run even after an interrupt.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := it.fn(ctx); err != nil {
		logf("cleanup: %s: %v", it.name, err)
	}
}

// machineHeader describes the machine and the build.
func machineHeader(nestBin string, quick bool) []report.KV {
	cpu, _ := procfs.ReadCPU()
	mem, _ := procfs.ReadMemInfo()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	goVersion := runtime.Version()
	if bi, err := buildinfo.ReadFile(nestBin); err == nil {
		goVersion = bi.GoVersion + " (bin/nest)"
	}
	mode := "full"
	if quick {
		mode = "quick (`--quick`)"
	}
	return []report.KV{
		{Key: "Machine", Value: fmt.Sprintf("%s, %d cores (logical CPUs), %.1f GiB memory, Linux %s",
			orUnknown(cpu.Model), max(cpu.Threads, runtime.NumCPU()), float64(mem.Total)/(1<<30), strings.TrimSpace(string(kernel)))},
		{Key: "Load average at start", Value: procfs.LoadAvg() + " (1, 5, 15 min)"},
		{Key: "Date", Value: time.Now().UTC().Format("2006-01-02 15:04 UTC")},
		{Key: "Commit", Value: gitCommit()},
		{Key: "Go", Value: goVersion},
		{Key: "Kubernetes", Value: config.SupportedKubernetesVersion},
		{Key: "Mode", Value: mode},
	}
}

// gitCommit is the short HEAD, with "-dirty" when the tree has changes.
func gitCommit() string {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = filepath.Clean(testenv.RepoRoot())
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	commit, err := git("rev-parse", "--short", "HEAD")
	if err != nil {
		return "unknown"
	}
	if status, err := git("status", "--porcelain"); err == nil && status != "" {
		commit += "-dirty"
	}
	return commit
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
