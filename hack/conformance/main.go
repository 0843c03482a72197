// Command conformance is the Go half of `make conformance`
// (hack/conformance.sh runs the suites): `focus` turns a checked-in list of
// tests into a --ginkgo.focus expression, `report` compares the host's and
// the virtual cluster's e2e reports, writes the result table and fails on a
// regression.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nestcluster/nest/test/conformance"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: conformance focus|report|slice [flags]")
	}
	switch args[0] {
	case "focus":
		return focus(args[1:], stdout)
	case "report":
		return report(args[1:], stdout)
	case "slice":
		return slice(args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q: want focus, report or slice", args[0])
}

func focus(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("focus", flag.ContinueOnError)
	slice := fs.String("slice", "", "file with one test name a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *slice == "" {
		return errors.New("--slice is required")
	}
	names, err := conformance.ReadSlice(*slice)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, conformance.Focus(names))
	return err
}

// slice prints a CI slice picked from a run's reports: the quickest tests
// that passed on both sides.
func slice(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("slice", flag.ContinueOnError)
	hostPath := fs.String("host", "", "ginkgo JSON report(s) of the host, comma-separated")
	virtualPath := fs.String("virtual", "", "ginkgo JSON report(s) of the virtual cluster, comma-separated")
	budget := fs.Duration("budget", 10*time.Minute, "summed run time of the picked tests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hostPath == "" || *virtualPath == "" {
		return errors.New("--host and --virtual are required")
	}
	host, err := conformance.ReadFiles(strings.Split(*hostPath, ","))
	if err != nil {
		return err
	}
	virtual, err := conformance.ReadFiles(strings.Split(*virtualPath, ","))
	if err != nil {
		return err
	}
	for _, n := range conformance.PickSlice(conformance.Compare(host, virtual), *budget) {
		if _, err := fmt.Fprintln(stdout, n); err != nil {
			return err
		}
	}
	return nil
}

func report(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var (
		hostPath    = fs.String("host", "", "ginkgo JSON report of the run on the local host (several: comma-separated)")
		virtualPath = fs.String("virtual", "", "ginkgo JSON report of the run on the virtual cluster (several: comma-separated)")
		out         = fs.String("out", "", "Markdown file whose generated part to replace (created if missing); empty: totals and problems only")
		slice       = fs.String("slice", "", "checked-in list of tests that must pass on the host too")
		m           conformance.Meta
		hostSecs    = fs.Float64("host-seconds", 0, "how long the host run took")
		virtualSecs = fs.Float64("virtual-seconds", 0, "how long the virtual cluster run took")
	)
	fs.StringVar(&m.Commit, "commit", "", "commit of the run")
	fs.StringVar(&m.Kubernetes, "kubernetes", "", "Kubernetes version of e2e.test")
	fs.StringVar(&m.Focus, "focus", "", "the run's --ginkgo.focus")
	fs.StringVar(&m.Skip, "skip", "", "the run's --ginkgo.skip")
	fs.IntVar(&m.Parallel, "parallel", 1, "ginkgo processes")
	fs.StringVar(&m.Build, "build", "", "how long building e2e.test took")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *hostPath == "" || *virtualPath == "" {
		return errors.New("--host and --virtual are required")
	}
	host, err := conformance.ReadFiles(strings.Split(*hostPath, ","))
	if err != nil {
		return err
	}
	virtual, err := conformance.ReadFiles(strings.Split(*virtualPath, ","))
	if err != nil {
		return err
	}
	m.Date = time.Now()
	m.Machine = conformance.Machine()
	m.HostDuration = time.Duration(*hostSecs * float64(time.Second))
	m.VirtualDuration = time.Duration(*virtualSecs * float64(time.Second))
	c := conformance.Compare(host, virtual)

	var table strings.Builder
	if err := conformance.Render(&table, m, host, virtual, c); err != nil {
		return err
	}
	if *out != "" {
		doc, err := os.ReadFile(*out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s: %w", *out, err)
		}
		if err := os.WriteFile(*out, []byte(conformance.ReplaceGenerated(string(doc), table.String())), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", *out, err)
		}
	}
	fmt.Fprintf(stdout, "host: %d passed, %d failed, %d skipped; virtual cluster: %d passed, %d failed, %d skipped; baseline %d, regressions %d\n",
		host.Count(conformance.Passed), host.Count(conformance.Failed), host.Count(conformance.Skipped),
		virtual.Count(conformance.Passed), virtual.Count(conformance.Failed), virtual.Count(conformance.Skipped),
		c.Baseline, len(c.Regressions))
	var problems []string
	for _, r := range c.Regressions {
		problems = append(problems, fmt.Sprintf("regression: %s: %s on the virtual cluster: %s", r.Name, r.Virtual.State, r.Virtual.Message))
	}
	if *slice != "" {
		names, err := conformance.ReadSlice(*slice)
		if err != nil {
			return err
		}
		for _, n := range conformance.NotPassing(host, names) {
			problems = append(problems, fmt.Sprintf("slice test no longer passes on the host (fix it, or take it out of %s): %s", *slice, n))
		}
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s), listed above", len(problems))
	}
	return nil
}
