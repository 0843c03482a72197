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

// leaderLock is the PostgreSQL advisory lock of the leader ("nest" in
// ASCII, then "lead"); migrations use another one.
const leaderLock = 0x6e6573746c656164

// Leader is this replica's hold of the store's leader lock: only its
// holder runs the reconciler. On PostgreSQL it is a session advisory lock
// on one connection kept for the purpose, so it ends when that connection
// does (the replica died, or lost the database); on SQLite, which one
// replica serves, an exclusive lock on the file DATABASE-leader.
type Leader struct {
	mu   sync.Mutex
	conn *sql.Conn // PostgreSQL
	file *os.File  // SQLite
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
		return &Leader{file: f}, nil
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
	return &Leader{conn: conn}, nil
}

// Check reports whether the lock is still held: on PostgreSQL, whether its
// connection still answers and still holds it. A holder whose Check fails
// must stop acting as leader at once.
func (l *Leader) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.file != nil:
		return nil
	case l.conn == nil:
		return errors.New("the leader lock was released")
	}
	var held bool
	err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()
		AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 1)`, int64(leaderLock>>32), int64(leaderLock&0xffffffff)).Scan(&held)
	if err != nil {
		return fmt.Errorf("check the leader lock: %w", err)
	}
	if !held {
		return errors.New("the leader lock is not held any more")
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
