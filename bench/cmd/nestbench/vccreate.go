package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/bench/cplog"
	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/ports"
)

// createTarget is the p50 goal of create → kubectl-ready.
const createTarget = 1500 * time.Millisecond

// floorConfig is a nest.yaml that runs no controllers: the control plane is
// then just kine+SQLite and kube-apiserver in one process.
const floorConfig = `apiVersion: nest.dev/v1alpha1
kind: VirtualClusterConfig
controlPlane:
  controllers:
    enabled: []
`

// startPhases splits one control plane start, from t0 (the caller's start)
// to t1 (ready), with the phase lines of its controlplane.log.
type startPhases struct {
	total time.Duration
	// pre is t0 until controlplane.Run started: for a create, the host
	// namespace, certificates and records, and the process's exec and Go
	// initialization.
	pre time.Duration
	// datastore is Run's start until kine+SQLite serves.
	datastore time.Duration
	// apiserver is the datastore serving until the apiserver's /readyz is ok.
	apiserver time.Duration
	// rest is the apiserver ready until t1: for a create, until the default
	// service account exists.
	rest time.Duration
	// controllers is when the controllers started, since Run began.
	controllers time.Duration
}

func phasesFrom(t0, t1 time.Time, log []byte) (startPhases, error) {
	p := startPhases{total: t1.Sub(t0)}
	pl, err := cplog.Parse(string(log))
	if err != nil {
		return p, err
	}
	p.pre = pl.Datastore.RunStart().Sub(t0)
	p.datastore = pl.Datastore.Elapsed
	p.apiserver = pl.APIServer.Elapsed - pl.Datastore.Elapsed
	p.rest = t1.Sub(pl.APIServer.At)
	return p, nil
}

