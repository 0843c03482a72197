// Package report renders benchmark results as the Markdown of
// docs/benchmarks.md: a header describing the machine and the build, then one
// section per benchmark with its tables.
package report

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/nestcluster/nest/bench/stats"
)

// Report is the whole document.
type Report struct {
	Title string
	// Intro is free text under the title.
	Intro string
	// Header lists facts about the run ("Machine", "Go", ...), in order.
	Header   []KV
	Sections []Section
}

// KV is one header fact.
type KV struct{ Key, Value string }

// Section is one benchmark.
type Section struct {
	Title string
	// About says what is measured and why, and the target.
	About  string
	Tables []Table
	// Notes follow the tables (conclusions, caveats).
	Notes []string
	// Err, when set, says the benchmark failed; its tables may be partial.
	Err error
}

// Table is one Markdown table.
type Table struct {
	Caption string
	Header  []string
	Rows    [][]string
}

// Render writes the report as Markdown.
func (r *Report) Render(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	if r.Intro != "" {
		fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(r.Intro))
	}
	for _, kv := range r.Header {
		fmt.Fprintf(&b, "- **%s:** %s\n", kv.Key, kv.Value)
	}
	b.WriteString("\n")
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "## %s\n\n", s.Title)
		if s.About != "" {
			fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(s.About))
		}
		if s.Err != nil {
			fmt.Fprintf(&b, "**This benchmark failed:**\n\n```\n%s\n```\n\n", strings.TrimSpace(strings.ReplaceAll(s.Err.Error(), "```", "` ` `")))
		}
		for _, t := range s.Tables {
			t.render(&b)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(n))
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}

func (t Table) render(b *strings.Builder) {
	if t.Caption != "" {
		fmt.Fprintf(b, "%s\n\n", t.Caption)
	}
	row := func(cells []string) {
		b.WriteString("|")
		for i := range t.Header {
			c := ""
			if i < len(cells) {
				c = strings.ReplaceAll(cells[i], "|", `\|`)
			}
			fmt.Fprintf(b, " %s |", c)
		}
		b.WriteString("\n")
	}
	row(t.Header)
	b.WriteString("|")
	for i := range t.Header {
		if i == 0 {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("\n")
}

// Format turns a sample value into text.
type Format func(float64) string

// Seconds formats a time in seconds: "0.42 ms", "12.3 ms", "1.23 s".
func Seconds(s float64) string {
	switch {
	case math.IsNaN(s):
		return "–"
	case s < 0.001:
		return fmt.Sprintf("%.2f ms", s*1000)
	case s < 0.1:
		return fmt.Sprintf("%.1f ms", s*1000)
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1000)
	case s < 100:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.0f s", s)
	}
}

// MiB formats bytes in MiB.
func MiB(bytes float64) string {
	if math.IsNaN(bytes) {
		return "–"
	}
	return fmt.Sprintf("%.1f MiB", bytes/(1<<20))
}

// Plain formats a number with up to one decimal.
func Plain(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// Ratio formats a ratio as "1.23×", or "–" when undefined.
func Ratio(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

// StatsHeader is the header of a StatsRow table; withP99 adds the p99 column.
func StatsHeader(withP99 bool) []string {
	h := []string{"Figure", "p50", "p90"}
	if withP99 {
		h = append(h, "p99")
	}
	return append(h, "mean", "n", "compared to", "ratio")
}

// Percent formats a share as "12%", or "–" when undefined.
func Percent(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", r*100)
}

// P50 is the p50 of s formatted with f, or "–" without samples.
func P50(s stats.Summary, f Format) string {
	if s.N == 0 {
		return "–"
	}
	return f(s.P50)
}

// StatsRow is one figure: its summary, what it is compared to (a floor,
// a peer or a target, with its value) and the ratio to that reference, as
// text (see Ratio and Percent).
func StatsRow(figure string, s stats.Summary, f Format, withP99 bool, ref string, ratio string) []string {
	r := []string{figure, f(s.P50), f(s.P90)}
	if withP99 {
		r = append(r, f(s.P99))
	}
	if s.N == 0 {
		for i := 1; i < len(r); i++ {
			r[i] = "–"
		}
	}
	meanText := f(s.Mean)
	if s.N == 0 {
		meanText = "–"
	}
	return append(r, meanText, fmt.Sprint(s.N), ref, ratio)
}
