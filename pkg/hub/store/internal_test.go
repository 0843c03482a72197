package store

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

func TestRebind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dialect Dialect
		in, out string
	}{
		{SQLite, "SELECT a FROM t WHERE a = ? AND b = ?", "SELECT a FROM t WHERE a = ? AND b = ?"},
		{Postgres, "SELECT a FROM t WHERE a = ? AND b = ?", "SELECT a FROM t WHERE a = $1 AND b = $2"},
		{Postgres, "SELECT 1", "SELECT 1"},
	}
	for _, tc := range tests {
		t.Run(string(tc.dialect)+" "+tc.in, func(t *testing.T) {
			t.Parallel()
			if got := (&Store{dialect: tc.dialect}).rebind(tc.in); got != tc.out {
				t.Fatalf("rebind = %q, want %q", got, tc.out)
			}
		})
	}
}

func TestSplitStatements(t *testing.T) {
	t.Parallel()
	got := splitStatements("-- header; not a statement\nCREATE TABLE a (x TEXT); -- trailing\n\nCREATE INDEX b ON a (x);\n")
	if fmt.Sprintf("%q", got) != `["CREATE TABLE a (x TEXT)" "CREATE INDEX b ON a (x)"]` {
		t.Fatalf("got %q", got)
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	id := NewID()
	tests := []struct {
		name    string
		cursor  string
		wantErr bool
	}{
		{"round trip", encodeCursor(id), false},
		{"not base64", "!!", true},
		{"not ours", "djE6eHh4", true},
		{"empty id", encodeCursor(""), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeCursor(tc.cursor)
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != id) {
				t.Fatalf("decodeCursor = %q, %v", got, err)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"postgres://u:secret@h/db":  "postgres://u:xxxxx@h/db",
		"postgres://u@h/db":         "postgres://u@h/db",
		"sqlite:/tmp/x.db":          "sqlite:/tmp/x.db",
		"postgresql://a:b@c:5432/d": "postgresql://a:xxxxx@c:5432/d",
	}
	for in, want := range tests {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMigrateAllOrNothing: a failing migration leaves no trace of the
// migrations run with it, and a later good run applies them.
func TestMigrateAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "sub", "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := Migration{Version: 1, Name: "good", SQL: "CREATE TABLE a (x TEXT);\n"}
	bad := Migration{Version: 2, Name: "bad", SQL: "CREATE TABLE b (x TEXT);\nCREATE TABLE nonsense;\n"}
	if _, err := s.migrate(ctx, []Migration{good, bad}); err == nil || !strings.Contains(err.Error(), "0002_bad") {
		t.Fatalf("migrate = %v, want an error naming 0002_bad", err)
	}
	if _, err := s.exec(ctx, "SELECT x FROM a"); err == nil {
		t.Fatal("table a exists after a failed migration run")
	}
	applied, err := s.migrate(ctx, []Migration{good})
	if err != nil || len(applied) != 1 || applied[0] != 1 {
		t.Fatalf("second run applied %v, %v", applied, err)
	}
}
