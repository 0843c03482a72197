package store_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

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

// killLeaderLock ends, on PostgreSQL, the connection that holds the
// leader lock of url's database (its replica lost the database), waiting
// until its backend is gone.
func killLeaderLock(t *testing.T, url string) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var killed int
	if err := db.QueryRowContext(context.Background(), `SELECT count(pg_terminate_backend(l.pid, 10000)) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.pid <> pg_backend_pid()`,
		int64(store.LeaderLockKey>>32), int64(store.LeaderLockKey&0xffffffff)).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("killed %d holders of the leader lock, want 1", killed)
	}
}

// TestLeaderFencing: a leader's writes carry its epoch; once another
// replica has taken the lock (the first one released it, or, on
// PostgreSQL, lost its connection and does not know yet), the old
// leader's writes are refused with ErrFenced and change nothing, while the
// new leader's go through. The old leader's Check fails too.
func TestLeaderFencing(t *testing.T) {
	for _, b := range storetest.Both(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.URL(t)
			one, two := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
			vc := &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, ProjectID: "p"}
			if err := one.VirtualClusters.Create(ctx, vc); err != nil {
				t.Fatal(err)
			}
			l1, err := one.TryLeader(ctx)
			if err != nil {
				t.Fatal(err)
			}
			old := store.WithFence(ctx, l1.Epoch())
			vc.Status.Message = "written by the first leader"
			if err := one.VirtualClusters.Update(old, vc); err != nil {
				t.Fatalf("the leader's fenced write: %v", err)
			}

			// The lock changes hands without the first leader knowing.
			if b.Name == "postgres" {
				killLeaderLock(t, url)
			} else {
				l1.Release()
			}
			l2, err := two.TryLeader(ctx)
			if err != nil {
				t.Fatalf("TryLeader after the first leader lost the lock: %v", err)
			}
			defer l2.Release()
			if l2.Epoch() <= l1.Epoch() {
				t.Fatalf("epochs %d then %d: want an increase", l1.Epoch(), l2.Epoch())
			}
			stale := *vc
			stale.Status.Message = "written by a stale leader"
			tests := []struct {
				name  string
				write func() error
			}{
				{"update", func() error { return one.VirtualClusters.Update(old, &stale) }},
				{"delete", func() error { return one.VirtualClusters.Delete(old, vc.ID, 0) }},
				{"create", func() error {
					return one.VirtualClusters.Create(old, &store.VirtualCluster{Meta: store.Meta{Name: "stale"}, ProjectID: "p"})
				}},
				{"transaction", func() error {
					return one.InTx(old, func(ctx context.Context) error { return one.VirtualClusters.Update(ctx, &stale) })
				}},
			}
			for _, tc := range tests {
				if err := tc.write(); !errors.Is(err, store.ErrFenced) {
					t.Errorf("a stale leader's %s = %v, want ErrFenced", tc.name, err)
				}
			}
			got, err := two.VirtualClusters.Get(ctx, vc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Message != "written by the first leader" || got.ResourceVersion != vc.ResourceVersion {
				t.Fatalf("a stale leader's write changed the record: %+v", got)
			}
			if _, err := two.VirtualClusters.Find(ctx, map[string]string{"name": "stale"}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a stale leader's create: %v", err)
			}
			if err := l1.Check(ctx); err == nil {
				t.Fatal("the stale leader's Check succeeded")
			}
			got.Status.Message = "written by the new leader"
			if err := two.VirtualClusters.Update(store.WithFence(ctx, l2.Epoch()), got); err != nil {
				t.Fatalf("the new leader's fenced write: %v", err)
			}
			if err := l2.Check(ctx); err != nil {
				t.Fatalf("the new leader's Check: %v", err)
			}
		})
	}
}

// TestLeaderFencingInFlight: on PostgreSQL, a fenced write in flight when
// another replica takes the lock is ordered before the new epoch: the new
// leader's TryLeader waits for it (it is seen waiting for a lock) and
// returns only once that write committed; later writes are refused.
func TestLeaderFencingInFlight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := storetest.Postgres(t).URL(t)
	one, two := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
	vc := &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, ProjectID: "p"}
	if err := one.VirtualClusters.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	l1, err := one.TryLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := store.WithFence(ctx, l1.Epoch())
	written, release, committed := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		committed <- one.InTx(old, func(ctx context.Context) error {
			vc.Status.Message = "in flight"
			if err := one.VirtualClusters.Update(ctx, vc); err != nil {
				return err
			}
			close(written)
			<-release
			return nil
		})
	}()
	<-written
	killLeaderLock(t, url)
	type result struct {
		l   *store.Leader
		err error
	}
	took := make(chan result, 1)
	go func() { l, err := two.TryLeader(ctx); took <- result{l, err} }()

	// The new leader's epoch waits for the write in flight.
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var waiting int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE 'UPDATE leader_epoch%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		select {
		case r := <-took:
			t.Fatalf("TryLeader returned (%v) while a fenced write was in flight", r.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the new leader never waited for the write in flight")
		}
	}
	close(release)
	if err := <-committed; err != nil {
		t.Fatalf("the write in flight before the new epoch: %v", err)
	}
	r := <-took
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.l.Release()
	if err := one.VirtualClusters.Update(old, vc); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("a write after the new epoch = %v, want ErrFenced", err)
	}
	got, err := two.VirtualClusters.Get(ctx, vc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Message != "in flight" {
		t.Fatalf("the write in flight was lost: %+v", got.Status)
	}
}
