package conformance

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
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
