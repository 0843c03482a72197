package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one embedded schema change, NNNN_name.sql.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	return loadMigrations(migrationFiles)
}

func loadMigrations(fsys fs.FS) ([]Migration, error) {
	paths, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	seen := map[int]string{}
	for _, p := range paths {
		base := strings.TrimSuffix(p[len("migrations/"):], ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", p)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s have the same version %d", other, p, v)
		}
		seen[v] = p
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(data)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Migrate applies the embedded migrations that the database has not seen,
// recording each in schema_migrations, all in one transaction. It returns
// the versions it applied.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return s.migrate(ctx, ms)
}

// migrationLock is the PostgreSQL advisory lock that serializes hub
// replicas migrating one database ("nest" in ASCII).
const migrationLock = 0x6e657374

func (s *Store) migrate(ctx context.Context, ms []Migration) ([]int, error) {
	var applied []int
	err := s.InTx(ctx, func(ctx context.Context) error {
		if s.dialect == Postgres {
			// Replicas starting together: one migrates, the others wait
			// here and then find every version recorded.
			if _, err := s.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, migrationLock); err != nil {
				return fmt.Errorf("lock for migrations: %w", err)
			}
		}
		if _, err := s.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    BIGINT PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		for _, m := range ms {
			var n int
			if err := s.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			if n > 0 {
				continue
			}
			for _, stmt := range splitStatements(m.SQL) {
				if _, err := s.exec(ctx, stmt); err != nil {
					return fmt.Errorf("apply migration %04d_%s: %w", m.Version, m.Name, err)
				}
			}
			if _, err := s.exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, micros(s.now())); err != nil {
				return fmt.Errorf("record migration %04d_%s: %w", m.Version, m.Name, err)
			}
			applied = append(applied, m.Version)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// splitStatements splits a migration at semicolons that end a line, after
// dropping -- comments. Migrations keep to that simple form.
func splitStatements(sqlText string) []string {
	var lines []string
	for _, line := range strings.Split(sqlText, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		lines = append(lines, strings.TrimRight(line, " \t"))
	}
	var out []string
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";\n") {
		stmt = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(stmt), ";"))
		if stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}
