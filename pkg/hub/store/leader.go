package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

// ErrNotLeader is a leader lock held by another hub replica.
var ErrNotLeader = errors.New("another hub replica holds the leader lock")

// ErrFenced is a write of a leader whose lock another replica has taken
// since (the leader epoch moved on).
var ErrFenced = errors.New("another hub replica has taken the leader lock since")

type fenceKey struct{}

// WithFence returns a context whose writes (Create, Update, Delete of the
// collections, and any InTx) check, in their transaction, that the leader
// epoch is still epoch, and fail with ErrFenced otherwise. On PostgreSQL
// the check holds the epoch's row in share mode until the transaction
// ends, so a new leader's epoch waits for the writes in flight.
func WithFence(ctx context.Context, epoch int64) context.Context {
	return context.WithValue(ctx, fenceKey{}, epoch)
}

func fenceOf(ctx context.Context) (int64, bool) {
	epoch, ok := ctx.Value(fenceKey{}).(int64)
	return epoch, ok
}

// checkFence checks the fence of ctx, once per transaction.
func (s *Store) checkFence(ctx context.Context, st *txState) error {
	want, ok := fenceOf(ctx)
	if !ok || st.fenced {
		return nil
	}
	q := `SELECT epoch FROM leader_epoch WHERE id = 1`
	if s.dialect == Postgres {
		q += ` FOR SHARE`
	}
	var epoch int64
	if err := s.queryRow(ctx, q).Scan(&epoch); err != nil {
		return fmt.Errorf("check the leader epoch: %w", err)
	}
	if epoch != want {
		return fmt.Errorf("%w: the leader epoch is %d, not %d", ErrFenced, epoch, want)
	}
	st.fenced = true
	return nil
}

// leaderLock is the PostgreSQL advisory lock of the leader ("nest" in
// ASCII, then "lead"); migrations use another one.
const leaderLock = 0x6e6573746c656164

// Leader is this replica's hold of the store's leader lock: only its
// holder runs the reconciler. On PostgreSQL it is a session advisory lock
// on one connection kept for the purpose, so it ends when that connection
// does (the replica died, or lost the database); on SQLite, which one
// replica serves, an exclusive lock on the file DATABASE-leader.
//
// Taking the lock increases the store's leader epoch; the holder's writes
// carry it (WithFence) and are refused once another replica has taken the
// lock since, even before the holder's Check notices.
type Leader struct {
	mu    sync.Mutex
	conn  *sql.Conn // PostgreSQL
	file  *os.File  // SQLite
	epoch int64
	store *Store
}

// Epoch is the leader epoch this hold of the lock began: the fence of its
// writes (WithFence).
func (l *Leader) Epoch() int64 { return l.epoch }

// bumpEpoch increases the leader epoch, as a new holder of the lock.
func (s *Store) bumpEpoch(ctx context.Context, q querier) (int64, error) {
	var epoch int64
	if _, err := q.ExecContext(ctx, s.rebind(`UPDATE leader_epoch SET epoch = epoch + 1 WHERE id = 1`)); err != nil {
		return 0, fmt.Errorf("increase the leader epoch: %w", err)
	}
	if err := q.QueryRowContext(ctx, `SELECT epoch FROM leader_epoch WHERE id = 1`).Scan(&epoch); err != nil {
		return 0, fmt.Errorf("read the leader epoch: %w", err)
	}
	return epoch, nil
}

// TryLeader takes the leader lock, or fails at once with ErrNotLeader when
// another replica (or process) holds it.
func (s *Store) TryLeader(ctx context.Context) (*Leader, error) {
	if s.dialect == SQLite {
		path := s.path + "-leader"
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open the leader lock %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			_ = f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, ErrNotLeader
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		epoch, err := s.bumpEpoch(ctx, s.db)
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		return &Leader{file: f, epoch: epoch, store: s}, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect for the leader lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, int64(leaderLock)).Scan(&ok); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("take the leader lock: %w", err)
	}
	if !ok {
		_ = conn.Close()
		return nil, ErrNotLeader
	}
	l := &Leader{conn: conn, store: s}
	// On the lock's connection: a new epoch only while holding the lock.
	// It waits for the writes of the previous holder in flight (they
	// hold the epoch's row in share mode), and refuses the later ones.
	if l.epoch, err = s.bumpEpoch(ctx, conn); err != nil {
		l.Release()
		return nil, err
	}
	return l, nil
}

// Check reports whether the lock is still held: on PostgreSQL, whether its
// connection still answers and still holds it; and whether the leader
// epoch is still the one it began. A holder whose Check fails must stop
// acting as leader at once.
func (l *Leader) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var q querier
	switch {
	case l.file != nil:
		q = l.store.db
	case l.conn == nil:
		return errors.New("the leader lock was released")
	default:
		q = l.conn
		var held bool
		err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
		AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1)`, int64(leaderLock>>32), int64(leaderLock&0xffffffff)).Scan(&held)
		if err != nil {
			return fmt.Errorf("check the leader lock: %w", err)
		}
		if !held {
			return errors.New("the leader lock is not held any more")
		}
	}
	var epoch int64
	if err := q.QueryRowContext(ctx, `SELECT epoch FROM leader_epoch WHERE id = 1`).Scan(&epoch); err != nil {
		return fmt.Errorf("check the leader epoch: %w", err)
	}
	if epoch != l.epoch {
		return fmt.Errorf("%w: the leader epoch is %d, not %d", ErrFenced, epoch, l.epoch)
	}
	return nil
}

// Release gives the lock up (closing its connection or file).
func (l *Leader) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_ = l.file.Close()
		l.file = nil
	}
	if l.conn != nil {
		// Closing the connection would return it to the pool, still
		// holding the lock: unlock first, and drop the connection if
		// that fails.
		if _, err := l.conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(leaderLock)); err != nil {
			_ = l.conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = l.conn.Close()
		l.conn = nil
	}
}
