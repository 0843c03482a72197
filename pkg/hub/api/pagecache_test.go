package api_test

import (
	"context"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestListPagesFollowChanges: the virtual-cluster lists keep their
// encoded pages between requests, yet every change made through the
// store (as another replica would: the API of this one is not told) shows
// in the next request: creates, updates and deletes of virtual clusters,
// a deleted project, a removed grant.
func TestListPagesFollowChanges(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{{Name: "changes through the store", Run: func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		h := newHub(t, s)
		tenant := &store.Tenant{Meta: store.Meta{Name: "acme"}}
		mustDo(t, s.Tenants.Create(ctx, tenant))
		web := &store.Project{Meta: store.Meta{Name: "web"}, TenantID: tenant.ID}
		mustDo(t, s.Projects.Create(ctx, web))
		empty := &store.Project{Meta: store.Meta{Name: "empty"}, TenantID: tenant.ID}
		mustDo(t, s.Projects.Create(ctx, empty))
		viewer, viewerKey := userWithKey(t, s, "viewer")
		bind(t, s, "v", auth.RoleProjectViewer, viewer.ID, tenant.ID, web.ID)
		project := "/api/v1/tenants/" + tenant.ID + "/projects/" + web.ID + "/virtualclusters"

		// phases lists twice (the second from the cache) and returns the
		// phases by name.
		phases := func(path, key string) map[string]string {
			t.Helper()
			var first, second store.Page[store.VirtualCluster]
			h.do("GET", path, key, nil).must(t, 200).decode(t, &first)
			h.do("GET", path, key, nil).must(t, 200).decode(t, &second)
			got := map[string]string{}
			for _, vc := range first.Items {
				got[vc.Name] = vc.Status.Phase
			}
			if len(second.Items) != len(first.Items) {
				t.Fatalf("%s: a repeated list differs: %d then %d items", path, len(first.Items), len(second.Items))
			}
			return got
		}
		check := func(step string, want map[string]string) {
			t.Helper()
			for _, list := range []struct{ path, key string }{{project, h.admin}, {"/api/v1/virtualclusters", h.admin}, {"/api/v1/virtualclusters", viewerKey}} {
				got := phases(list.path, list.key)
				if len(got) != len(want) {
					t.Fatalf("%s: %s lists %v, want %v", step, list.path, got, want)
				}
				for name, phase := range want {
					if got[name] != phase {
						t.Fatalf("%s: %s lists %v, want %v", step, list.path, got, want)
					}
				}
			}
		}
		check("empty", map[string]string{})
		vc := &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, TenantID: tenant.ID, ProjectID: web.ID, ClusterGroupID: "g",
			Status: store.VirtualClusterStatus{Phase: store.VCPending}}
		mustDo(t, s.VirtualClusters.Create(ctx, vc))
		check("created", map[string]string{"dev": store.VCPending})
		vc.Status.Phase = store.VCReady
		mustDo(t, s.VirtualClusters.Update(ctx, vc))
		check("updated", map[string]string{"dev": store.VCReady})
		mustDo(t, s.VirtualClusters.Delete(ctx, vc.ID, 0))
		check("deleted", map[string]string{})

		// A project deleted meanwhile: its (empty) list is gone.
		emptyList := "/api/v1/tenants/" + tenant.ID + "/projects/" + empty.ID + "/virtualclusters"
		phases(emptyList, h.admin)
		mustDo(t, s.Projects.Delete(ctx, empty.ID, 0))
		h.do("GET", emptyList, h.admin, nil).must(t, 404)

		// The viewer's grant moves to another project: the fleet list
		// follows.
		mustDo(t, s.VirtualClusters.Create(ctx, &store.VirtualCluster{Meta: store.Meta{Name: "prod"}, TenantID: tenant.ID, ProjectID: web.ID,
			ClusterGroupID: "g", Status: store.VirtualClusterStatus{Phase: store.VCReady}}))
		if got := phases("/api/v1/virtualclusters", viewerKey); len(got) != 1 {
			t.Fatalf("the viewer lists %v", got)
		}
		other := &store.Project{Meta: store.Meta{Name: "other"}, TenantID: tenant.ID}
		mustDo(t, s.Projects.Create(ctx, other))
		b, err := s.RoleBindings.Find(ctx, map[string]string{"name": "v"})
		mustDo(t, err)
		mustDo(t, s.RoleBindings.Delete(ctx, b.ID, 0))
		bind(t, s, "v2", auth.RoleProjectViewer, viewer.ID, tenant.ID, other.ID)
		if got := phases("/api/v1/virtualclusters", viewerKey); len(got) != 0 {
			t.Fatalf("after its grant moved, the viewer lists %v", got)
		}
	}}})
}
