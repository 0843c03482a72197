// Package store is the hub's persistence: one schema for SQLite (the
// default) and PostgreSQL (for shared deployments), embedded ordered
// migrations, optimistic concurrency on every object and stable cursor
// pagination.
//
// Every object carries Meta: an id generated here (time-ordered, so lists
// ordered by id are in creation order and cursors stay stable), a name,
// creation and update times and a resourceVersion that every update bumps.
// An update names the version it read; a stale one fails with ErrConflict.
//
// Writes that belong together (an object, its audit event and its
// idempotency record) run in one transaction: Store.InTx puts the
// transaction in the context, and every call made with that context joins it.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/mattn/go-sqlite3"
)

// Errors callers check with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrConflict      = errors.New("the object was modified since it was read")
	ErrAlreadyExists = errors.New("already exists")
	// ErrReference is a write naming an object that does not exist.
	ErrReference = errors.New("refers to an object that does not exist")
)

// Dialect is the SQL flavour of a store.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the hub's database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	now     func() time.Time

	Tenants      *Collection[Tenant]
	Projects     *Collection[Project]
	Users        *Collection[User]
	Teams        *Collection[Team]
	Roles        *Collection[Role]
	RoleBindings *Collection[RoleBinding]
	APIKeys      *Collection[APIKey]

	HostClusters    *Collection[HostCluster]
	ClusterGroups   *Collection[ClusterGroup]
	VirtualClusters *Collection[VirtualCluster]
	ClusterProfiles *Collection[ClusterProfile]
}

// Open opens (creating when needed) the database named by url:
// "sqlite:PATH" or "postgres://..." (also "postgresql://"). It does not
// migrate: call Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	var s *Store
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			return nil, fmt.Errorf("database %q: sqlite needs a path (sqlite:PATH)", url)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create the directory of sqlite database %s: %w", path, err)
		}
		// WAL lets readers run beside the one writer; busy_timeout makes a
		// writer wait for the lock instead of failing; immediate
		// transactions take the write lock at BEGIN, so two transactions
		// never deadlock upgrading a read lock; foreign keys are off by
		// default in SQLite.
		dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_foreign_keys=on&_synchronous=NORMAL"
		db, err := sql.Open("sqlite3", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
		}
		s = &Store{db: db, dialect: SQLite}
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("open postgres database: %w", err)
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
		s = &Store{db: db, dialect: Postgres}
	default:
		return nil, fmt.Errorf("database %q: want sqlite:PATH or postgres://...", RedactURL(url))
	}
	s.now = time.Now
	s.initCollections()
	s.initFleet()
	s.initProfiles()
	if err := s.db.PingContext(ctx); err != nil {
		_ = s.db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", s.dialect, err)
	}
	return s, nil
}

// RedactURL hides the password of a database URL, for messages and logs.
func RedactURL(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return url
	}
	if user, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return url
}

// Dialect returns the store's SQL flavour.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

type txKey struct{}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// InTx runs fn in one transaction: calls on s made with the context fn
// receives join it. It commits when fn returns nil and rolls back
// otherwise. Nested calls join the outer transaction.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return fn(ctx)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(context.WithValue(ctx, txKey{}, tx)); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", s.mapError(err))
	}
	return nil
}

func (s *Store) q(ctx context.Context) querier {
	if tx, ok := ctx.Value(txKey{}).(*sql.Tx); ok {
		return tx
	}
	return s.db
}

// rebind turns ? placeholders into $1, $2... for PostgreSQL. The hub's SQL
// never has a ? inside a string literal.
func (s *Store) rebind(query string) string {
	if s.dialect != Postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := s.q(ctx).ExecContext(ctx, s.rebind(query), args...)
	return res, s.mapError(err)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := s.q(ctx).QueryContext(ctx, s.rebind(query), args...)
	return rows, s.mapError(err)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.q(ctx).QueryRowContext(ctx, s.rebind(query), args...)
}

// mapError turns constraint violations of either database into the
// package's sentinels, keeping the driver's error for the message.
func (s *Store) mapError(err error) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
			return fmt.Errorf("%w: %v", ErrAlreadyExists, err)
		case sqlite3.ErrConstraintForeignKey:
			return fmt.Errorf("%w: %v", ErrReference, err)
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %v", ErrAlreadyExists, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %v", ErrReference, err)
		}
	}
	return err
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// insertSQL is an INSERT of id and cols into table.
func insertSQL(table string, cols []string) string {
	return "INSERT INTO " + table + " (id, " + strings.Join(cols, ", ") + ") VALUES (?" + strings.Repeat(", ?", len(cols)) + ")"
}

// NewID returns a new object id, 28 hex digits: Unix milliseconds (12),
// a sequence number (4) that keeps ids made by this process strictly
// increasing within a millisecond, and 48 random bits (12) that keep ids of
// several hub replicas apart. Lists ordered by id are in creation order.
func NewID() string {
	idMu.Lock()
	ms := time.Now().UnixMilli()
	if ms <= idLastMS {
		ms = idLastMS
		idSeq++
		if idSeq > 0xffff {
			ms++
			idSeq = 0
		}
	} else {
		idSeq = 0
	}
	idLastMS = ms
	seq := idSeq
	idMu.Unlock()
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("%012x%04x%s", ms, seq, hex.EncodeToString(b[:]))
}

var (
	idMu     sync.Mutex
	idLastMS int64
	idSeq    int
)

// Meta is what every object has.
type Meta struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	ResourceVersion int64     `json:"resourceVersion"`
}

// GetMeta returns the Meta of any object that embeds it.
func (m *Meta) GetMeta() *Meta { return m }

// micros and fromMicros are the one encoding of times in the database.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}
