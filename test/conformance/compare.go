package conformance

import "sort"

// Row is one test of the comparison.
type Row struct {
	Name    string
	Host    Result
	Virtual Result
	// Regression: the test passed on the host (the baseline) and did not
	// pass on the virtual cluster.
	Regression bool
}

// Comparison is a host run against a virtual-cluster run.
type Comparison struct {
	Rows []Row
	// Baseline is how many tests passed on the host.
	Baseline    int
	Regressions []Row
	// Extra is how many tests passed on the virtual cluster and not on
	// the host.
	Extra int
}

// Compare puts each test of both runs side by side. A test one run lacks
// is Missing there; a baseline test missing on the virtual cluster is a
// regression (it did not pass).
func Compare(host, virtual Run) Comparison {
	names := map[string]bool{}
	for n := range host.Results {
		names[n] = true
	}
	for n := range virtual.Results {
		names[n] = true
	}
	var c Comparison
	for n := range names {
		row := Row{Name: n, Host: lookup(host, n), Virtual: lookup(virtual, n)}
		if row.Host.State == Passed {
			c.Baseline++
			row.Regression = row.Virtual.State != Passed
		} else if row.Virtual.State == Passed {
			c.Extra++
		}
		c.Rows = append(c.Rows, row)
		if row.Regression {
			c.Regressions = append(c.Regressions, row)
		}
	}
	sort.Slice(c.Rows, func(i, j int) bool { return c.Rows[i].Name < c.Rows[j].Name })
	sort.Slice(c.Regressions, func(i, j int) bool { return c.Regressions[i].Name < c.Regressions[j].Name })
	return c
}

func lookup(run Run, name string) Result {
	if r, ok := run.Results[name]; ok {
		return r
	}
	msg := "did not run"
	if run.SetupFailure != "" {
		msg = run.SetupFailure
	}
	return Result{Name: name, State: Missing, Message: msg}
}

// NotPassing returns the names of want that did not pass in run: the tests
// of a checked-in slice that no longer pass on the host.
func NotPassing(run Run, want []string) []string {
	var out []string
	for _, n := range want {
		if lookup(run, n).State != Passed {
			out = append(out, n)
		}
	}
	return out
}
