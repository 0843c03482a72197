package report

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/nestcluster/nest/bench/stats"
)

func TestRender(t *testing.T) {
	r := Report{
		Title:  "Benchmarks",
		Header: []KV{{"Machine", "x"}},
		Sections: []Section{{
			Title: "one",
			About: "what",
			Tables: []Table{{Header: StatsHeader(false), Rows: [][]string{
				StatsRow("a|b", stats.Summarize([]float64{1, 2}), Seconds, false, "floor 1 s", Ratio(1.5)),
			}}},
			Err: errors.New("boom"),
		}},
	}
	var b strings.Builder
	if err := r.Render(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"# Benchmarks", "- **Machine:** x", "## one", "| a\\|b | 1.00 s | 2.00 s | 1.50 s | 2 | floor 1 s | 1.50× |", "| --- | ---: |", "failed:**\n\n```\nboom\n```"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Seconds(0.0004), "0.40 ms"}, {Seconds(0.0123), "12.3 ms"}, {Seconds(0.5), "500 ms"},
		{Seconds(1.234), "1.23 s"}, {Seconds(250), "250 s"}, {MiB(3 << 20), "3.0 MiB"},
		{Ratio(math.NaN()), "–"}, {Ratio(0.5), "0.50×"}, {Plain(3), "3"}, {Plain(2.25), "2.2"}, {Percent(0.054), "5%"}, {Percent(math.NaN()), "–"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
