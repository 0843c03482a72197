// Command nestbench runs Nest's benchmarks and writes docs/benchmarks.md;
// `make bench` runs it through hack/bench.sh.
//
// It starts its own local hosts in a temporary NEST_HOME (the user's ~/.nest
// and kubeconfig are never touched), measures, and tears everything down
// again (virtual clusters, hosts, temporary directories), also when a
// benchmark fails or the run is interrupted. Progress goes to stderr.
//
// Each benchmark lives in its own file: hoststartup.go, vccreate.go,
// vcmemory.go, apilatency.go, sync.go, day2.go, hub.go, operator.go and
// terraform.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// benchmark is one section of the report.
type benchmark struct {
	name string
	run  func(ctx context.Context, r *runner) report.Section
}

// benchmarks in the order they run. host-startup runs first, while no other
// host of this run exists; the others share one local host.
var benchmarks = []benchmark{
	{"host-startup", hostStartup},
	{"vc-create", vcCreate},
	{"vc-memory", vcMemory},
	{"api-latency", apiLatency},
	{"sync", syncBench},
	{"day2", day2},
	{"hub", hubBench},
	{"operator", operatorBench},
	{"ui", uiBench},
	{"terraform", terraformBench},
}

func main() { os.Exit(run()) }

func run() int {
	quick := flag.Bool("quick", false, "smoke run with small sample sizes (numbers are not meaningful)")
	out := flag.String("out", "docs/benchmarks.md", "where to write the report")
	only := flag.String("only", "", "comma-separated benchmarks to run (default all): "+strings.Join(benchmarkNames(), ","))
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "nestbench: unexpected arguments %q\n", flag.Args())
		return 2
	}
	selected, err := selectBenchmarks(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nestbench:", err)
		return 2
	}
	nestBin, err := testenv.NestBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, "nestbench:", err)
		return 1
	}

	// The first SIGINT/SIGTERM cancels the benchmarks; cleanup then runs to
	// the end whatever arrives, so no process or directory is left behind.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for range sigs {
			if ctx.Err() == nil {
				logf("interrupted: stopping the benchmarks and cleaning up (this takes a few seconds)")
				cancel()
			} else {
				logf("still cleaning up; please wait")
			}
		}
	}()

	root, err := os.MkdirTemp("", "nestbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "nestbench:", err)
		return 1
	}
	r := &runner{quick: *quick, root: root, nestBin: nestBin, cleanup: &cleanups{}}
	// Registered first, so it runs last: after every process is stopped.
	r.cleanup.Add("remove "+root, func(context.Context) error { return os.RemoveAll(root) })
	defer r.cleanup.RunAll()

	// Everything Nest does in this process (and in the processes it starts)
	// uses the temporary home and kubeconfig.
	for k, v := range map[string]string{
		nesthome.EnvVar: filepath.Join(root, "home"),
		"KUBECONFIG":    filepath.Join(root, "user.kubeconfig"),
	} {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintln(os.Stderr, "nestbench:", err)
			return 1
		}
	}

	rep := &report.Report{Title: "Nest benchmarks", Intro: intro(*quick), Header: machineHeader(nestBin, *quick)}
	logf("running %s in %s (nest binary %s)", strings.Join(names(selected), ", "), root, nestBin)
	failed := false
	for _, b := range selected {
		start := time.Now()
		logf("=== %s", b.name)
		sec := b.run(ctx, r)
		if ctx.Err() != nil {
			break
		}
		if sec.Err != nil {
			failed = true
			logf("=== %s FAILED after %s: %v", b.name, time.Since(start).Round(time.Second), sec.Err)
		} else {
			logf("=== %s done in %s", b.name, time.Since(start).Round(time.Second))
		}
		rep.Sections = append(rep.Sections, sec)
	}
	if ctx.Err() != nil {
		logf("interrupted: %s left unchanged", *out)
		return 130
	}
	logf("tearing down")
	r.cleanup.RunAll()
	if err := writeReport(rep, *out); err != nil {
		fmt.Fprintln(os.Stderr, "nestbench:", err)
		return 1
	}
	logf("wrote %s", *out)
	if failed {
		return 1
	}
	return 0
}

func intro(quick bool) string {
	s := "Written by `make bench` (`hack/bench.sh`, program `bench/cmd/nestbench`); do not edit by hand. " +
		"Percentiles are nearest-rank (always a measured sample); n is the number of samples. " +
		"\"compared to\" names the floor, peer or target of a figure, and \"ratio\" is the figure's p50 divided by it unless a section says otherwise. " +
		"Every run starts its own local hosts in a temporary NEST_HOME and removes them afterwards."
	if quick {
		s += "\n\n> **This is a `--quick` smoke run:** sample sizes are far too small for conclusions. Run `make bench` on a quiet machine for real numbers."
	}
	return s
}

// writeReport writes the report atomically, creating the directory.
func writeReport(rep *report.Report, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := rep.Render(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func benchmarkNames() []string { return names(benchmarks) }

func names(bs []benchmark) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.name
	}
	return out
}

// selectBenchmarks returns the benchmarks --only names, in run order.
func selectBenchmarks(only string) ([]benchmark, error) {
	if strings.TrimSpace(only) == "" {
		return benchmarks, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !slices.Contains(benchmarkNames(), n) {
			return nil, fmt.Errorf("--only: unknown benchmark %q (known: %s)", n, strings.Join(benchmarkNames(), ", "))
		}
		want[n] = true
	}
	var out []benchmark
	for _, b := range benchmarks {
		if want[b.name] {
			out = append(out, b)
		}
	}
	return out, nil
}

// logf prints progress to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s nestbench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
