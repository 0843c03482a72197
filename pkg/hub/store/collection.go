package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Limits of a list page.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// ErrInvalidCursor is a cursor this store did not hand out.
var ErrInvalidCursor = errors.New("invalid cursor")

// ErrInvalidFilter is a filter the list does not support.
var ErrInvalidFilter = errors.New("unsupported filter")

// ListOptions select one page of a list. Filters are exact matches on the
// names a collection supports (for example "name", "tenantId").
type ListOptions struct {
	Limit   int
	Cursor  string
	Filters map[string]string
	// InProject, on a collection with a projectId filter, lists the
	// project's objects only if the project exists in that tenant, in the
	// same statement: a page with items proves that it does (an empty one
	// does not say). It saves API lists a lookup of the project.
	InProject *ProjectKey
}

// ProjectKey names a project in its tenant.
type ProjectKey struct {
	TenantID string
	ID       string
}

// Page is one page of a list; NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"nextCursor,omitempty"`
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{28}$`)

func encodeCursor(lastID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + lastID))
}

// CursorAfter is the cursor of the page that starts after the object with
// id: for lists that filter a collection's pages further.
func CursorAfter(id string) string { return encodeCursor(id) }

func decodeCursor(cursor string) (string, error) {
	data, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", ErrInvalidCursor
	}
	id, ok := strings.CutPrefix(string(data), "v1:")
	if !ok || !idPattern.MatchString(id) {
		return "", ErrInvalidCursor
	}
	return id, nil
}

// table describes how one kind of row maps to Go. Its primary key is the
// text column id, which orders pages.
type table[T any] struct {
	name string
	// cols are the columns besides id; fields returns codecs for them, in
	// the same order, bound to an object.
	cols   []string
	fields func(*T) []any
	// filters maps a filter name to its column.
	filters map[string]string
}

func (t *table[T]) selectSQL() string {
	return "SELECT id, " + strings.Join(t.cols, ", ") + " FROM " + t.name
}

func (t *table[T]) scan(row interface{ Scan(...any) error }, id *string, obj *T) error {
	return row.Scan(append([]any{id}, t.fields(obj)...)...)
}

// list returns one page ordered by id. setID stores the scanned id in the
// object.
func list[T any](ctx context.Context, s *Store, t *table[T], opts ListOptions, setID func(*T, string)) (Page[T], error) {
	limit := opts.Limit
	switch {
	case limit <= 0:
		limit = DefaultLimit
	case limit > MaxLimit:
		limit = MaxLimit
	}
	var where []string
	var args []any
	if opts.Cursor != "" {
		after, err := decodeCursor(opts.Cursor)
		if err != nil {
			return Page[T]{}, err
		}
		where = append(where, "id > ?")
		args = append(args, after)
	}
	keys := make([]string, 0, len(opts.Filters))
	for k := range opts.Filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		col, ok := t.filters[k]
		if !ok {
			return Page[T]{}, fmt.Errorf("%w %q", ErrInvalidFilter, k)
		}
		where = append(where, col+" = ?")
		args = append(args, opts.Filters[k])
	}
	if p := opts.InProject; p != nil {
		col, ok := t.filters["projectId"]
		if !ok {
			return Page[T]{}, fmt.Errorf("%w: %s have no project", ErrInvalidFilter, t.name)
		}
		where = append(where, col+" = ?", "EXISTS (SELECT 1 FROM projects WHERE id = ? AND tenant_id = ?)")
		args = append(args, p.ID, p.ID, p.TenantID)
	}
	q := t.selectSQL()
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// The limit is a parameter, so that every page size shares one
	// prepared statement.
	q += " ORDER BY id LIMIT ?"
	args = append(args, limit+1)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return Page[T]{}, fmt.Errorf("list %s: %w", t.name, err)
	}
	defer rows.Close()
	page := Page[T]{Items: []T{}}
	var lastID string
	for rows.Next() {
		if len(page.Items) == limit {
			page.NextCursor = encodeCursor(lastID)
			break
		}
		var obj T
		var id string
		if err := t.scan(rows, &id, &obj); err != nil {
			return Page[T]{}, fmt.Errorf("list %s: %w", t.name, err)
		}
		setID(&obj, id)
		page.Items = append(page.Items, obj)
		lastID = id
	}
	if err := rows.Err(); err != nil {
		return Page[T]{}, fmt.Errorf("list %s: %w", t.name, err)
	}
	return page, nil
}

// Collection is the typed access to one kind of object with Meta.
type Collection[T any] struct {
	s *Store
	t *table[T]
	// meta returns the object's Meta.
	meta func(*T) *Meta
	// beforeDelete are statements run (with the id as their one argument)
	// in the deleting transaction, for rows that refer to the object
	// without a foreign key.
	beforeDelete []string
	// authData: principals are made of these objects, so every write
	// bumps the auth epoch (see Store.AuthEpoch).
	authData bool
	// epoch: every write bumps the collection's change epoch (see
	// Store.Epochs).
	epoch bool
}

func (c *Collection[T]) markAuthData() { c.authData = true }

// markEpoch makes every write of the collection bump its change epoch (a
// row of change_epoch named after its table).
func (c *Collection[T]) markEpoch() { c.epoch = true }

// marks notes in the transaction of ctx what its commit must bump.
func (c *Collection[T]) marks(ctx context.Context) {
	if c.authData {
		authChanged(ctx)
	}
	if c.epoch {
		epochChanged(ctx, c.t.name)
	}
}

// write runs fn, a write of the collection, in a transaction that bumps
// the auth epoch when the collection is auth data, or that checks the
// leader epoch when ctx is fenced (WithFence); else as it comes.
func (c *Collection[T]) write(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, fenced := fenceOf(ctx); !c.authData && !c.epoch && !fenced {
		return fn(ctx)
	}
	return c.s.InTx(ctx, func(ctx context.Context) error {
		c.marks(ctx)
		return fn(ctx)
	})
}

// metaCols are the columns of Meta besides id, in the order metaFields
// returns them.
var metaCols = []string{"name", "created_at", "updated_at", "resource_version"}

func metaFields(m *Meta) []any {
	return []any{&m.Name, timeCol{&m.CreatedAt}, timeCol{&m.UpdatedAt}, &m.ResourceVersion}
}

func newCollection[T any](s *Store, name string, meta func(*T) *Meta, cols []string, fields func(*T) []any, filters map[string]string) *Collection[T] {
	all := map[string]string{"name": "name"}
	for k, v := range filters {
		all[k] = v
	}
	return &Collection[T]{
		s:    s,
		meta: meta,
		t: &table[T]{
			name: name,
			cols: append(append([]string{}, metaCols...), cols...),
			fields: func(obj *T) []any {
				return append(metaFields(meta(obj)), fields(obj)...)
			},
			filters: all,
		},
	}
}

// Create inserts obj, setting its id (when empty), times and
// resourceVersion 1. A duplicate name fails with ErrAlreadyExists.
func (c *Collection[T]) Create(ctx context.Context, obj *T) error {
	m := c.meta(obj)
	if m.ID == "" {
		m.ID = NewID()
	}
	m.CreatedAt = c.s.now().UTC().Truncate(1000)
	m.UpdatedAt = m.CreatedAt
	m.ResourceVersion = 1
	return c.write(ctx, func(ctx context.Context) error {
		if _, err := c.s.exec(ctx, insertSQL(c.t.name, c.t.cols), append([]any{m.ID}, c.t.fields(obj)...)...); err != nil {
			return fmt.Errorf("create %s %q: %w", c.t.name, m.Name, err)
		}
		return nil
	})
}

// Get returns the object with id, or ErrNotFound.
func (c *Collection[T]) Get(ctx context.Context, id string) (*T, error) {
	var obj T
	var gotID string
	err := c.t.scan(c.s.queryRow(ctx, c.t.selectSQL()+" WHERE id = ?", id), &gotID, &obj)
	if isNoRows(err) {
		return nil, fmt.Errorf("%s %s: %w", c.t.name, id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", c.t.name, id, err)
	}
	c.meta(&obj).ID = gotID
	return &obj, nil
}

// Find returns the first object matching every filter, or ErrNotFound.
func (c *Collection[T]) Find(ctx context.Context, filters map[string]string) (*T, error) {
	page, err := c.List(ctx, ListOptions{Limit: 1, Filters: filters})
	if err != nil {
		return nil, err
	}
	if len(page.Items) == 0 {
		return nil, fmt.Errorf("%s matching %v: %w", c.t.name, filters, ErrNotFound)
	}
	return &page.Items[0], nil
}

// List returns one page of objects ordered by id (creation order).
func (c *Collection[T]) List(ctx context.Context, opts ListOptions) (Page[T], error) {
	return list(ctx, c.s, c.t, opts, func(obj *T, id string) { c.meta(obj).ID = id })
}

// Update writes obj if its ResourceVersion is still the stored one, then
// bumps it. The name and creation time never change. A stale version
// fails with ErrConflict, a missing object with ErrNotFound.
func (c *Collection[T]) Update(ctx context.Context, obj *T) error {
	m := c.meta(obj)
	fields := c.t.fields(obj)
	var sets []string
	var args []any
	for i, col := range c.t.cols {
		if col == "name" || col == "created_at" || col == "resource_version" || col == "updated_at" {
			continue
		}
		sets = append(sets, col+" = ?")
		args = append(args, fields[i])
	}
	now := c.s.now().UTC().Truncate(1000)
	q := "UPDATE " + c.t.name + " SET " + strings.Join(append(sets, "updated_at = ?", "resource_version = resource_version + 1"), ", ") +
		" WHERE id = ? AND resource_version = ?"
	args = append(args, micros(now), m.ID, m.ResourceVersion)
	err := c.write(ctx, func(ctx context.Context) error {
		res, err := c.s.exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("update %s %s: %w", c.t.name, m.ID, err)
		}
		return c.checkAffected(ctx, res, m.ID)
	})
	if err != nil {
		return err
	}
	m.UpdatedAt = now
	m.ResourceVersion++
	return nil
}

// Delete removes the object with id. resourceVersion 0 deletes whatever
// version is stored; another value must match it (else ErrConflict).
func (c *Collection[T]) Delete(ctx context.Context, id string, resourceVersion int64) error {
	return c.s.InTx(ctx, func(ctx context.Context) error {
		c.marks(ctx)
		for _, stmt := range c.beforeDelete {
			if _, err := c.s.exec(ctx, stmt, id); err != nil {
				return fmt.Errorf("delete %s %s: %w", c.t.name, id, err)
			}
		}
		q := "DELETE FROM " + c.t.name + " WHERE id = ?"
		args := []any{id}
		if resourceVersion != 0 {
			q += " AND resource_version = ?"
			args = append(args, resourceVersion)
		}
		res, err := c.s.exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("delete %s %s: %w", c.t.name, id, err)
		}
		return c.checkAffected(ctx, res, id)
	})
}

// checkAffected tells a stale write (ErrConflict) from a missing object
// (ErrNotFound) when a conditional statement touched no row.
func (c *Collection[T]) checkAffected(ctx context.Context, res sql.Result, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("write %s %s: %w", c.t.name, id, err)
	}
	if n > 0 {
		return nil
	}
	if _, err := c.Get(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("%s %s: %w", c.t.name, id, ErrConflict)
}