// vcCreate measures create → kubectl-ready (target p50 ≤ 1.5 s), the time
// `nest create` makes a user wait: at least 10 virtual clusters are created
// one after the other on one local host, each timed around Provider.Create
// (which returns once the apiserver is ready and the default service account
// exists) and deleted afterwards (not timed). The control plane's log tells
// where the time goes. The floor, measured interleaved in the same run, is a
// bare `nest controlplane` with no controllers: kine+SQLite and
// kube-apiserver from process start until /readyz answers ok.
func vcCreate(ctx context.Context, r *runner) report.Section {
	n := 10
	if r.quick {
		n = 3
	}
	sec := report.Section{
		Title: "vc-create: create → kubectl-ready",
		About: fmt.Sprintf("Target: create → kubectl-ready p50 ≤ %s, reported as p50/p90 over ≥ 10 creates, plus where the time goes. "+
			"%d virtual clusters are created one after the other on one local host, each timed around `lifecycle.Provider.Create` "+
			"(it returns when every virtual apiserver /readyz check passes but the two bootstrap hooks that first poll after a fixed 1 s, and the default service account exists: see docs/controlplane.md) and deleted afterwards, untimed. "+
			"The phases come from the `Datastore is serving` and `Virtual apiserver is ready` lines of each `controlplane.log`. "+
			"The floor, run interleaved with the creates, is `nest controlplane` started directly with `controllers.enabled: []` (kine+SQLite and kube-apiserver only), "+
			"timed from process start until /readyz answers ok through the kubeconfig it writes. "+
			"A create makes the certificates before starting the process (phase 1); the floor makes them inside Run (its datastore phase).",
			report.Seconds(createTarget.Seconds()), n),
	}
	env, p, err := r.hostAndProvider(ctx)
	if err != nil {
		sec.Err = err
		return sec
	}
	cfgPath := filepath.Join(r.root, "floor-nest.yaml")
	if err := os.WriteFile(cfgPath, []byte(floorConfig), 0o600); err != nil {
		sec.Err = err
		return sec
	}
	var creates, floors []startPhases
	for i := range n {
		c, err := oneCreate(ctx, env.Home.ClusterDir, p, fmt.Sprintf("bench-create-%02d", i))
		if err != nil {
			sec.Err = fmt.Errorf("create %d: %w", i+1, err)
			break
		}
		creates = append(creates, c)
		f, err := oneFloor(ctx, r, cfgPath, i)
		if err != nil {
			sec.Err = fmt.Errorf("floor %d: %w", i+1, err)
			break
		}
		floors = append(floors, f)
		logf("vc-create %d/%d: create %s (datastore %s, apiserver %s, until default SA %s); floor %s",
			i+1, n, fmtD(c.total), fmtD(c.datastore), fmtD(c.apiserver), fmtD(c.rest), fmtD(f.total))
	}

	sum := func(ps []startPhases, f func(startPhases) time.Duration) stats.Summary {
		var v []float64
		for _, p := range ps {
			v = append(v, f(p).Seconds())
		}
		return stats.Summarize(v)
	}
	total := func(p startPhases) time.Duration { return p.total }
	createS, floorS := sum(creates, total), sum(floors, total)
	sec.Tables = append(sec.Tables, report.Table{
		Header: report.StatsHeader(false),
		Rows: [][]string{
			report.StatsRow("create → kubectl-ready", createS, report.Seconds, false, "floor p50 "+report.P50(floorS, report.Seconds), report.Ratio(stats.Ratio(createS.P50, floorS.P50))),
			report.StatsRow("floor: bare control plane (no controllers), start → /readyz ok (same checks as a create)", floorS, report.Seconds, false, "–", "–"),
			report.StatsRow("controllers started, since controlplane.Run began (in the background, after create returned)", sum(creates, func(p startPhases) time.Duration { return p.controllers }), report.Seconds, false, "–", "–"),
		},
	})
	phaseTable := func(caption string, ps []startPhases, total stats.Summary, labels [4]string) report.Table {
		t := report.Table{Caption: caption, Header: report.StatsHeader(false)}
		fs := []func(startPhases) time.Duration{
			func(p startPhases) time.Duration { return p.pre },
			func(p startPhases) time.Duration { return p.datastore },
			func(p startPhases) time.Duration { return p.apiserver },
			func(p startPhases) time.Duration { return p.rest },
		}
		for i, f := range fs {
			s := sum(ps, f)
			t.Rows = append(t.Rows, report.StatsRow(fmt.Sprintf("%d. %s", i+1, labels[i]), s, report.Seconds, false,
				"share of p50 "+report.P50(total, report.Seconds), report.Percent(stats.Ratio(s.P50, total.P50))))
		}
		return t
	}
	sec.Tables = append(sec.Tables,
		phaseTable("Where the time goes in a create (each phase's own percentiles, so the p50s need not add up exactly):", creates, createS, [4]string{
			"host namespace, certificates, process start until controlplane.Run",
			"Run until kine+SQLite serves",
			"datastore serving until the apiserver's /readyz is ok",
			"apiserver serving until the default service account exists",
		}),
		phaseTable("Where the time goes in the floor:", floors, floorS, [4]string{
			"process start until controlplane.Run",
			"Run until kine+SQLite serves (includes making the certificates)",
			"datastore serving until the apiserver's /readyz is ok",
			"apiserver ready until the benchmark's own /readyz poll saw it (both poll every 20 ms, so it can be < 0)",
		}),
	)
	if createS.N > 0 {
		verdict := "met"
		if createS.P50 > createTarget.Seconds() {
			verdict = "**missed**"
		}
		sec.Notes = append(sec.Notes, fmt.Sprintf("Target p50 ≤ %s: %s (p50 %s, p90 %s over %d creates; the floor alone is %s).",
			report.Seconds(createTarget.Seconds()), verdict, report.Seconds(createS.P50), report.Seconds(createS.P90), createS.N, report.P50(floorS, report.Seconds)))
	}
	return sec
}

func fmtD(d time.Duration) string { return report.Seconds(d.Seconds()) }

