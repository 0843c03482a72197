package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestListAllVirtualClusters checks the fleet-wide list: a global grant
// sees every virtual cluster, a grant on one project or one tenant sees
// only those, several grants see their union, page by page, and filters
// narrow each view.
func TestListAllVirtualClusters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.SQLite.Open(t)
	h := newHub(t, s)
	// Two tenants with two projects each, 7 virtual clusters per project,
	// created interleaved so that a scoped view is spread over the table.
	type proj struct{ tenant, project string }
	var projects []proj
	for _, tn := range []string{"a", "b"} {
		tenant := &store.Tenant{Meta: store.Meta{Name: tn}}
		mustDo(t, s.Tenants.Create(ctx, tenant))
		for _, pn := range []string{"x", "y"} {
			p := &store.Project{Meta: store.Meta{Name: pn}, TenantID: tenant.ID}
			mustDo(t, s.Projects.Create(ctx, p))
			projects = append(projects, proj{tenant.ID, p.ID})
		}
	}
	for i := range 7 {
		for j, p := range projects {
			phase := store.VCReady
			if i == 0 {
				phase = store.VCPaused
			}
			mustDo(t, s.VirtualClusters.Create(ctx, &store.VirtualCluster{Meta: store.Meta{Name: fmt.Sprintf("vc-%d-%d", j, i)},
				TenantID: p.tenant, ProjectID: p.project, ClusterGroupID: "g", Profiles: []store.ProfileRef{},
				Status: store.VirtualClusterStatus{Phase: phase}}))
		}
	}
	viewer, viewerKey := userWithKey(t, s, "viewer")
	bind(t, s, "v", auth.RoleProjectViewer, viewer.ID, projects[0].tenant, projects[0].project)
	multi, multiKey := userWithKey(t, s, "multi")
	bind(t, s, "m1", auth.RoleProjectViewer, multi.ID, projects[0].tenant, projects[0].project)
	bind(t, s, "m2", auth.RoleTenantAdmin, multi.ID, projects[2].tenant, "")
	_, nobodyKey := userWithKey(t, s, "nobody")

	// all pages through the list with limit 4 and returns the names seen.
	all := func(t *testing.T, key, query string) map[string]string {
		t.Helper()
		seen := map[string]string{}
		cursor := ""
		for range 100 {
			var page store.Page[store.VirtualCluster]
			h.do("GET", "/api/v1/virtualclusters?limit=4"+query+cursor, key, nil).must(t, 200).decode(t, &page)
			if len(page.Items) > 4 {
				t.Fatalf("a page of %d items with limit 4", len(page.Items))
			}
			for _, vc := range page.Items {
				if _, dup := seen[vc.ID]; dup {
					t.Fatalf("%s listed twice", vc.Name)
				}
				seen[vc.ID] = vc.ProjectID
			}
			if page.NextCursor == "" {
				return seen
			}
			cursor = "&cursor=" + page.NextCursor
		}
		t.Fatal("the pages never end")
		return nil
	}
	inProjects := func(seen map[string]string) map[string]int {
		n := map[string]int{}
		for _, p := range seen {
			n[p]++
		}
		return n
	}
	tests := []struct {
		name  string
		key   string
		query string
		want  map[string]int // per project
	}{
		{"hub admin sees all", h.admin, "", map[string]int{projects[0].project: 7, projects[1].project: 7, projects[2].project: 7, projects[3].project: 7}},
		{"project viewer sees its project", viewerKey, "", map[string]int{projects[0].project: 7}},
		{"project viewer asking for another project sees none", viewerKey, "&projectId=" + projects[1].project, map[string]int{}},
		{"project and tenant grants see their union", multiKey, "", map[string]int{projects[0].project: 7, projects[2].project: 7, projects[3].project: 7}},
		{"the union filtered by phase", multiKey, "&phase=Paused", map[string]int{projects[0].project: 1, projects[2].project: 1, projects[3].project: 1}},
		{"the union filtered by project", multiKey, "&projectId=" + projects[3].project, map[string]int{projects[3].project: 7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := inProjects(all(t, tc.key, tc.query))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("per project %v, want %v", got, tc.want)
			}
		})
	}
	h.do("GET", "/api/v1/virtualclusters", nobodyKey, nil).must(t, 403)
	h.do("GET", "/api/v1/virtualclusters?owner=x", h.admin, nil).must(t, 400)
}
