package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/audit"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, ""},
		{"plain", map[string]any{"name": "a"}, `{"name":"a"}`},
		{"password", map[string]any{"name": "a", "password": "hunter2hunter2"}, `{"name":"a","password":"[REDACTED]"}`},
		{"key and hash", map[string]any{"key": "nest_x", "keyHash": "abc", "prefix": "p"}, `{"key":"[REDACTED]","keyHash":"[REDACTED]","prefix":"p"}`},
		{"nested", map[string]any{"items": []any{map[string]any{"token": "t", "kubeconfig": "k"}}}, `{"items":[{"kubeconfig":"[REDACTED]","token":"[REDACTED]"}]}`},
		{"struct with json:\"-\" hash", store.User{Meta: store.Meta{Name: "u"}, PasswordHash: "$argon2id$..."}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := audit.Redact(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(got), "argon2id") || strings.Contains(string(got), "hunter2") {
				t.Fatalf("secret leaked: %s", got)
			}
			if tc.want != "" && string(got) != tc.want {
				t.Fatalf("Redact = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRecordAndCSV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.SQLite.Open(t)
	err := audit.Record(ctx, s, audit.Change{Principal: "user:admin", Action: "user.create", Resource: "user", ResourceID: "1",
		RequestID: "req-1", After: map[string]any{"name": "bob", "password": "hunter2hunter2"}})
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.ListAudit(ctx, store.ListOptions{})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("list: %+v, %v", page, err)
	}
	var buf bytes.Buffer
	if err := audit.WriteCSV(&buf, page.Items); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1][2] != "user:admin" || rows[1][8] != "req-1" || rows[1][9] != "" || !strings.Contains(rows[1][10], audit.Redacted) {
		t.Fatalf("csv rows: %q", rows)
	}
}
