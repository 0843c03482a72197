package conformance

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestReadFile(t *testing.T) {
	run, err := ReadFile(filepath.Join("testdata", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Result{
		"[sig-auth] ServiceAccounts should mount an API token into pods [Conformance]": {State: Passed, RunTime: 2500 * time.Millisecond},
		"[sig-node] Pods should get a host IP [NodeConformance] [Conformance]":         {State: Failed, RunTime: 300 * time.Second, Message: "Timed out after 300s."},
		"[sig-node] Pods should run on two nodes [Conformance]":                        {State: Skipped, RunTime: 1000, Message: "Requires at least 2 nodes (not 1)"},
		"[sig-apps] Job should time out [Conformance]":                                 {State: Failed, RunTime: 5},
	}
	if len(run.Results) != len(want) {
		t.Errorf("got %d results, want %d: %v", len(run.Results), len(want), run.Names())
	}
	for name, w := range want {
		got, ok := run.Results[name]
		w.Name = name
		if !ok || got != w {
			t.Errorf("result %q = %+v, want %+v", name, got, w)
		}
	}
	if run.SetupFailure != "SynchronizedAfterSuite failed: cleanup failed" {
		t.Errorf("SetupFailure = %q", run.SetupFailure)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	if _, err := Parse(strings.NewReader("{not json")); err == nil {
		t.Fatal("want an error for a report that is not JSON")
	}
}

func results(states map[string]State) Run {
	run := Run{Results: map[string]Result{}}
	for n, s := range states {
		run.Results[n] = Result{Name: n, State: s}
	}
	return run
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name            string
		host, virtual   map[string]State
		wantBaseline    int
		wantRegressions []string
		wantExtra       int
	}{
		{
			name:         "all pass",
			host:         map[string]State{"a": Passed, "b": Passed},
			virtual:      map[string]State{"a": Passed, "b": Passed},
			wantBaseline: 2,
		},
		{
			name:            "failed, skipped and missing on the virtual cluster are regressions",
			host:            map[string]State{"a": Passed, "b": Passed, "c": Passed, "d": Passed},
			virtual:         map[string]State{"a": Passed, "b": Failed, "c": Skipped},
			wantBaseline:    4,
			wantRegressions: []string{"b", "c", "d"},
		},
		{
			name:         "failing on the host is no regression",
			host:         map[string]State{"a": Failed, "b": Skipped},
			virtual:      map[string]State{"a": Failed, "b": Passed},
			wantBaseline: 0,
			wantExtra:    1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Compare(results(tt.host), results(tt.virtual))
			var got []string
			for _, r := range c.Regressions {
				got = append(got, r.Name)
			}
			if !reflect.DeepEqual(got, tt.wantRegressions) {
				t.Errorf("regressions = %v, want %v", got, tt.wantRegressions)
			}
			if c.Baseline != tt.wantBaseline || c.Extra != tt.wantExtra {
				t.Errorf("baseline %d, extra %d; want %d, %d", c.Baseline, c.Extra, tt.wantBaseline, tt.wantExtra)
			}
		})
	}
}

func TestNotPassing(t *testing.T) {
	host := results(map[string]State{"a": Passed, "b": Failed})
	if got := NotPassing(host, []string{"a", "b", "c"}); !reflect.DeepEqual(got, []string{"b", "c"}) {
		t.Errorf("NotPassing = %v, want [b c]", got)
	}
}

func TestFocus(t *testing.T) {
	names := []string{"[sig-auth] ServiceAccounts should mount an API token into pods [Conformance]", "[sig-node] Pods a.b (c)"}
	re := regexp.MustCompile(Focus(names))
	tests := []struct {
		text string
		want bool
	}{
		{"Kubernetes e2e suite " + names[0], true},
		{"Kubernetes e2e suite " + names[1], true},
		{"Kubernetes e2e suite [sig-node] Pods aXb (c)", false},
		{"Kubernetes e2e suite " + names[0] + " and more", false},
	}
	for _, tt := range tests {
		if got := re.MatchString(tt.text); got != tt.want {
			t.Errorf("focus matches %q = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestReadSlice(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		want    []string
		wantErr string
	}{
		{name: "names, comments and blanks", content: "# a comment\n\n  one test  \ntwo\n", want: []string{"one test", "two"}},
		{name: "empty", content: "# nothing\n", wantErr: "names no test"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.Repeat("x", i+1))
			if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadSlice(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadSlice = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRenderAndReplace(t *testing.T) {
	host := results(map[string]State{"[sig-a] x | y [Conformance]": Passed, "[sig-b] z": Failed})
	virtual := results(map[string]State{"[sig-b] z": Failed})
	c := Compare(host, virtual)
	var b strings.Builder
	m := Meta{Date: time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC), Commit: "abc", Kubernetes: "v1.34.4", Focus: "x", Parallel: 2}
	if err := Render(&b, m, host, virtual, c); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		BeginMarker, EndMarker, "| date | 2026-11-26 04:00 UTC |",
		`| [sig-a] x \| y [Conformance] | passed (0s) | not run **regression** | did not run |`,
		"**Regressions** (baseline tests not passing on the virtual cluster): 1.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered table lacks %q:\n%s", want, out)
		}
	}

	tests := []struct {
		name, doc, want string
	}{
		{name: "no markers: appended", doc: "# Title\nhand", want: "# Title\nhand\n\nGEN"},
		{name: "markers: replaced", doc: "# T\n" + BeginMarker + "\nold\n" + EndMarker + "\ntail\n", want: "# T\nGENtail\n"},
		{name: "empty doc", doc: "", want: "\nGEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReplaceGenerated(tt.doc, "GEN"); got != tt.want {
				t.Errorf("ReplaceGenerated = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadFilesMerges(t *testing.T) {
	dir := t.TempDir()
	write := func(name, leaf, state string) string {
		p := filepath.Join(dir, name)
		doc := `[{"SpecReports":[{"ContainerHierarchyTexts":["[sig-x] X"],"LeafNodeType":"It","LeafNodeText":"` + leaf + `","State":"` + state + `"}]}]`
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run, err := ReadFiles([]string{write("a.json", "a", "passed"), write("b.json", "b", "failed"), write("c.json", "a", "failed")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]State{}
	for n, r := range run.Results {
		got[n] = r.State
	}
	want := map[string]State{"[sig-x] X a": Failed, "[sig-x] X b": Failed}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged = %v, want %v", got, want)
	}
}

func TestPickSlice(t *testing.T) {
	row := func(name string, host, virtual State, d time.Duration) Row {
		return Row{Name: name, Host: Result{State: host, RunTime: d}, Virtual: Result{State: virtual, RunTime: d}}
	}
	c := Comparison{Rows: []Row{
		row("slow", Passed, Passed, 50*time.Second),
		row("b quick", Passed, Passed, time.Second),
		row("a quick", Passed, Passed, 2*time.Second),
		row("regression", Passed, Failed, time.Second),
		row("host failure", Failed, Failed, time.Second),
		row("x [Serial]", Passed, Passed, time.Second),
		row("medium", Passed, Passed, 10*time.Second),
	}}
	got := PickSlice(c, 20*time.Second)
	want := []string{"a quick", "b quick", "medium"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PickSlice = %v, want %v", got, want)
	}
}
