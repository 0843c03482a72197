// Package conformance reads the reports of the upstream Kubernetes e2e
// suite (e2e.test, ginkgo's JSON report), compares a run on the local host
// (the baseline) with a run on a virtual cluster, and writes the result
// table of docs/conformance.md. `make conformance` (hack/conformance.sh)
// drives it through hack/conformance.
package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// State is the outcome of one test, as ginkgo names it.
type State string

// The states that matter here; ginkgo's others (panicked, interrupted,
// aborted, timedout) count as failures.
const (
	Passed  State = "passed"
	Failed  State = "failed"
	Skipped State = "skipped"
	// Missing is a test that one run has and the other has not (it did not
	// get to run: the suite stopped, or the focus differed).
	Missing State = "not run"
)

// Result is one test of one run.
type Result struct {
	// Name is the test's full text: its containers and its leaf, as
	// --ginkgo.focus matches it.
	Name    string
	State   State
	RunTime time.Duration
	// Message is the first line of the failure or skip message.
	Message string
}

// Run is the results of one e2e.test run.
type Run struct {
	// Results holds the tests that ran, by name.
	Results map[string]Result
	// SetupFailure is the first line of a failed suite setup or teardown
	// (BeforeSuite, AfterSuite): when setup fails, no test runs.
	SetupFailure string
}

// specReport is the part of ginkgo's types.SpecReport read here (the JSON
// report is decoded without importing ginkgo, which Nest's go.mod does not
// require directly).
type specReport struct {
	ContainerHierarchyTexts []string
	LeafNodeType            string
	LeafNodeText            string
	State                   string
	RunTime                 int64 // nanoseconds
	Failure                 struct {
		Message string
	}
}

type suiteReport struct {
	SuiteDescription string
	SpecReports      []specReport
}

// ReadFile parses the ginkgo JSON report at path.
func ReadFile(path string) (Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return Run{}, fmt.Errorf("open e2e report: %w", err)
	}
	defer f.Close()
	run, err := Parse(f)
	if err != nil {
		return Run{}, fmt.Errorf("read e2e report %s: %w", path, err)
	}
	return run, nil
}

// ReadFiles parses several reports of one cluster (runs of different
// focuses) into one run; a test in more than one takes its last result.
func ReadFiles(paths []string) (Run, error) {
	merged := Run{Results: map[string]Result{}}
	for _, p := range paths {
		run, err := ReadFile(p)
		if err != nil {
			return Run{}, err
		}
		for n, r := range run.Results {
			merged.Results[n] = r
		}
		if merged.SetupFailure == "" {
			merged.SetupFailure = run.SetupFailure
		}
	}
	return merged, nil
}

// Parse reads a ginkgo JSON report (--ginkgo.json-report, or the ginkgo
// CLI's --json-report). Tests that the focus filtered out are left out;
// tests skipped while running (e2eskipper) are kept as Skipped.
func Parse(r io.Reader) (Run, error) {
	var suites []suiteReport
	if err := json.NewDecoder(r).Decode(&suites); err != nil {
		return Run{}, fmt.Errorf("decode ginkgo JSON report: %w", err)
	}
	run := Run{Results: map[string]Result{}}
	for _, suite := range suites {
		for _, spec := range suite.SpecReports {
			state := normalize(spec.State)
			msg := firstLine(spec.Failure.Message)
			if spec.LeafNodeType != "It" {
				if state == Failed && run.SetupFailure == "" {
					run.SetupFailure = fmt.Sprintf("%s failed: %s", spec.LeafNodeType, msg)
				}
				continue
			}
			if state == Skipped && msg == "" {
				continue // filtered out by the focus, not run
			}
			name := specName(spec)
			run.Results[name] = Result{Name: name, State: state, RunTime: time.Duration(spec.RunTime), Message: msg}
		}
	}
	return run, nil
}

// specName is the test's full text as ginkgo matches it: the non-empty
// texts of its containers and its leaf, joined by spaces.
func specName(spec specReport) string {
	var texts []string
	for _, t := range append(append([]string{}, spec.ContainerHierarchyTexts...), spec.LeafNodeText) {
		if t != "" {
			texts = append(texts, t)
		}
	}
	return strings.Join(texts, " ")
}

func normalize(s string) State {
	switch State(s) {
	case Passed, Skipped:
		return State(s)
	case "pending":
		return Skipped
	}
	return Failed
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	const max = 160
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// Names returns the run's test names, sorted.
func (r Run) Names() []string {
	names := make([]string, 0, len(r.Results))
	for n := range r.Results {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Count returns how many tests of the run ended in state.
func (r Run) Count(state State) int {
	n := 0
	for _, res := range r.Results {
		if res.State == state {
			n++
		}
	}
	return n
}
