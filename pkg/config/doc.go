package config

import (
	"fmt"
	"strings"
)

// DefaultsMarkdown renders DefaultsTable as the Markdown table of
// docs/configuration.md; a test keeps the doc equal to it.
func DefaultsMarkdown() string {
	var b strings.Builder
	b.WriteString("| field | default | meaning |\n|---|---|---|\n")
	for _, e := range DefaultsTable() {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", e.Field, e.Default, e.Meaning)
	}
	return b.String()
}
