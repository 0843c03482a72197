package nesthome

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		wantErr string
	}{
		{name: "missing dir is created", prepare: func(t *testing.T, dir string) { _ = os.Remove(dir) }},
		{name: "empty dir is adopted"},
		{name: "existing home reopens", prepare: func(t *testing.T, dir string) {
			if _, err := Open(dir); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "foreign dir is refused", prepare: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "precious.txt"), "keep me")
		}, wantErr: "not a Nest home"},
		{name: "corrupt marker is refused", prepare: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, markerName), "{not json")
		}, wantErr: "corrupt"},
		{name: "future format is refused", prepare: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, markerName), `{"format": 99}`)
		}, wantErr: "format 99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "home")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tt.prepare != nil {
				tt.prepare(t, dir)
			}
			before := listDir(t, dir)
			h, err := Open(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Open() error = %v, want %q", err, tt.wantErr)
				}
				if after := listDir(t, dir); after != before {
					t.Fatalf("refused home was changed: %q -> %q", before, after)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open() error = %v", err)
			}
			if h.ClusterDir("a") != filepath.Join(dir, "clusters", "a") {
				t.Fatalf("ClusterDir() = %s", h.ClusterDir("a"))
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, ",")
}
