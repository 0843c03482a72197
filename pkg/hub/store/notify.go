package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Change is a committed change of an object the reconciler drives
// (Resource "hostcluster" or "virtualcluster"). The zero Change means
// "changes may have been missed": the listener should look at everything
// again.
type Change struct {
	Resource string
	ID       string
}

// changeChannel is the PostgreSQL channel of the hub's changes.
const changeChannel = "nest_hub_changes"

// NotifyChange tells the other hub replicas on this database that an
// object changed, once the transaction of ctx commits (at once outside
// one); a rolled-back transaction tells nothing. On PostgreSQL it is a
// pg_notify in the transaction; on SQLite, which one process serves, an
// in-process signal to the other stores open on the same file.
//
// This store's own listeners do not hear it: the process that makes a
// change tells its own reconciler directly.
func (s *Store) NotifyChange(ctx context.Context, resource, id string) error {
	c := Change{Resource: resource, ID: id}
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		for _, have := range st.changes {
			if have == c {
				return nil
			}
		}
		st.changes = append(st.changes, c)
		return nil
	}
	return s.InTx(ctx, func(ctx context.Context) error { return s.NotifyChange(ctx, resource, id) })
}

// sendChanges, before the commit of a transaction, sends its changes on
// PostgreSQL (delivered by the server only if the transaction commits).
func (s *Store) sendChanges(ctx context.Context, changes []Change) error {
	if s.dialect != Postgres {
		return nil
	}
	for _, c := range changes {
		if _, err := s.exec(ctx, `SELECT pg_notify(?, ?)`, changeChannel, s.origin+" "+c.Resource+" "+c.ID); err != nil {
			return fmt.Errorf("notify the change of %s %s: %w", c.Resource, c.ID, err)
		}
	}
	return nil
}

// committedChanges, after the commit of a transaction, signals its
// changes to the other stores of this process on the same SQLite file.
func (s *Store) committedChanges(changes []Change) {
	if s.dialect != SQLite || len(changes) == 0 {
		return
	}
	local.mu.Lock()
	defer local.mu.Unlock()
	for l := range local.byPath[s.path] {
		if l.origin != s.origin {
			for _, c := range changes {
				l.send(c)
			}
		}
	}
}

// local holds the listeners of SQLite stores in this process, by the
// database file.
var local = struct {
	mu     sync.Mutex
	byPath map[string]map[*Listener]bool
}{byPath: map[string]map[*Listener]bool{}}

// newOrigin names one open store in the notifications it sends.
func newOrigin() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Listener receives the changes that other hub replicas commit.
type Listener struct {
	// C receives the changes; a zero Change means some may have been
	// missed (a lost connection, a full buffer). It is closed when the
	// listener ends.
	C <-chan Change

	c      chan Change
	origin string
	cancel context.CancelFunc
	done   chan struct{}
	// missed: a change did not fit in C; a zero Change follows as soon
	// as there is room.
	mu     sync.Mutex
	missed bool
}

// listenBuffer is how many changes wait in a Listener's channel.
const listenBuffer = 1024

// send queues c without blocking; when C is full it is dropped and a
// zero Change (look at everything) is queued as soon as there is room.
func (l *Listener) send(c Change) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.missed {
		select {
		case l.c <- Change{}:
			l.missed = false
		default:
			return
		}
	}
	select {
	case l.c <- c:
	default:
		l.missed = true
	}
}

// Close stops the listener and waits until C is closed.
func (l *Listener) Close() {
	l.cancel()
	<-l.done
}

// Listen returns a listener of the changes committed through the other
// stores open on this database (other hub replicas), listening when it
// returns. It ends when ctx is done or on Close. On PostgreSQL it keeps a
// connection of its own (LISTEN), connecting again when it is lost (and
// then sends a zero Change, since changes may have been missed).
func (s *Store) Listen(ctx context.Context) (*Listener, error) {
	ctx, cancel := context.WithCancel(ctx)
	c := make(chan Change, listenBuffer)
	l := &Listener{C: c, c: c, origin: s.origin, cancel: cancel, done: make(chan struct{})}
	if s.dialect == SQLite {
		local.mu.Lock()
		if local.byPath[s.path] == nil {
			local.byPath[s.path] = map[*Listener]bool{}
		}
		local.byPath[s.path][l] = true
		local.mu.Unlock()
		go func() {
			<-ctx.Done()
			local.mu.Lock()
			delete(local.byPath[s.path], l)
			if len(local.byPath[s.path]) == 0 {
				delete(local.byPath, s.path)
			}
			close(l.c)
			local.mu.Unlock()
			close(l.done)
		}()
		return l, nil
	}
	conn, err := s.listenConn(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer close(l.done)
		defer close(l.c)
		for {
			_ = s.receive(ctx, conn, l)
			_ = conn.Close(context.WithoutCancel(ctx))
			if ctx.Err() != nil {
				return
			}
			// Lost: connect again (backing off), then look at everything.
			var err error
			for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				if conn, err = s.listenConn(ctx); err == nil {
					break
				}
			}
			l.send(Change{})
		}
	}()
	return l, nil
}

// listenConn opens a connection of its own that listens on the channel.
func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return nil, fmt.Errorf("connect to listen for changes: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen for changes: %w", err)
	}
	return conn, nil
}

// receive passes the notifications of conn to l until ctx is done or the
// connection fails.
func (s *Store) receive(ctx context.Context, conn *pgx.Conn, l *Listener) error {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("wait for changes: %w", err)
		}
		origin, rest, _ := strings.Cut(n.Payload, " ")
		resource, id, _ := strings.Cut(rest, " ")
		if origin == l.origin || resource == "" {
			continue
		}
		l.send(Change{Resource: resource, ID: id})
	}
}
