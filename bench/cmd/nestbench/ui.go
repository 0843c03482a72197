package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/ui/uitest"
)

// uiBench measures the web UI's fleet dashboard with 1,000 virtual
// clusters in the store, in headless Chromium (Debian's chromium, driven
// by chromedp through pkg/hub/ui/uitest, as the UI's tests are).
func uiBench(ctx context.Context, r *runner) report.Section {
	const vcs = 1000
	loads := 10
	if r.quick {
		loads = 3
	}
	sec := report.Section{
		Title: "ui: the fleet dashboard with 1,000 virtual clusters",
		About: fmt.Sprintf("Issue 8: the dashboard must stay fast at 1,000 virtual clusters. A hub without its reconciler (SQLite) is seeded through its store "+
			"with %d virtual-cluster records (uitest.Seed: varied phases, quotas and used resources, two hosts, one group, one profile); headless Chromium "+
			"loads the dashboard afresh (a new URL, signed in with the admin's key) %d times after one cold load. Read in the page: "+
			"*first render* is from navigation start to the first page of 50 rows drawn (the page's own performance mark, after it read the whole fleet, "+
			"1,000 per request, and the names of projects, groups and hosts); *interactive* is the first new task the main thread runs after that; "+
			"*search keystroke* is one keystroke's filter and redraw; *driver wall* is the whole load as chromedp saw it. Chromium, the hub and this "+
			"program share the machine's cores.", vcs, loads),
	}
	if _, err := uitest.Chromium(); err != nil {
		sec.Err = err
		return sec
	}
	dir := filepath.Join(r.root, "ui-hub")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		sec.Err = err
		return sec
	}
	h, err := startBenchHub(ctx, dir, "", false, r.nestBin)
	if err != nil {
		sec.Err = err
		return sec
	}
	defer h.stop()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "hub.db"))
	if err != nil {
		sec.Err = fmt.Errorf("open the hub's store: %w", err)
		return sec
	}
	_, err = uitest.Seed(ctx, s, vcs)
	s.Close()
	if err != nil {
		sec.Err = fmt.Errorf("seed %d virtual clusters: %w", vcs, err)
		return sec
	}
	bctx, stop, err := uitest.Browser(ctx, filepath.Join(r.root, "ui-chromium"))
	if err != nil {
		sec.Err = err
		return sec
	}
	defer stop()

	var first, interactive, filter, wall []float64
	var cold uitest.DashboardTiming
	for i := range loads + 1 {
		t, err := uitest.MeasureDashboard(bctx, h.url, h.key)
		if err != nil {
			sec.Err = fmt.Errorf("load %d: %w", i+1, err)
			return sec
		}
		if t.Rows != vcs {
			sec.Err = fmt.Errorf("load %d: the dashboard counted %d virtual clusters, want %d", i+1, t.Rows, vcs)
			return sec
		}
		logf("ui: load %d: first render %s, interactive %s, search keystroke %s", i+1, t.FirstRender, t.Interactive, t.Filter)
		if i == 0 {
			cold = t
			continue
		}
		first = append(first, t.FirstRender.Seconds())
		interactive = append(interactive, t.Interactive.Seconds())
		filter = append(filter, t.Filter.Seconds())
		wall = append(wall, t.Wall.Seconds())
	}
	table := report.Table{Header: []string{"Figure (1,000 virtual clusters)", "cold", "mean", "p50", "p90", "max", "n"}}
	for _, f := range []struct {
		name    string
		samples []float64
		cold    float64
	}{
		{"first render", first, cold.FirstRender.Seconds()},
		{"interactive", interactive, cold.Interactive.Seconds()},
		{"search keystroke", filter, cold.Filter.Seconds()},
		{"driver wall", wall, cold.Wall.Seconds()},
	} {
		st := stats.Summarize(f.samples)
		table.Rows = append(table.Rows, []string{f.name, report.Seconds(f.cold), report.Seconds(st.Mean), report.Seconds(st.P50),
			report.Seconds(st.P90), report.Seconds(st.Max), fmt.Sprint(st.N)})
	}
	sec.Tables = append(sec.Tables, table)
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		sec.Notes = append(sec.Notes, fmt.Sprintf("Load average after the loads (1, 5, 15 min): %s on %d CPUs.",
			strings.Join(strings.Fields(string(load))[:3], ", "), runtime.NumCPU()))
	}
	sec.Notes = append(sec.Notes, "The dashboard reads the whole fleet and filters, counts and pages it in the browser, drawing 50 rows at a time; "+
		"it then follows the hub's server-sent events (GET /api/v1/events/stream) and polls every 5 s only while that stream is down.")
	return sec
}