// oneCreate times one Provider.Create, reads its phases, and deletes the
// virtual cluster (untimed).
func oneCreate(ctx context.Context, clusterDir func(string) string, p *lifecycle.Provider, name string) (startPhases, error) {
	t0 := time.Now()
	_, err := p.Create(ctx, name, lifecycle.CreateOptions{})
	t1 := time.Now()
	defer func() {
		// A fresh context, so that an interrupted create is removed too.
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if derr := p.Delete(dctx, name); derr != nil && !errors.Is(derr, lifecycle.ErrNotFound) {
			logf("vc-create: delete %s: %v", name, derr)
		}
	}()
	if err != nil {
		return startPhases{}, err
	}
	logPath := controlplane.Layout{Dir: clusterDir(name)}.LogPath()
	log, err := os.ReadFile(logPath)
	if err != nil {
		return startPhases{}, err
	}
	ph, err := phasesFrom(t0, t1, log)
	if err != nil {
		return ph, err
	}
	// The controllers start in the background once the apiserver is fully
	// ready (after its 1 s bootstrap hooks): wait for that line, untimed.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		log, err := os.ReadFile(logPath)
		if err != nil {
			return ph, err
		}
		if ev, ok := cplog.Find(string(log), cplog.MsgControllersStarting); ok {
			ph.controllers = ev.Elapsed
			break
		}
	}
	return ph, nil
}

// oneFloor starts a bare `nest controlplane` (no controllers, no host) in a
// fresh directory and times it from process start until /readyz is ok.
func oneFloor(ctx context.Context, r *runner, cfgPath string, i int) (startPhases, error) {
	dir := filepath.Join(r.root, fmt.Sprintf("floor-%02d", i))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return startPhases{}, err
	}
	port, err := ports.Free()
	if err != nil {
		return startPhases{}, err
	}
	layout := controlplane.Layout{Dir: dir}
	cmd := exec.Command{
		Path: r.nestBin,
		Args: []string{"controlplane",
			"--name=floor-" + strconv.Itoa(i),
			"--dir=" + dir,
			"--port=" + strconv.Itoa(port),
			"--config=" + cfgPath,
		},
		LogPath: layout.LogPath(),
	}
	logFile, err := os.OpenFile(layout.LogPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return startPhases{}, err
	}
	defer logFile.Close()
	// Started here rather than through pkg/exec so that an early exit comes
	// with its status. Its own session, like every Nest process, so that
	// Terminate stops the whole group.
	c := osexec.Command(cmd.Path, cmd.Args...)
	c.Stdout, c.Stderr = logFile, logFile
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	t0 := time.Now()
	if err := c.Start(); err != nil {
		return startPhases{}, err
	}
	pid := c.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	stop := r.cleanup.Add("floor control plane in "+dir, func(context.Context) error {
		if err := exec.Terminate(pid, dir, 20*time.Second); err != nil && !errors.Is(err, exec.ErrNotRunning) {
			return err
		}
		return os.RemoveAll(dir)
	})
	defer stop()
	if err := waitReadyz(ctx, layout, exited); err != nil {
		return startPhases{}, err
	}
	t1 := time.Now()
	// The process polls its own /readyz too and may log that it is ready a
	// moment after this poll saw it: give the line time to appear.
	var ph startPhases
	for deadline := time.Now().Add(10 * time.Second); ; {
		log, err := os.ReadFile(layout.LogPath())
		if err != nil {
			return startPhases{}, err
		}
		if ph, err = phasesFrom(t0, t1, log); err == nil || time.Now().After(deadline) {
			return ph, err
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return ph, err
		}
	}
}

// waitReadyz polls /readyz every 20 ms (as Provider.Create does) through the
// admin kubeconfig the control plane writes, failing fast if it exits.
func waitReadyz(ctx context.Context, layout controlplane.Layout, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var client kubernetes.Interface
	lastErr := errors.New("no kubeconfig yet")
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("control plane exited (%v)\n%s", err, exec.TailLog(layout.LogPath(), 15))
		default:
		}
		if client == nil {
			if _, err := os.Stat(layout.AdminKubeconfig()); err == nil {
				if client, err = kube.Clientset(layout.AdminKubeconfig()); err != nil {
					lastErr, client = err, nil
				}
			}
		}
		if client != nil {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			// The readiness a create waits for (see controlplane.SlowBootstrapChecks).
			err := kube.Readyz(pctx, client, controlplane.SlowBootstrapChecks...)
			pcancel()
			if err == nil {
				return nil
			}
			lastErr = err
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("not ready: %w (last: %v)", err, lastErr)
		}
	}
}
