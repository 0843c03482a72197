package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nestcluster/nest/bench/procfs"
	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/localhost"
)

// startupPods is the size of the Deployment host-startup waits for.
const startupPods = 100

// hostComponentOrder is the start order of the local host's processes
// (their pid files in <host dir>/run); others found there sort last.
var hostComponentOrder = []string{"datastore", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "nest-metrics"}

// startupRun is one measurement of a fresh local host.
type startupRun struct {
	up, first, all time.Duration // from t0, just before `nest host up`
	mem            map[string]procfs.ProcMem
	total          procfs.ProcMem
}

// hostStartup measures a user's first wait: the time from `nest host up` on
// a fresh NEST_HOME to the first pod Running and to 100 pods Running (a
// Deployment created as soon as the host is up; KWOK runs the pods), and the
// memory of the host's processes right then. It does so for the default
// datastore (kine+SQLite) and for `--datastore etcd`, alternating runs, so
// that the table is the evidence for the host's default.
func hostStartup(ctx context.Context, r *runner) report.Section {
	sec := report.Section{
		Title: "host-startup: `nest host up` to pods Running",
		About: fmt.Sprintf("Target: the time from `nest host up` to the first pod Running and to %d pods Running, and the RSS of the host processes. "+
			"Each run starts a local host (%d simulated nodes) in a fresh NEST_HOME; t0 is taken just before the start. "+
			"As soon as it is up, a Deployment of %d replicas is created in `default` and a pod informer records when pods turn Running. "+
			"Then RSS, PSS and anonymous memory (from `/proc/PID/smaps_rollup`) of every host process (`<host>/run/*.pid`) are read. "+
			"Runs alternate between embedded etcd and kine+SQLite (`--datastore`); each row is compared to the same figure of the other datastore.",
			startupPods, hostNodes, startupPods),
	}
	runs := 3
	if r.quick {
		runs = 1
	}
	datastores := []string{localhost.DatastoreKine, localhost.DatastoreEtcd}
	results := map[string][]startupRun{}
	for i := range runs {
		for _, ds := range datastores {
			logf("host-startup: %s, run %d/%d", ds, i+1, runs)
			res, err := oneHostStartup(ctx, r, ds, i)
			if err != nil {
				sec.Err = fmt.Errorf("%s run %d: %w", ds, i+1, err)
				break
			}
			logf("host-startup: %s: host up %s, first pod Running %s, %d Running %s, host PSS %s",
				ds, report.Seconds(res.up.Seconds()), report.Seconds(res.first.Seconds()), startupPods,
				report.Seconds(res.all.Seconds()), report.MiB(float64(res.total.PSS)))
			results[ds] = append(results[ds], res)
		}
		if sec.Err != nil {
			break
		}
	}

	type figure struct {
		name   string
		format report.Format
		value  func(startupRun) float64
	}
	figures := []figure{
		{"`nest host up` returned (components healthy, nodes Ready)", report.Seconds, func(s startupRun) float64 { return s.up.Seconds() }},
		{"first pod Running", report.Seconds, func(s startupRun) float64 { return s.first.Seconds() }},
		{fmt.Sprintf("%d pods Running", startupPods), report.Seconds, func(s startupRun) float64 { return s.all.Seconds() }},
		{fmt.Sprintf("%d pods Running, counted from `host up` returning", startupPods), report.Seconds, func(s startupRun) float64 { return (s.all - s.up).Seconds() }},
		{"host processes: RSS (sum)", report.MiB, func(s startupRun) float64 { return float64(s.total.RSS) }},
		{"host processes: PSS (sum)", report.MiB, func(s startupRun) float64 { return float64(s.total.PSS) }},
		{"host processes: anonymous (sum)", report.MiB, func(s startupRun) float64 { return float64(s.total.Anon) }},
	}
	summary := func(ds string, f figure) stats.Summary {
		var v []float64
		for _, res := range results[ds] {
			v = append(v, f.value(res))
		}
		return stats.Summarize(v)
	}
	timeTable := report.Table{Caption: "Times are from t0, just before `nest host up`, unless said otherwise; memory is read once 100 pods run.", Header: report.StatsHeader(false)}
	for _, f := range figures {
		kine, etcd := summary(localhost.DatastoreKine, f), summary(localhost.DatastoreEtcd, f)
		timeTable.Rows = append(timeTable.Rows,
			report.StatsRow(datastoreLabel(localhost.DatastoreKine)+": "+f.name, kine, f.format, false, "etcd p50 "+report.P50(etcd, f.format), report.Ratio(stats.Ratio(kine.P50, etcd.P50))),
			report.StatsRow(datastoreLabel(localhost.DatastoreEtcd)+": "+f.name, etcd, f.format, false, "kine p50 "+report.P50(kine, f.format), report.Ratio(stats.Ratio(etcd.P50, kine.P50))),
		)
	}
	sec.Tables = append(sec.Tables, timeTable, componentTable(results, datastores))
	var lines []string
	for _, i := range []int{0, 1, 2, 5} {
		f := figures[i]
		kine, etcd := summary(localhost.DatastoreKine, f), summary(localhost.DatastoreEtcd, f)
		lines = append(lines, fmt.Sprintf("%s: etcd %s, kine %s", f.name, report.P50(etcd, f.format), report.P50(kine, f.format)))
	}
	sec.Notes = append(sec.Notes, defaultDatastoreNote(lines))
	return sec
}

