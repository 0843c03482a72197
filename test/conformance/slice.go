package conformance

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ReadSlice reads a list of test names, one a line; blank lines and lines
// starting with # are left out.
func ReadSlice(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open conformance slice: %w", err)
	}
	defer f.Close()
	var names []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		names = append(names, line)
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("read conformance slice %s: %w", path, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("conformance slice %s names no test", path)
	}
	return names, nil
}

// Focus returns a --ginkgo.focus regular expression that matches the named
// tests. Ginkgo matches it against the suite's description, a space and
// the test's name.
func Focus(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return " (?:" + strings.Join(quoted, "|") + ")$"
}

// PickSlice returns the tests that passed on both sides, quickest first
// (by the slower side's run time), as many as fit in budget of summed run
// time; sorted by name. Tests marked [Serial] or [Slow] are left out: a CI
// slice runs in parallel and quickly.
func PickSlice(c Comparison, budget time.Duration) []string {
	type cand struct {
		name string
		d    time.Duration
	}
	var cands []cand
	for _, r := range c.Rows {
		if r.Host.State != Passed || r.Virtual.State != Passed || strings.Contains(r.Name, "[Serial]") || strings.Contains(r.Name, "[Slow]") {
			continue
		}
		cands = append(cands, cand{r.Name, max(r.Host.RunTime, r.Virtual.RunTime)})
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].d < cands[j].d })
	var names []string
	var total time.Duration
	for _, c := range cands {
		if total+c.d > budget {
			break
		}
		total += c.d
		names = append(names, c.name)
	}
	sort.Strings(names)
	return names
}
