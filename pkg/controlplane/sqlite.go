package controlplane

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	// The SQLite driver kine uses; registered as "sqlite3".
	_ "github.com/mattn/go-sqlite3"
)

// checkSQLite fails fast, with the file named, when the datastore file
// exists but is not a readable SQLite database. kine would otherwise retry
// the connection forever while the apiserver waits.
func checkSQLite(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil // a new cluster: kine creates it
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return fmt.Errorf("open datastore %s: %w", path, err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow("PRAGMA quick_check").Scan(&result); err != nil {
		return fmt.Errorf("datastore %s is not a healthy SQLite database (%v): restore it from a snapshot, or delete the virtual cluster", path, err)
	}
	if result != "ok" {
		first, _, _ := strings.Cut(result, "\n")
		return fmt.Errorf("datastore %s is not a healthy SQLite database (%s): restore it from a snapshot, or delete the virtual cluster", path, first)
	}
	return nil
}

// CompactSQLite folds a SQLite database's write-ahead log into its main
// file and leaves it in rollback-journal mode, so that the file alone holds
// the database and can be moved (kine turns WAL mode back on when it opens
// it). No other process may have it open.
func CompactSQLite(path string) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, pragma := range []string{"PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA journal_mode=DELETE"} {
		if _, err := db.Exec(pragma); err != nil {
			return fmt.Errorf("%s on %s: %w", pragma, path, err)
		}
	}
	return nil
}
