package exec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPIDFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content *string
		want    int
		wantErr string
	}{
		{name: "missing file is pid 0"},
		{name: "valid", content: ptr("1234\n"), want: 1234},
		{name: "garbage", content: ptr("not-a-pid"), wantErr: "corrupt"},
		{name: "negative", content: ptr("-5"), wantErr: "corrupt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "x.pid")
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadPIDFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ReadPIDFile = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestDetachedProcessLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	logPath := filepath.Join(dir, "out.log")
	pid, err := Local{}.StartDetached(Command{Path: "/bin/sh", Args: []string{"-c", "echo started; sleep 60", marker}, LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	if !Alive(pid, marker) {
		t.Fatal("started process is not alive")
	}
	for i := 0; i < 500 && !strings.Contains(TailLog(logPath, 5), "started"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if tail := TailLog(logPath, 5); !strings.Contains(tail, "started") {
		t.Fatalf("log tail = %q", tail)
	}
	// Once it runs, a pid whose command line lacks the marker is not ours.
	if Alive(pid, "some-other-program") {
		t.Fatal("Alive ignored the marker: a reused pid would look like ours")
	}
	if err := Terminate(pid, marker, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if Alive(pid, marker) {
		t.Fatal("process alive after Terminate")
	}
	if err := Terminate(pid, marker, time.Second); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("second Terminate = %v, want ErrNotRunning", err)
	}
}

func TestRunErrorKeepsOutput(t *testing.T) {
	t.Parallel()
	err := Local{}.Run(context.Background(), Command{Path: "/bin/sh", Args: []string{"-c", "echo boom >&2; exit 3"}})
	var runErr *RunError
	if !errors.As(err, &runErr) || !strings.Contains(runErr.Error(), "boom") {
		t.Fatalf("err = %v, want a RunError with the output", err)
	}
}

func TestDryRunPrints(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if _, err := (DryRun{Out: &b}).StartDetached(Command{Path: "nest", Args: []string{"component", "kine", "--x=a b"}, LogPath: "/l"}); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "nest component kine \"--x=a b\" >>/l 2>&1 &\n" {
		t.Fatalf("dry run printed %q", got)
	}
}

func ptr(s string) *string { return &s }
