package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestLeader: two stores on one database (two hub replicas) never hold the
// leader lock at once; a release hands it over; on PostgreSQL, a holder
// whose connection dies loses it (its Check fails) and the other takes it.
func TestLeader(t *testing.T) {
	for _, b := range storetest.Both(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.URL(t)
			one, two := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
			l1, err := one.TryLeader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := l1.Check(ctx); err != nil {
				t.Fatalf("holder's Check: %v", err)
			}
			for _, s := range []*store.Store{two, one} {
				if _, err := s.TryLeader(ctx); !errors.Is(err, store.ErrNotLeader) {
					t.Fatalf("second TryLeader = %v, want ErrNotLeader", err)
				}
			}
			l1.Release()
			if err := l1.Check(ctx); err == nil {
				t.Fatal("Check after Release succeeded")
			}
			l2, err := two.TryLeader(ctx)
			if err != nil {
				t.Fatalf("TryLeader after the release: %v", err)
			}
			if _, err := one.TryLeader(ctx); !errors.Is(err, store.ErrNotLeader) {
				t.Fatalf("TryLeader while the other holds it = %v", err)
			}
			if b.Name != "postgres" {
				l2.Release()
				return
			}
			// The holder's connection is killed (its replica lost the
			// database): the lock goes with it.
			db, err := sql.Open("pgx", url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			// Only this test's database and lock, and wait (up to 10 s) for
			// the backend to be gone: pg_terminate_backend alone returns
			// before the dying backend has released its locks.
			if _, err := db.ExecContext(ctx, `SELECT pg_terminate_backend(l.pid, 10000) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
				WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
				AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.pid <> pg_backend_pid()`,
				int64(store.LeaderLockKey>>32), int64(store.LeaderLockKey&0xffffffff)); err != nil {
				t.Fatal(err)
			}
			if err := l2.Check(ctx); err == nil {
				t.Fatal("Check of a lock whose connection was killed succeeded")
			}
			l1, err = one.TryLeader(ctx)
			if err != nil {
				t.Fatalf("TryLeader after the holder's connection died: %v", err)
			}
			l2.Release()
			if err := l1.Check(ctx); err != nil {
				t.Fatalf("the old holder's Release took the new holder's lock: %v", err)
			}
			l1.Release()
		})
	}
}

// TestConcurrentTransactions: more transactions at once than the SQLite
// pool has connections, each running statements not prepared yet (a fresh
// store), all commit: a transaction never waits for a second connection.
func TestConcurrentTransactions(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{{Name: "more transactions than connections", Run: func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const n = 24
		errs := make(chan error, n)
		for i := range n {
			go func() {
				errs <- s.InTx(ctx, func(ctx context.Context) error {
					if _, err := s.Tenants.Find(ctx, map[string]string{"name": "t0"}); err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					return s.Tenants.Create(ctx, &store.Tenant{Meta: store.Meta{Name: "t" + string(rune('a'+i))}})
				})
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}}})
}
