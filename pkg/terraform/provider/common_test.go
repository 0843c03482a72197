package provider

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/nestcluster/nest/pkg/hub/client"
)

func TestAddHubError(t *testing.T) {
	t.Parallel()
	conflict := &client.Error{Status: 409, Code: client.CodeConflict, Message: "project was changed since it was read",
		Details: map[string]string{"field": "resourceVersion"}, RequestID: "req-1"}
	tests := []struct {
		name     string
		err      error
		attrs    []string
		wantPath string // "" for a diagnostic without attribute
		want     []string
	}{
		{"field error on an attribute", &client.Error{Status: 400, Code: client.CodeInvalidArgument, Message: "displayName: too long",
			Details: map[string]string{"field": "displayName"}}, []string{"display_name"}, "display_name", []string{"displayName: too long", "invalid_argument"}},
		{"field the resource does not have", &client.Error{Status: 400, Code: client.CodeInvalidArgument, Message: "cursor: bad",
			Details: map[string]string{"field": "cursor"}}, []string{"name"}, "", []string{"cursor: bad"}},
		{"stale resourceVersion", conflict, nil, "", []string{"changed by someone else", "plan again", "req-1"}},
		{"permission denied", &client.Error{Status: 403, Code: client.CodePermissionDenied, Message: "permission denied: user:x needs project.update"},
			nil, "", []string{"needs project.update", "bind a role"}},
		{"wrapped", fmt.Errorf("add the team's members: %w", conflict), nil, "", []string{"In full: add the team's members"}},
		{"the provider's own", &attributeError{"name", "is held"}, []string{"name"}, "name", []string{"is held"}},
		{"not the hub's", errors.New("dial tcp: refused"), nil, "", []string{"dial tcp: refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var diags diag.Diagnostics
			addHubError(&diags, "do it", tc.err, tc.attrs...)
			if len(diags) != 1 || diags[0].Summary() != "Cannot do it" {
				t.Fatalf("diagnostics = %v", diags)
			}
			var gotPath string
			if d, ok := diags[0].(diag.DiagnosticWithPath); ok {
				gotPath = d.Path().String()
			}
			if gotPath != path.Root(tc.wantPath).String() && !(tc.wantPath == "" && gotPath == "") {
				t.Errorf("path = %q, want %q", gotPath, tc.wantPath)
			}
			for _, w := range tc.want {
				if !strings.Contains(diags[0].Detail(), w) {
					t.Errorf("detail %q lacks %q", diags[0].Detail(), w)
				}
			}
		})
	}
}

func TestSnake(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"name": "name", "displayName": "display_name", "subjectId": "subject_id", "": ""} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}
