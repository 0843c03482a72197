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

// next returns the next change a listener hears (a generous deadlock
// guard only bounds the wait).
func next(t *testing.T, l *store.Listener) store.Change {
	t.Helper()
	select {
	case c, ok := <-l.C:
		if !ok {
			t.Fatal("the listener ended")
		}
		return c
	case <-time.After(2 * time.Minute):
		t.Fatal("no change heard")
	}
	return store.Change{}
}

// TestNotifyChange: two stores on one database (two hub replicas). A
// change committed through one is heard by the other's listener; its own
// changes and a rolled-back transaction's are not. On PostgreSQL, a
// listener whose connection dies connects again and says that changes may
// have been missed.
func TestNotifyChange(t *testing.T) {
	for _, b := range storetest.Both(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.URL(t)
			one, two := storetest.OpenURL(t, url), storetest.OpenURL(t, url)
			l, err := one.Listen(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()

			// Its own change, a rolled-back one, then the other's, in this
			// order: the first change heard must be the last.
			if err := one.NotifyChange(ctx, "virtualcluster", "own"); err != nil {
				t.Fatal(err)
			}
			rollback := errors.New("rolled back")
			if err := two.InTx(ctx, func(ctx context.Context) error {
				if err := two.NotifyChange(ctx, "virtualcluster", "rolled-back"); err != nil {
					return err
				}
				return rollback
			}); !errors.Is(err, rollback) {
				t.Fatal(err)
			}
			if err := two.InTx(ctx, func(ctx context.Context) error {
				if err := two.Tenants.Create(ctx, &store.Tenant{Meta: store.Meta{Name: "acme"}}); err != nil {
					return err
				}
				for range 2 { // told twice, sent once
					if err := two.NotifyChange(ctx, "virtualcluster", "theirs"); err != nil {
						return err
					}
				}
				return two.NotifyChange(ctx, "hostcluster", "theirs")
			}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []store.Change{{Resource: "virtualcluster", ID: "theirs"}, {Resource: "hostcluster", ID: "theirs"}} {
				if got := next(t, l); got != want {
					t.Fatalf("heard %+v, want %+v", got, want)
				}
			}

			if b.Name == "postgres" {
				// The listener's connection is killed: it connects again and
				// sends a zero Change (look at everything), then hears on.
				db, err := sql.Open("pgx", url)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var killed int
				if err := db.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity
					WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
					t.Fatal(err)
				}
				if killed != 1 {
					t.Fatalf("killed %d listening connections, want 1", killed)
				}
				if got := next(t, l); got != (store.Change{}) {
					t.Fatalf("after a lost connection heard %+v, want the zero Change", got)
				}
				if err := two.NotifyChange(ctx, "virtualcluster", "after"); err != nil {
					t.Fatal(err)
				}
				if got := next(t, l); got != (store.Change{Resource: "virtualcluster", ID: "after"}) {
					t.Fatalf("after reconnecting heard %+v", got)
				}
			}
			l.Close()
			if _, ok := <-l.C; ok {
				t.Fatal("a closed listener's channel is open")
			}
		})
	}
}
