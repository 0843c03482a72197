// Package audit records every change made through the hub in the store's
// append-only audit log, with secrets redacted, and exports the log as
// CSV or JSON.
package audit

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nestcluster/nest/pkg/hub/store"
)

// Redacted replaces the value of every secret field.
const Redacted = "[REDACTED]"

// isSecret reports whether a JSON field name holds a secret: passwords,
// key material and hashes, tokens, kubeconfigs.
func isSecret(field string) bool {
	f := strings.ToLower(field)
	for _, s := range []string{"password", "secret", "token", "hash", "kubeconfig", "credential", "privatekey"} {
		if strings.Contains(f, s) {
			return true
		}
	}
	return f == "key"
}

// Redact returns v as JSON with every secret field's value replaced by
// Redacted, at any depth. A nil v is nil.
func Redact(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode for the audit log: %w", err)
	}
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("decode for the audit log: %w", err)
	}
	out, err := json.Marshal(redact(tree))
	if err != nil {
		return nil, fmt.Errorf("encode for the audit log: %w", err)
	}
	return out, nil
}

func redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if isSecret(k) {
				t[k] = Redacted
			} else {
				t[k] = redact(val)
			}
		}
	case []any:
		for i := range t {
			t[i] = redact(t[i])
		}
	}
	return v
}

// Change is one mutation to record.
type Change struct {
	Principal  string
	Action     string // the permission used, e.g. "project.create"
	Resource   string
	ResourceID string
	TenantID   string
	ProjectID  string
	RequestID  string
	Before     any // nil for a create
	After      any // nil for a delete
}

// Record appends c to the audit log; call it in the transaction of the
// change so that both happen or neither.
func Record(ctx context.Context, s *store.Store, c Change) error {
	before, err := Redact(c.Before)
	if err != nil {
		return err
	}
	after, err := Redact(c.After)
	if err != nil {
		return err
	}
	return s.AppendAudit(ctx, &store.AuditEvent{
		Principal: c.Principal, Action: c.Action, Resource: c.Resource, ResourceID: c.ResourceID,
		TenantID: c.TenantID, ProjectID: c.ProjectID, RequestID: c.RequestID, Before: before, After: after,
	})
}

// CSVHeader are the columns of a CSV export.
var CSVHeader = []string{"id", "time", "principal", "action", "resource", "resourceId", "tenantId", "projectId", "requestId", "before", "after"}

// WriteCSV writes events as CSV with a header row.
func WriteCSV(w io.Writer, events []store.AuditEvent) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, e := range events {
		row := []string{e.ID, e.Time.Format(time.RFC3339Nano), e.Principal, e.Action, e.Resource, e.ResourceID,
			e.TenantID, e.ProjectID, e.RequestID, string(e.Before), string(e.After)}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
