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
	"slices"
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
	// path is the SQLite database's file, url the PostgreSQL database's.
	path string
	url  string
	// origin names this store in the changes it notifies.
	origin string

	// stmts are the prepared statements of the queries run so far, by
	// their text (as written, with ? placeholders).
	stmtMu sync.RWMutex
	stmts  map[string]*sql.Stmt

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
		// A few connections, all kept open: a new one costs its pragmas
		// and a parse of the schema at its first statement, and readers
		// beyond the CPUs only queue inside SQLite.
		db.SetMaxOpenConns(sqliteConns)
		db.SetMaxIdleConns(sqliteConns)
		s = &Store{db: db, dialect: SQLite, path: path}
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("open postgres database: %w", err)
		}
		db.SetMaxOpenConns(20)
		db.SetMaxIdleConns(20)
		s = &Store{db: db, dialect: Postgres, url: url}
	default:
		return nil, fmt.Errorf("database %q: want sqlite:PATH or postgres://...", RedactURL(url))
	}
	s.now = time.Now
	s.origin = newOrigin()
	s.stmts = map[string]*sql.Stmt{}
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
func (s *Store) Close() error {
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		_ = st.Close()
	}
	s.stmts = map[string]*sql.Stmt{}
	s.stmtMu.Unlock()
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

type txKey struct{}

// txState is the transaction of a context, and what its commit must
// also do.
type txState struct {
	tx *sql.Tx
	// authChanged: the transaction wrote data that principals are made
	// of, so the commit bumps the auth epoch.
	authChanged bool
	// changes are notified to the other replicas when it commits.
	changes []Change
	// fenced: the leader epoch of the context's fence was checked.
	fenced bool
	// epochs are the change epochs (tables) its commit bumps.
	epochs []string
}

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
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		if err := s.checkFence(ctx, st); err != nil {
			return err
		}
		return fn(ctx)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	st := &txState{tx: tx}
	if err := s.checkFence(context.WithValue(ctx, txKey{}, st), st); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := fn(context.WithValue(ctx, txKey{}, st)); err != nil {
		_ = tx.Rollback()
		return err
	}
	if st.authChanged {
		// Last, so that the epoch's row lock is the last lock taken
		// (PostgreSQL): it adds no lock cycle between transactions.
		if _, err := s.exec(context.WithValue(ctx, txKey{}, st), `UPDATE auth_epoch SET epoch = epoch + 1 WHERE id = 1`); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("bump the auth epoch: %w", err)
		}
	}
	for _, name := range st.epochs {
		// Last, like the auth epoch: the row lock is held only until the
		// commit.
		if _, err := s.exec(context.WithValue(ctx, txKey{}, st), `UPDATE change_epoch SET epoch = epoch + 1 WHERE name = ?`, name); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("bump the change epoch of %s: %w", name, err)
		}
	}
	if err := s.sendChanges(context.WithValue(ctx, txKey{}, st), st.changes); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", s.mapError(err))
	}
	s.committedChanges(st.changes)
	return nil
}

// authChanged marks the transaction of ctx as one that changes what
// principals are made of (users, keys, teams, roles, bindings, tenants,
// projects): its commit bumps the auth epoch.
func authChanged(ctx context.Context) {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		st.authChanged = true
	}
}

// epochChanged marks the transaction of ctx as one that changes the
// collection stored in table: its commit bumps the table's change epoch.
func epochChanged(ctx context.Context, table string) {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && !slices.Contains(st.epochs, table) {
		st.epochs = append(st.epochs, table)
	}
}

// Epochs returns the auth epoch (see AuthEpoch) and the change epoch of
// the collection stored in table: a number that every committed change of
// the collection increases, in the same transaction. What was read from
// the collection (and from auth data) after the two were read stays true
// while both stay the same, on any number of replicas. Only the virtual
// clusters have a change epoch ("virtual_clusters").
func (s *Store) Epochs(ctx context.Context, table string) (auth, change int64, err error) {
	if err := s.queryRow(ctx, `SELECT a.epoch, c.epoch FROM auth_epoch a, change_epoch c WHERE a.id = 1 AND c.name = ?`, table).Scan(&auth, &change); err != nil {
		return 0, 0, fmt.Errorf("read the epochs of %s: %w", table, err)
	}
	return auth, change, nil
}

