package fleet_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/fleet"
	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/hubtest"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// home returns a new Nest home, as nest login finds it.
func home(t *testing.T) string {
	t.Helper()
	h, err := nesthome.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return h.Dir()
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestLoginStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		file    string // written as hub.json first; "" for none
		save    *fleet.Login
		wantErr string
		wantURL string
	}{
		{name: "none", wantErr: fleet.ErrNotLoggedIn.Error()},
		{name: "saved", save: &fleet.Login{URL: "https://hub:8443", APIKey: "nest_secret", CACert: "PEM", User: "alice"}, wantURL: "https://hub:8443"},
		{name: "corrupt", file: "{", wantErr: "is corrupt"},
		{name: "no key", file: `{"url":"https://hub"}`, wantErr: "no API key"},
		{name: "no url", file: `{"apiKey":"k"}`, wantErr: "no hub URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if tt.file != "" {
				if err := os.WriteFile(fleet.LoginPath(dir), []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.save != nil {
				if err := fleet.SaveLogin(dir, tt.save); err != nil {
					t.Fatal(err)
				}
				fi, err := os.Stat(fleet.LoginPath(dir))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Fatalf("hub.json mode %v, want 0600", fi.Mode().Perm())
				}
			}
			l, err := fleet.LoadLogin(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadLogin: %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.URL != tt.wantURL || l.APIKey != tt.save.APIKey || l.CACert != tt.save.CACert || l.User != tt.save.User {
				t.Fatalf("loaded %+v, saved %+v", l, tt.save)
			}
			removed, err := fleet.RemoveLogin(dir)
			if err != nil || !removed {
				t.Fatalf("RemoveLogin: %v, %v", removed, err)
			}
			if removed, err = fleet.RemoveLogin(dir); err != nil || removed {
				t.Fatalf("second RemoveLogin: %v, %v", removed, err)
			}
			if _, err := fleet.LoadLogin(dir); !errors.Is(err, fleet.ErrNotLoggedIn) {
				t.Fatalf("after logout: %v", err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*hub*")); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
		})
	}
	t.Run("refuses an incomplete login", func(t *testing.T) {
		t.Parallel()
		if err := fleet.SaveLogin(t.TempDir(), &fleet.Login{URL: "https://hub"}); err == nil {
			t.Fatal("saved a login without a key")
		}
	})
}

// TestSelection chooses the fleet from the flags and the login, against a
// real hub with a tenant and project.
func TestSelection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := hubtest.Run(t)
	hc, err := client.New(client.Config{URL: h.URL, APIKey: h.AdminKey, CACert: h.CACert})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := hc.CreateTenant(ctx, api.CreateTenantRequest{Name: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := hc.CreateProject(ctx, tn.ID, api.CreateProjectRequest{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	loggedIn := &fleet.Login{URL: h.URL, APIKey: h.AdminKey, CACert: string(h.CACert), User: "admin",
		TenantID: tn.ID, TenantName: tn.Name, ProjectID: p.ID, ProjectName: p.Name}
	noProject := &fleet.Login{URL: h.URL, APIKey: h.AdminKey, CACert: string(h.CACert), User: "admin"}
	tests := []struct {
		name      string
		login     *fleet.Login
		sel       fleet.Selection
		wantWhere string // substring
		wantErr   string
	}{
		{name: "not logged in is local", wantWhere: "local"},
		{name: "--local without login", sel: fleet.Selection{Local: true}, wantWhere: "local"},
		{name: "hub flags without login", sel: fleet.Selection{Tenant: "acme", Project: "web"}, wantErr: "not logged in"},
		{name: "--local with hub flags", login: loggedIn, sel: fleet.Selection{Local: true, Project: "web"}, wantErr: "not with --local"},
		{name: "logged in is the hub", login: loggedIn, wantWhere: h.URL + ", project web"},
		{name: "--local while logged in", login: loggedIn, sel: fleet.Selection{Local: true}, wantWhere: "local"},
		{name: "project by name", login: noProject, sel: fleet.Selection{Tenant: "acme", Project: "web"}, wantWhere: "project web"},
		{name: "project by id", login: noProject, sel: fleet.Selection{Tenant: tn.ID, Project: p.ID}, wantWhere: "project web"},
		{name: "unknown project", login: loggedIn, sel: fleet.Selection{Project: "nope"}, wantErr: `project "nope": not found`},
		{name: "unknown tenant", login: loggedIn, sel: fleet.Selection{Tenant: "nope"}, wantErr: `tenant "nope": not found`},
		{name: "project without tenant", login: noProject, sel: fleet.Selection{Project: "web"}, wantErr: "needs a tenant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := home(t)
			if tt.login != nil {
				if err := fleet.SaveLogin(dir, tt.login); err != nil {
					t.Fatal(err)
				}
			}
			f, err := fleet.OpenIn(ctx, dir, tt.sel, discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("OpenIn: %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(f.Where(), tt.wantWhere) {
				t.Fatalf("Where() = %q, want %q", f.Where(), tt.wantWhere)
			}
		})
	}

	// The hub fleet of an empty project: nothing listed, names unknown.
	dir := t.TempDir()
	if err := fleet.SaveLogin(dir, loggedIn); err != nil {
		t.Fatal(err)
	}
	f, err := fleet.OpenIn(ctx, dir, fleet.Selection{}, discard)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := f.List(ctx); err != nil || len(l) != 0 {
		t.Fatalf("List: %v, %v", l, err)
	}
	for name, call := range map[string]func() error{
		"delete":     func() error { return f.Delete(ctx, "nope") },
		"pause":      func() error { return f.Pause(ctx, "nope") },
		"kubeconfig": func() error { _, err := f.Kubeconfig(ctx, "nope"); return err },
	} {
		if err := call(); !errors.Is(err, fleet.ErrNotFound) {
			t.Errorf("%s of an unknown cluster: %v, want ErrNotFound", name, err)
		}
	}
	if _, err := f.Create(ctx, "dev", fleet.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "--group is required") {
		t.Fatalf("create without a group: %v", err)
	}
	if _, err := f.Create(ctx, "dev", fleet.CreateOptions{Group: "nope"}); err == nil || !strings.Contains(err.Error(), `cluster group "nope"`) {
		t.Fatalf("create on an unknown group: %v", err)
	}
}
