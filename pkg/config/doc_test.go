package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigurationDocIsCurrent keeps docs/configuration.md's defaults table
// equal to the code. Regenerate with: NEST_UPDATE_DOCS=1 go test ./pkg/config -run TestConfigurationDocIsCurrent
func TestConfigurationDocIsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "configuration.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- defaults:begin -->\n", "<!-- defaults:end -->"
	doc := string(data)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q ... %q markers", path, begin, end)
	}
	want := DefaultsMarkdown()
	if got := doc[i+len(begin) : j]; got != want {
		if os.Getenv("NEST_UPDATE_DOCS") != "" {
			if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+want+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("%s defaults table is stale; regenerate with NEST_UPDATE_DOCS=1 go test ./pkg/config -run TestConfigurationDocIsCurrent", path)
	}
}