// AuthEpoch returns the auth epoch: a number that every committed change
// of users, API keys, teams and their members, roles, role bindings,
// tenants and projects increases, in the same transaction as the change.
// A principal loaded at an epoch stays true while the epoch does, which
// lets the hub keep principals between requests on any number of
// replicas.
func (s *Store) AuthEpoch(ctx context.Context) (int64, error) {
	var n int64
	if err := s.queryRow(ctx, `SELECT epoch FROM auth_epoch WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read the auth epoch: %w", err)
	}
	return n, nil
}

func (s *Store) q(ctx context.Context) querier {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		return st.tx
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

// sqliteConns is the size of SQLite's connection pool; maxStatements
// bounds the prepared statements kept (the hub's queries are a fixed
// set: past the bound, queries run unprepared).
const (
	sqliteConns   = 8
	maxStatements = 512
)

// statement returns the querier to run query on: a prepared statement
// (in ctx's transaction, if any) when the statement cache has or takes
// it, else the database or transaction itself. The text is rebound for
// PostgreSQL.
func (s *Store) statement(ctx context.Context, query string) (querier, string) {
	ts, inTx := ctx.Value(txKey{}).(*txState)
	var st *sql.Stmt
	if inTx {
		// Never prepare a new statement from inside a transaction: that
		// takes a second connection from the pool while the transaction
		// holds one, and with every connection held by transactions
		// waiting for SQLite's write lock, the one holding it would wait
		// for a connection forever. A cached statement is prepared on the
		// transaction's own connection.
		st = s.cached(query)
	} else {
		st = s.prepared(ctx, query)
	}
	switch {
	case st != nil && inTx:
		return stmtQuerier{ts.tx.StmtContext(ctx, st)}, ""
	case st != nil:
		return stmtQuerier{st}, ""
	case inTx:
		return ts.tx, s.rebind(query)
	default:
		return s.db, s.rebind(query)
	}
}

// prepared returns the cached prepared statement of a data statement
// (SELECT, INSERT, UPDATE, DELETE), preparing it on first use; nil for
// other statements (schema changes), when the cache is full or when
// preparing fails (running it unprepared then reports the error).
// database/sql prepares a statement once per pooled connection and
// keeps it while the connection lives; PostgreSQL's driver caches its own
// statements by text as well, so there the gain is the rebinding.
func (s *Store) prepared(ctx context.Context, query string) *sql.Stmt {
	if st := s.cached(query); st != nil {
		return st
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(query), " ")
	switch strings.ToUpper(verb) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
	default:
		return nil
	}
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	if st, ok := s.stmts[query]; ok {
		return st
	}
	if len(s.stmts) >= maxStatements {
		return nil
	}
	st, err := s.db.PrepareContext(ctx, s.rebind(query))
	if err != nil {
		return nil
	}
	s.stmts[query] = st
	return st
}

// cached returns the prepared statement of query, if there is one.
func (s *Store) cached(query string) *sql.Stmt {
	s.stmtMu.RLock()
	defer s.stmtMu.RUnlock()
	return s.stmts[query]
}

// stmtQuerier runs a prepared statement; the query text is ignored.
type stmtQuerier struct{ st *sql.Stmt }

func (q stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return q.st.ExecContext(ctx, args...)
}

func (q stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return q.st.QueryContext(ctx, args...)
}

func (q stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return q.st.QueryRowContext(ctx, args...)
}

func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = s.statementContext(ctx)
	q, text := s.statement(ctx, query)
	res, err := q.ExecContext(ctx, text, args...)
	return res, s.mapError(err)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = s.statementContext(ctx)
	q, text := s.statement(ctx, query)
	rows, err := q.QueryContext(ctx, text, args...)
	return rows, s.mapError(err)
}

func (s *Store) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = s.statementContext(ctx)
	q, text := s.statement(ctx, query)
	return q.QueryRowContext(ctx, text, args...)
}

// statementContext is the context one statement runs with. SQLite's
// statements are not cancelled: they are local and short (busy_timeout
// bounds the wait for the write lock), and a cancellable context costs a
// goroutine per statement in database/sql and one per row in the driver.
// A transaction still ends with its own context.
func (s *Store) statementContext(ctx context.Context) context.Context {
	if s.dialect == SQLite {
		return context.WithoutCancel(ctx)
	}
	return ctx
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
