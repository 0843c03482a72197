package procfs

import (
	"os"
	"testing"
)

func TestParseMemInfo(t *testing.T) {
	m, err := ParseMemInfo("MemTotal:       24684060 kB\nMemFree:        17654784 kB\nMemAvailable:   22577316 kB\nHugePages_Total:       0\n")
	if err != nil {
		t.Fatal(err)
	}
	if m.Total != 24684060*1024 || m.Available != 22577316*1024 {
		t.Errorf("got %+v", m)
	}
	if _, err := ParseMemInfo("junk"); err == nil {
		t.Error("want an error without MemTotal")
	}
}

func TestParseSmapsRollup(t *testing.T) {
	text := `00400000-7ffd4c1f1000 ---p 00000000 00:00 0                          [rollup]
Rss:              330512 kB
Pss:              201234 kB
Pss_Anon:         180000 kB
Shared_Clean:     120000 kB
Anonymous:        180100 kB
Swap:                  0 kB
`
	m, err := ParseSmapsRollup(text)
	if err != nil {
		t.Fatal(err)
	}
	want := ProcMem{RSS: 330512 * 1024, PSS: 201234 * 1024, Anon: 180100 * 1024}
	if m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
	if _, err := ParseSmapsRollup(""); err == nil {
		t.Error("want an error without Rss")
	}
}

func TestParseStatSession(t *testing.T) {
	sid, err := ParseStatSession("25792 (nest (x) y) S 1 25792 25790 0 -1 4194560 1 2 3")
	if err != nil || sid != 25790 {
		t.Errorf("got %d, %v", sid, err)
	}
	if _, err := ParseStatSession("garbage"); err == nil {
		t.Error("want an error")
	}
}

func TestParseStatCPUSeconds(t *testing.T) {
	t.Parallel()
	// Fields 14 and 15 (utime, stime) are 250 and 150 ticks.
	line := "4242 (nest (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 12 0 100 1000 200"
	tests := []struct {
		name string
		line string
		want float64
		ok   bool
	}{
		{"command with spaces and parentheses", line, 4.0, true},
		{"no command", "garbage", 0, false},
		{"too short", "1 (x) S 1 2", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseStatCPUSeconds(tt.line)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseStatCPUSeconds() = %v, %v; want %v, ok %v", got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseCPUInfo(t *testing.T) {
	c := ParseCPUInfo("processor\t: 0\nmodel name\t: Some CPU @ 2.0GHz\n\nprocessor\t: 1\nmodel name\t: Some CPU @ 2.0GHz\n")
	if c.Model != "Some CPU @ 2.0GHz" || c.Threads != 2 {
		t.Errorf("got %+v", c)
	}
}

// The real files of this machine parse (no values are asserted).
func TestReadSelf(t *testing.T) {
	if _, err := ReadMemInfo(); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTreeMem(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCPUSeconds(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}