// componentTable shows each host process's memory, the mean over runs.
func componentTable(results map[string][]startupRun, datastores []string) report.Table {
	t := report.Table{Caption: "Memory per host process once 100 pods run (mean over runs). The datastore is kine or embedded etcd; all but kwok are processes of the one nest binary, whose text they share (PSS splits it among them)."}
	t.Header = []string{"Process"}
	for _, ds := range datastores {
		t.Header = append(t.Header, ds+" RSS", ds+" PSS", ds+" anonymous")
	}
	var names []string
	for _, runs := range results {
		for _, run := range runs {
			for n := range run.mem {
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
	}
	slices.SortFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	for _, n := range append(names, "total") {
		row := []string{n}
		for _, ds := range datastores {
			var rss, pss, anon []float64
			for _, run := range results[ds] {
				m, ok := run.mem[n]
				if n == "total" {
					m, ok = run.total, true
				}
				if ok {
					rss, pss, anon = append(rss, float64(m.RSS)), append(pss, float64(m.PSS)), append(anon, float64(m.Anon))
				}
			}
			row = append(row, meanText(rss), meanText(pss), meanText(anon))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func meanText(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	return report.MiB(stats.Summarize(v).Mean)
}

func rank(component string) int {
	if i := slices.Index(hostComponentOrder, component); i >= 0 {
		return i
	}
	return len(hostComponentOrder)
}

// datastoreLabel names a datastore in the tables, marking the default.
func datastoreLabel(ds string) string {
	if ds == localhost.DefaultDatastore {
		return ds + " (default)"
	}
	return ds
}

// defaultDatastoreNote states the host's default datastore next to this
// run's p50 figures for both, so the reader can check the choice.
func defaultDatastoreNote(lines []string) string {
	return fmt.Sprintf("**Default: %s.** The local host stands in for a real cluster, and real clusters run etcd; "+
		"kine+SQLite (`--datastore kine`) keeps the host in one file and is what virtual clusters use. "+
		"Read the rows above for how they compare in this run; p50s: %s.",
		localhost.DefaultDatastore, strings.Join(lines, "; "))
}

// oneHostStartup runs one start of a fresh local host and tears it down.
func oneHostStartup(ctx context.Context, r *runner, datastore string, i int) (startupRun, error) {
	dir := filepath.Join(r.root, fmt.Sprintf("startup-%s-%d", datastore, i))
	t0 := time.Now()
	env, stop, err := r.startHost(ctx, dir, datastore, hostNodes)
	if err != nil {
		return startupRun{}, err
	}
	defer stop()
	res := startupRun{up: time.Since(t0)}
	run, err := deploymentsRunning(ctx, env.Client, "default", 1, startupPods)
	if err != nil {
		return res, err
	}
	res.first, res.all = run.first.Sub(t0), run.all.Sub(t0)
	res.mem, res.total, err = hostMemory(env.Host.Dir())
	return res, err
}

// hostMemory reads the memory of every process of the local host in dir,
// named after its pid file in dir/run.
func hostMemory(dir string) (map[string]procfs.ProcMem, procfs.ProcMem, error) {
	files, err := filepath.Glob(filepath.Join(dir, "run", "*.pid"))
	if err != nil {
		return nil, procfs.ProcMem{}, err
	}
	mem := map[string]procfs.ProcMem{}
	var total procfs.ProcMem
	for _, f := range files {
		pid, err := exec.ReadPIDFile(f)
		if err != nil || pid == 0 {
			continue
		}
		m, err := procfs.ReadTreeMem(pid)
		if err != nil {
			return nil, total, fmt.Errorf("memory of %s (pid %d): %w", f, pid, err)
		}
		mem[strings.TrimSuffix(filepath.Base(f), ".pid")] = m
		total = total.Add(m)
	}
	if len(mem) == 0 {
		return nil, total, fmt.Errorf("no running host process found in %s", filepath.Join(dir, "run"))
	}
	return mem, total, nil
}
