package store

import (
	"fmt"
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
