package controlplane

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSQLite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string
	}{
		{name: "missing file is a new cluster"},
		{name: "valid database", prepare: func(t *testing.T, path string) {
			db, err := sql.Open("sqlite3", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE kine (id INTEGER)"); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "garbage", prepare: func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite ", 500)), 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "not a healthy SQLite database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state.db")
			if tt.prepare != nil {
				tt.prepare(t, path)
			}
			before, _ := os.ReadFile(path)
			err := checkSQLite(path)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("checkSQLite: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path)) {
				t.Fatalf("checkSQLite error = %v, want %q naming the file", err, tt.wantErr)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Fatal("checkSQLite changed the file")
			}
		})
	}
}
