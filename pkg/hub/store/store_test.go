package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestStore runs every case against SQLite and PostgreSQL, each case on a
// fresh database.
func TestStore(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{
		{Name: "migrate twice applies nothing the second time", Run: testMigrateIdempotent},
		{Name: "create get update delete with resource versions", Run: testCRUD},
		{Name: "concurrent updates never lose one", Run: testConcurrentUpdates},
		{Name: "pages are stable and filtered", Run: testPagination},
		{Name: "references and cascades", Run: testReferences},
		{Name: "grants come from users and teams", Run: testGrants},
		{Name: "audit log appends and filters", Run: testAudit},
		{Name: "idempotency records", Run: testIdempotency},
		{Name: "api keys are found by prefix and touched", Run: testAPIKeys},
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func testMigrateIdempotent(t *testing.T, s *store.Store) {
	applied, err := s.Migrate(context.Background())
	must(t, err)
	if len(applied) != 0 {
		t.Fatalf("second Migrate applied %v", applied)
	}
}

func testCRUD(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tn := &store.Tenant{Meta: store.Meta{Name: "acme"}, DisplayName: "Acme"}
	must(t, s.Tenants.Create(ctx, tn))
	if tn.ID == "" || tn.ResourceVersion != 1 || tn.CreatedAt.IsZero() {
		t.Fatalf("create did not fill meta: %+v", tn.Meta)
	}
	wantErr(t, s.Tenants.Create(ctx, &store.Tenant{Meta: store.Meta{Name: "acme"}}), store.ErrAlreadyExists)

	got, err := s.Tenants.Get(ctx, tn.ID)
	must(t, err)
	if *got != *tn {
		t.Fatalf("get = %+v, want %+v", got, tn)
	}
	stale := *got
	got.DisplayName = "Acme Inc"
	must(t, s.Tenants.Update(ctx, got))
	if got.ResourceVersion != 2 {
		t.Fatalf("resourceVersion after update = %d, want 2", got.ResourceVersion)
	}
	stale.DisplayName = "lost"
	wantErr(t, s.Tenants.Update(ctx, &stale), store.ErrConflict)
	again, err := s.Tenants.Get(ctx, tn.ID)
	must(t, err)
	if again.DisplayName != "Acme Inc" || again.ResourceVersion != 2 {
		t.Fatalf("stored %+v after a stale update", again)
	}
	missing := store.Tenant{Meta: store.Meta{ID: store.NewID(), ResourceVersion: 1}}
	wantErr(t, s.Tenants.Update(ctx, &missing), store.ErrNotFound)
	wantErr(t, s.Tenants.Delete(ctx, tn.ID, 1), store.ErrConflict)
	must(t, s.Tenants.Delete(ctx, tn.ID, 2))
	_, err = s.Tenants.Get(ctx, tn.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.Tenants.Delete(ctx, tn.ID, 0), store.ErrNotFound)
}

func testConcurrentUpdates(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tn := &store.Tenant{Meta: store.Meta{Name: "race"}}
	must(t, s.Tenants.Create(ctx, tn))
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			obj := *tn
			obj.DisplayName = fmt.Sprint("writer ", i)
			errs[i] = s.Tenants.Update(ctx, &obj)
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent updates of the same version succeeded, want exactly 1", won)
	}
}

func testPagination(t *testing.T, s *store.Store) {
	ctx := context.Background()
	var tenants []*store.Tenant
	for _, name := range []string{"a", "b"} {
		tn := &store.Tenant{Meta: store.Meta{Name: name}}
		must(t, s.Tenants.Create(ctx, tn))
		tenants = append(tenants, tn)
	}
	var want []string
	for i := range 7 {
		p := &store.Project{Meta: store.Meta{Name: fmt.Sprint("p", i)}, TenantID: tenants[i%2].ID}
		must(t, s.Projects.Create(ctx, p))
		if i%2 == 0 {
			want = append(want, p.Name)
		}
	}
	var got []string
	opts := store.ListOptions{Limit: 3, Filters: map[string]string{"tenantId": tenants[0].ID}}
	pages := 0
	for {
		page, err := s.Projects.List(ctx, opts)
		must(t, err)
		pages++
		for _, p := range page.Items {
			got = append(got, p.Name)
		}
		if page.NextCursor == "" {
			break
		}
		// A project created behind the cursor does not shift later pages.
		must(t, s.Projects.Create(ctx, &store.Project{Meta: store.Meta{Name: fmt.Sprint("late", pages)}, TenantID: tenants[1].ID}))
		opts.Cursor = page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 2 {
		t.Fatalf("paged %v in %d pages, want %v in 2", got, pages, want)
	}
	byName, err := s.Projects.List(ctx, store.ListOptions{Filters: map[string]string{"name": "p3"}})
	must(t, err)
	if len(byName.Items) != 1 || byName.Items[0].TenantID != tenants[1].ID {
		t.Fatalf("filter by name: %+v", byName.Items)
	}
	_, err = s.Projects.List(ctx, store.ListOptions{Cursor: "bogus"})
	wantErr(t, err, store.ErrInvalidCursor)
	_, err = s.Projects.List(ctx, store.ListOptions{Filters: map[string]string{"color": "red"}})
	wantErr(t, err, store.ErrInvalidFilter)
}

func testReferences(t *testing.T, s *store.Store) {
	ctx := context.Background()
	wantErr(t, s.Projects.Create(ctx, &store.Project{Meta: store.Meta{Name: "orphan"}, TenantID: store.NewID()}), store.ErrReference)
	tn := &store.Tenant{Meta: store.Meta{Name: "t"}}
	must(t, s.Tenants.Create(ctx, tn))
	p := &store.Project{Meta: store.Meta{Name: "p"}, TenantID: tn.ID}
	must(t, s.Projects.Create(ctx, p))
	role := &store.Role{Meta: store.Meta{Name: "r"}, Permissions: []string{"project.get"}}
	must(t, s.Roles.Create(ctx, role))
	u := &store.User{Meta: store.Meta{Name: "u"}}
	must(t, s.Users.Create(ctx, u))
	rb := &store.RoleBinding{Meta: store.Meta{Name: "rb"}, TenantID: tn.ID, ProjectID: p.ID, RoleID: role.ID, SubjectKind: store.SubjectUser, SubjectID: u.ID}
	must(t, s.RoleBindings.Create(ctx, rb))
	must(t, s.Tenants.Delete(ctx, tn.ID, 0))
	_, err := s.Projects.Get(ctx, p.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.RoleBindings.Get(ctx, rb.ID)
	wantErr(t, err, store.ErrNotFound)
}

func testGrants(t *testing.T, s *store.Store) {
	ctx := context.Background()
	tn := &store.Tenant{Meta: store.Meta{Name: "t"}}
	must(t, s.Tenants.Create(ctx, tn))
	u := &store.User{Meta: store.Meta{Name: "u"}}
	must(t, s.Users.Create(ctx, u))
	team := &store.Team{Meta: store.Meta{Name: "devs"}, TenantID: tn.ID}
	must(t, s.Teams.Create(ctx, team))
	viewer := &store.Role{Meta: store.Meta{Name: "viewer"}, Permissions: []string{"project.get"}}
	editor := &store.Role{Meta: store.Meta{Name: "editor"}, Permissions: []string{"project.update"}}
	must(t, s.Roles.Create(ctx, viewer))
	must(t, s.Roles.Create(ctx, editor))
	must(t, s.RoleBindings.Create(ctx, &store.RoleBinding{Meta: store.Meta{Name: "direct"}, TenantID: tn.ID, RoleID: viewer.ID, SubjectKind: store.SubjectUser, SubjectID: u.ID}))
	must(t, s.RoleBindings.Create(ctx, &store.RoleBinding{Meta: store.Meta{Name: "via-team"}, TenantID: tn.ID, RoleID: editor.ID, SubjectKind: store.SubjectTeam, SubjectID: team.ID}))

	grants, err := s.Grants(ctx, u.ID)
	must(t, err)
	if len(grants) != 1 {
		t.Fatalf("before joining the team: %+v", grants)
	}
	_, err = s.AddTeamMember(ctx, team.ID, u.ID)
	must(t, err)
	_, err = s.AddTeamMember(ctx, team.ID, u.ID)
	must(t, err)
	members, err := s.TeamMembers(ctx, team.ID)
	must(t, err)
	if len(members) != 1 || members[0].UserID != u.ID {
		t.Fatalf("members = %+v", members)
	}
	grants, err = s.Grants(ctx, u.ID)
	must(t, err)
	if len(grants) != 2 || grants[1].Permissions[0] != "project.update" || grants[1].TenantID != tn.ID {
		t.Fatalf("after joining the team: %+v", grants)
	}
	must(t, s.RemoveTeamMember(ctx, team.ID, u.ID))
	wantErr(t, s.RemoveTeamMember(ctx, team.ID, u.ID), store.ErrNotFound)
	// Deleting the user removes the bindings naming it.
	must(t, s.Users.Delete(ctx, u.ID, 0))
	page, err := s.RoleBindings.List(ctx, store.ListOptions{Filters: map[string]string{"subjectKind": "user"}})
	must(t, err)
	if len(page.Items) != 0 {
		t.Fatalf("bindings of a deleted user remain: %+v", page.Items)
	}
}

func testAudit(t *testing.T, s *store.Store) {
	ctx := context.Background()
	for i := range 5 {
		e := &store.AuditEvent{Principal: fmt.Sprint("user", i%2), Action: "tenant.create", Resource: "tenant", ResourceID: fmt.Sprint(i),
			RequestID: "r", After: []byte(`{"name":"x"}`)}
		must(t, s.AppendAudit(ctx, e))
	}
	page, err := s.ListAudit(ctx, store.ListOptions{Limit: 2, Filters: map[string]string{"principal": "user0"}})
	must(t, err)
	if len(page.Items) != 2 || page.NextCursor == "" || page.Items[0].ResourceID != "0" || string(page.Items[0].After) != `{"name":"x"}` || page.Items[0].Before != nil {
		t.Fatalf("first page: %+v", page)
	}
	page, err = s.ListAudit(ctx, store.ListOptions{Limit: 2, Cursor: page.NextCursor, Filters: map[string]string{"principal": "user0"}})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ResourceID != "4" || page.NextCursor != "" {
		t.Fatalf("second page: %+v", page)
	}
}

func testIdempotency(t *testing.T, s *store.Store) {
	ctx := context.Background()
	_, err := s.GetIdempotency(ctx, "u", "k")
	wantErr(t, err, store.ErrNotFound)
	rec := &store.IdempotencyRecord{Principal: "u", Key: "k", RequestHash: "h", Status: 201, Response: []byte(`{}`)}
	must(t, s.PutIdempotency(ctx, rec))
	wantErr(t, s.PutIdempotency(ctx, rec), store.ErrAlreadyExists)
	got, err := s.GetIdempotency(ctx, "u", "k")
	must(t, err)
	if got.Status != 201 || string(got.Response) != `{}` || got.RequestHash != "h" {
		t.Fatalf("got %+v", got)
	}
	n, err := s.PruneIdempotency(ctx, got.CreatedAt)
	must(t, err)
	if n != 0 {
		t.Fatalf("pruned %d records made at the limit", n)
	}
	n, err = s.PruneIdempotency(ctx, got.CreatedAt.Add(time.Microsecond))
	must(t, err)
	_, err = s.GetIdempotency(ctx, "u", "k")
	if n != 1 || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pruned %d, then get = %v", n, err)
	}
}

func testAPIKeys(t *testing.T, s *store.Store) {
	ctx := context.Background()
	u := &store.User{Meta: store.Meta{Name: "u"}}
	must(t, s.Users.Create(ctx, u))
	k := &store.APIKey{Meta: store.Meta{Name: "ci"}, UserID: u.ID, Prefix: "abc", KeyHash: "hash"}
	must(t, s.APIKeys.Create(ctx, k))
	got, err := s.APIKeys.Find(ctx, map[string]string{"prefix": "abc"})
	must(t, err)
	if got.KeyHash != "hash" || !got.LastUsedAt.IsZero() || !got.ExpiresAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
	now := got.CreatedAt.Add(1000)
	must(t, s.TouchAPIKey(ctx, k.ID, now))
	got, err = s.APIKeys.Get(ctx, k.ID)
	must(t, err)
	if !got.LastUsedAt.Equal(now) || got.ResourceVersion != 1 {
		t.Fatalf("after touch: %+v", got)
	}
	_, err = s.APIKeys.Find(ctx, map[string]string{"prefix": "nope"})
	wantErr(t, err, store.ErrNotFound)
}
