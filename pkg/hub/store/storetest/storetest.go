// Package storetest gives tests a fresh, migrated hub store on each
// backend: SQLite in a temporary directory and a real PostgreSQL (one server
// per top-level test, one new database per store).
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nestcluster/nest/internal/testpg"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Backend opens fresh stores of one kind.
type Backend struct {
	Name string
	open func(t testing.TB) string
}

// Open returns a fresh migrated store, closed when t ends.
func (b Backend) Open(t testing.TB) *store.Store {
	t.Helper()
	return OpenURL(t, b.open(t))
}

// URL returns the database URL of a fresh, empty database.
func (b Backend) URL(t testing.TB) string {
	t.Helper()
	return b.open(t)
}

// SQLite is the SQLite backend.
var SQLite = Backend{Name: "sqlite", open: func(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "hub.db")
}}

var dbSeq atomic.Int64

// Postgres starts a PostgreSQL server for t (call it from the top-level
// test, before its parallel subtests) and returns the backend that makes a
// new database in it for every store.
func Postgres(t testing.TB) Backend {
	t.Helper()
	url := testpg.Start(t)
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	// testpg.Start returns once the port accepts connections, which can be
	// before the server accepts logins ("the database system is starting
	// up"): wait for a query to work.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := admin.PingContext(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres does not accept logins: %v", err)
		}
	}
	return Backend{Name: "postgres", open: func(t testing.TB) string {
		t.Helper()
		name := fmt.Sprintf("hub_%d", dbSeq.Add(1))
		if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
			t.Fatalf("create database %s: %v", name, err)
		}
		return strings.Replace(url, "/postgres?", "/"+name+"?", 1)
	}}
}

// Both returns the SQLite and PostgreSQL backends.
func Both(t testing.TB) []Backend {
	t.Helper()
	return []Backend{SQLite, Postgres(t)}
}

// OpenURL opens and migrates the store at url, closed when t ends.
func OpenURL(t testing.TB, url string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// Case is one test case run on a fresh store of each backend.
type Case struct {
	Name string
	Run  func(t *testing.T, s *store.Store)
}

// RunBoth runs every case, in parallel, on a fresh migrated store of
// SQLite and of PostgreSQL: subtests BACKEND/CASE.
func RunBoth(t *testing.T, cases []Case) {
	t.Helper()
	for _, b := range Both(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.Name, func(t *testing.T) {
					t.Parallel()
					tc.Run(t, b.Open(t))
				})
			}
		})
	}
}
