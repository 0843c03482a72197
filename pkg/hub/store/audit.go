package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// AuditEvent is one entry of the append-only audit log. Before and After
// are JSON with secrets already redacted (package audit does that).
type AuditEvent struct {
	ID         string          `json:"id"`
	Time       time.Time       `json:"time"`
	Principal  string          `json:"principal"`
	Action     string          `json:"action"`
	Resource   string          `json:"resource"`
	ResourceID string          `json:"resourceId"`
	TenantID   string          `json:"tenantId,omitempty"`
	ProjectID  string          `json:"projectId,omitempty"`
	RequestID  string          `json:"requestId"`
	Before     json.RawMessage `json:"before,omitempty"`
	After      json.RawMessage `json:"after,omitempty"`
}

// rawCol stores JSON as text; empty is "".
type rawCol struct{ p *json.RawMessage }

func (c rawCol) Value() (driver.Value, error) { return string(*c.p), nil }

func (c rawCol) Scan(src any) error {
	switch v := src.(type) {
	case string:
		*c.p = json.RawMessage(v)
	case []byte:
		*c.p = append(json.RawMessage(nil), v...)
	}
	if len(*c.p) == 0 {
		*c.p = nil
	}
	return nil
}

var auditTable = &table[AuditEvent]{
	name: "audit_events",
	cols: []string{"time", "principal", "action", "resource", "resource_id", "tenant_id", "project_id", "request_id", "before_json", "after_json"},
	fields: func(e *AuditEvent) []any {
		return []any{timeCol{&e.Time}, &e.Principal, &e.Action, &e.Resource, &e.ResourceID, &e.TenantID, &e.ProjectID, &e.RequestID, rawCol{&e.Before}, rawCol{&e.After}}
	},
	filters: map[string]string{
		"principal": "principal", "action": "action", "resource": "resource", "resourceId": "resource_id",
		"tenantId": "tenant_id", "projectId": "project_id", "requestId": "request_id",
	},
}

// AppendAudit adds an event to the audit log, setting its id and time.
// There is no way to change or remove an event.
func (s *Store) AppendAudit(ctx context.Context, e *AuditEvent) error {
	e.ID = NewID()
	e.Time = s.now().UTC().Truncate(1000)
	if _, err := s.exec(ctx, insertSQL(auditTable.name, auditTable.cols), append([]any{e.ID}, auditTable.fields(e)...)...); err != nil {
		return fmt.Errorf("append audit event %s: %w", e.Action, err)
	}
	return nil
}

// ListAudit returns one page of the audit log, oldest first.
func (s *Store) ListAudit(ctx context.Context, opts ListOptions) (Page[AuditEvent], error) {
	return list(ctx, s, auditTable, opts, func(e *AuditEvent, id string) { e.ID = id })
}

// IdempotencyRecord is the remembered result of a create made with an
// Idempotency-Key: a retry with the same key and request replays it.
type IdempotencyRecord struct {
	Principal   string
	Key         string
	RequestHash string
	Status      int
	Response    []byte
	CreatedAt   time.Time
}

// GetIdempotency returns the record of a principal's key, or ErrNotFound.
func (s *Store) GetIdempotency(ctx context.Context, principal, key string) (*IdempotencyRecord, error) {
	r := &IdempotencyRecord{Principal: principal, Key: key}
	var resp string
	err := s.queryRow(ctx, `SELECT request_hash, status, response, created_at FROM idempotency_keys WHERE principal = ? AND idem_key = ?`,
		principal, key).Scan(&r.RequestHash, &r.Status, &resp, timeCol{&r.CreatedAt})
	if err != nil {
		if isNoRows(err) {
			return nil, fmt.Errorf("idempotency key: %w", ErrNotFound)
		}
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	r.Response = []byte(resp)
	return r, nil
}

// PutIdempotency stores a record; a concurrent twin fails with
// ErrAlreadyExists.
func (s *Store) PutIdempotency(ctx context.Context, r *IdempotencyRecord) error {
	r.CreatedAt = s.now().UTC().Truncate(1000)
	_, err := s.exec(ctx, `INSERT INTO idempotency_keys (principal, idem_key, request_hash, status, response, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Principal, r.Key, r.RequestHash, r.Status, string(r.Response), micros(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("store idempotency key: %w", err)
	}
	return nil
}

// PruneIdempotency forgets the records made before a time, and returns how
// many it removed.
func (s *Store) PruneIdempotency(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < ?`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
