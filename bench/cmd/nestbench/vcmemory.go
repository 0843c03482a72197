package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nestcluster/nest/bench/procfs"
	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// memoryTarget is the goal for memory added per virtual cluster.
const memoryTarget = 160 << 20

// vcMemory measures what each running virtual cluster costs the machine
// (target ≤ 160 MiB): the drop of MemAvailable across creating N = 20
// clusters and letting them settle, divided by N. RSS double-counts the
// binary text that all processes of the one nest binary share, so the sum of
// PSS and of anonymous memory of the N control-plane processes, divided by
// N, is reported too, with the mean RSS.
func vcMemory(ctx context.Context, r *runner) report.Section {
	n, settle := 20, 30*time.Second
	if r.quick {
		n, settle = 3, 10*time.Second
	}
	sec := report.Section{
		Title: "vc-memory: memory per running virtual cluster",
		About: fmt.Sprintf("Target: ≤ %s added per virtual cluster, measured as total memory growth divided by N with N = 20 running; "+
			"RSS double-counts the binary text that processes of one binary share, so PSS and anonymous memory are reported too. "+
			"Here: MemAvailable (`/proc/meminfo`) is read, N = %d virtual clusters are created one after the other on the local host, "+
			"the run waits %s for them to settle, and MemAvailable is read again. "+
			"Then `/proc/PID/smaps_rollup` of each control-plane process gives its RSS, PSS and anonymous memory. "+
			"Per-cluster rows summarize the N processes; their mean is the sum divided by N, and the ratio column is that mean over the target.",
			report.MiB(memoryTarget), n, settle),
	}
	env, p, err := r.hostAndProvider(ctx)
	if err != nil {
		sec.Err = err
		return sec
	}
	_, hostBefore, err := hostMemory(env.Host.Dir())
	if err != nil {
		sec.Err = err
		return sec
	}
	before, err := procfs.ReadMemInfo()
	if err != nil {
		sec.Err = err
		return sec
	}
	var created []string
	defer func() { deleteClusters(p, created) }()
	pids := map[string]int{}
	for i := range n {
		name := fmt.Sprintf("bench-mem-%02d", i)
		start := time.Now()
		c, err := p.Create(ctx, name, lifecycle.CreateOptions{})
		created = append(created, name)
		if err != nil {
			sec.Err = fmt.Errorf("create %s: %w", name, err)
			return sec
		}
		if c.PID == 0 {
			sec.Err = fmt.Errorf("virtual cluster %s has no running process", name)
			return sec
		}
		pids[name] = c.PID
		logf("vc-memory: created %d/%d (%s)", i+1, n, fmtD(time.Since(start)))
	}
	logf("vc-memory: %d running; settling for %s", n, settle)
	if err := sleepCtx(ctx, settle); err != nil {
		sec.Err = err
		return sec
	}
	after, err := procfs.ReadMemInfo()
	if err != nil {
		sec.Err = err
		return sec
	}
	_, hostAfter, err := hostMemory(env.Host.Dir())
	if err != nil {
		sec.Err = err
		return sec
	}
	var rss, pss, anon []float64
	for _, name := range created {
		m, err := procfs.ReadTreeMem(pids[name])
		if err != nil {
			sec.Err = fmt.Errorf("memory of %s (pid %d): %w", name, pids[name], err)
			return sec
		}
		rss, pss, anon = append(rss, float64(m.RSS)), append(pss, float64(m.PSS)), append(anon, float64(m.Anon))
	}

	target := "target " + report.MiB(memoryTarget)
	drop := float64(before.Available-after.Available) / float64(n)
	hostGrowth := float64(hostAfter.PSS-hostBefore.PSS) / float64(n)
	rssS, pssS, anonS := stats.Summarize(rss), stats.Summarize(pss), stats.Summarize(anon)
	sec.Tables = append(sec.Tables, report.Table{
		Header: report.StatsHeader(false),
		Rows: [][]string{
			report.StatsRow(fmt.Sprintf("MemAvailable drop ÷ N (N = %d)", n), stats.Summarize([]float64{drop}), report.MiB, false, target, report.Ratio(drop/memoryTarget)),
			report.StatsRow("PSS per control plane (sum ÷ N = mean)", pssS, report.MiB, false, target+" (mean)", report.Ratio(pssS.Mean/memoryTarget)),
			report.StatsRow("anonymous per control plane (sum ÷ N = mean)", anonS, report.MiB, false, target+" (mean)", report.Ratio(anonS.Mean/memoryTarget)),
			report.StatsRow("RSS per control plane (counts shared text in full)", rssS, report.MiB, false, target+" (mean)", report.Ratio(rssS.Mean/memoryTarget)),
			report.StatsRow("host processes' PSS growth ÷ N", stats.Summarize([]float64{hostGrowth}), report.MiB, false, "–", "–"),
		},
	})
	verdict := "met"
	if drop > memoryTarget {
		verdict = "**missed**"
	}
	sec.Notes = append(sec.Notes,
		fmt.Sprintf("MemAvailable was %s before and %s after (%d clusters, %s settle): target ≤ %s per cluster by total growth is %s. "+
			"MemAvailable is machine-wide, so anything else running moves it; PSS and anonymous memory are per process and do not depend on other load. "+
			"The host's processes also share the nest binary's text, which lowers every PSS figure.",
			report.MiB(float64(before.Available)), report.MiB(float64(after.Available)), n, settle, report.MiB(memoryTarget), verdict))
	return sec
}

// deleteClusters deletes virtual clusters, four at a time, with a fresh
// context so that it also runs after an interrupt.
func deleteClusters(p *lifecycle.Provider, names []string) {
	if len(names) == 0 {
		return
	}
	logf("deleting %d virtual clusters", len(names))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := p.Delete(ctx, name); err != nil && !errors.Is(err, lifecycle.ErrNotFound) {
				logf("delete %s: %v", name, err)
			}
		}()
	}
	wg.Wait()
}
