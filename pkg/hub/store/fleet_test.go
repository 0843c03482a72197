package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestFleet runs the host cluster, cluster group and virtual cluster cases
// against SQLite and PostgreSQL.
func TestFleet(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{
		{Name: "host clusters keep status and filter by phase", Run: testHostClusters},
		{Name: "cluster groups round trip", Run: testClusterGroups},
		{Name: "virtual clusters round trip and filter", Run: testVirtualClusters},
		{Name: "lists in a project only while it exists in its tenant", Run: testInProject},
		{Name: "the auth epoch follows changes of principals only", Run: testAuthEpoch},
	})
}

func testInProject(t *testing.T, s *store.Store) {
	ctx := context.Background()
	acme, other := &store.Tenant{Meta: store.Meta{Name: "acme"}}, &store.Tenant{Meta: store.Meta{Name: "other"}}
	must(t, s.Tenants.Create(ctx, acme))
	must(t, s.Tenants.Create(ctx, other))
	p := &store.Project{Meta: store.Meta{Name: "web"}, TenantID: acme.ID}
	must(t, s.Projects.Create(ctx, p))
	must(t, s.VirtualClusters.Create(ctx, &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, TenantID: acme.ID, ProjectID: p.ID}))
	tests := []struct {
		name string
		key  store.ProjectKey
		want int
	}{
		{"its tenant", store.ProjectKey{TenantID: acme.ID, ID: p.ID}, 1},
		{"another tenant", store.ProjectKey{TenantID: other.ID, ID: p.ID}, 0},
		{"no such project", store.ProjectKey{TenantID: acme.ID, ID: store.NewID()}, 0},
	}
	for _, tc := range tests {
		page, err := s.VirtualClusters.List(ctx, store.ListOptions{InProject: &tc.key})
		must(t, err)
		if len(page.Items) != tc.want {
			t.Errorf("%s: %d items, want %d", tc.name, len(page.Items), tc.want)
		}
	}
	must(t, s.Projects.Delete(ctx, p.ID, 0))
	page, err := s.VirtualClusters.List(ctx, store.ListOptions{InProject: &store.ProjectKey{TenantID: acme.ID, ID: p.ID}})
	must(t, err)
	if len(page.Items) != 0 {
		t.Errorf("deleted project: %d items", len(page.Items))
	}
	_, err = s.HostClusters.List(ctx, store.ListOptions{InProject: &store.ProjectKey{TenantID: acme.ID, ID: p.ID}})
	wantErr(t, err, store.ErrInvalidFilter)
}

func testAuthEpoch(t *testing.T, s *store.Store) {
	ctx := context.Background()
	u := &store.User{Meta: store.Meta{Name: "ada"}}
	tenant := &store.Tenant{Meta: store.Meta{Name: "acme"}}
	team := &store.Team{Meta: store.Meta{Name: "devs"}}
	key := &store.APIKey{Meta: store.Meta{Name: "k"}, Prefix: "abcdefghijkl", KeyHash: "x"}
	vc := &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, ProjectID: "p"}
	tests := []struct {
		name  string
		write func() error
		bumps bool
	}{
		{"create a user", func() error { return s.Users.Create(ctx, u) }, true},
		{"update a user", func() error { u.Disabled = true; return s.Users.Update(ctx, u) }, true},
		{"create a tenant", func() error { return s.Tenants.Create(ctx, tenant) }, true},
		{"create a team", func() error { team.TenantID = tenant.ID; return s.Teams.Create(ctx, team) }, true},
		{"add a team member", func() error { _, err := s.AddTeamMember(ctx, team.ID, u.ID); return err }, true},
		{"remove a team member", func() error { return s.RemoveTeamMember(ctx, team.ID, u.ID) }, true},
		{"create a key", func() error { key.UserID = u.ID; return s.APIKeys.Create(ctx, key) }, true},
		{"record a key's use", func() error { return s.TouchAPIKey(ctx, key.ID, time.Now()) }, false},
		{"revoke a key", func() error { key.RevokedAt = time.Now(); return s.APIKeys.Update(ctx, key) }, true},
		{"delete a user", func() error { return s.Users.Delete(ctx, u.ID, 0) }, true},
		{"create a virtual cluster", func() error { return s.VirtualClusters.Create(ctx, vc) }, false},
		{"update a virtual cluster", func() error { vc.Paused = true; return s.VirtualClusters.Update(ctx, vc) }, false},
		{"create another user", func() error { return s.Users.Create(ctx, &store.User{Meta: store.Meta{Name: "bob"}}) }, true},
		{"a rolled-back write", func() error {
			return s.InTx(ctx, func(ctx context.Context) error {
				must(t, s.Users.Create(ctx, &store.User{Meta: store.Meta{Name: "gone"}}))
				return store.ErrConflict
			})
		}, false},
	}
	for _, tc := range tests {
		before, err := s.AuthEpoch(ctx)
		must(t, err)
		_ = tc.write()
		after, err := s.AuthEpoch(ctx)
		must(t, err)
		if (after > before) != tc.bumps || after < before {
			t.Errorf("%s: epoch %d -> %d, want a bump: %v", tc.name, before, after, tc.bumps)
		}
	}
}

func testHostClusters(t *testing.T, s *store.Store) {
	ctx := context.Background()
	h := &store.HostCluster{Meta: store.Meta{Name: "h1"}, KubeconfigEnc: "enc:v1:x", Status: store.HostClusterStatus{Phase: store.HostPending}}
	must(t, s.HostClusters.Create(ctx, h))
	h.Status = store.HostClusterStatus{Phase: store.HostReady, LastCheck: time.Now().UTC().Truncate(time.Microsecond),
		Capacity: store.Resources{CPU: "8", Memory: "32Gi", Pods: "220"}, Nodes: 2}
	must(t, s.HostClusters.Update(ctx, h))
	got, err := s.HostClusters.Get(ctx, h.ID)
	must(t, err)
	if !reflect.DeepEqual(got.Status, h.Status) || got.KubeconfigEnc != "enc:v1:x" {
		t.Fatalf("got %+v, want %+v", got, h)
	}
	ready, err := s.HostClusters.All(ctx, map[string]string{"phase": store.HostReady})
	must(t, err)
	if len(ready) != 1 {
		t.Fatalf("ready hosts: %d", len(ready))
	}
	wantErr(t, s.HostClusters.Create(ctx, &store.HostCluster{Meta: store.Meta{Name: "h1"}}), store.ErrAlreadyExists)
}

func testClusterGroups(t *testing.T, s *store.Store) {
	ctx := context.Background()
	g := &store.ClusterGroup{Meta: store.Meta{Name: "g"}, HostClusterIDs: []string{"a", "b"},
		Quota: store.Resources{CPU: "2", Memory: "4Gi", Storage: "10Gi", Pods: "50"}, MaxVirtualClusters: 10,
		OversubscriptionPercent: 50, EndpointType: store.EndpointLocal, DefaultConfig: "apiVersion: nest.dev/v1alpha1\n"}
	must(t, s.ClusterGroups.Create(ctx, g))
	got, err := s.ClusterGroups.Get(ctx, g.ID)
	must(t, err)
	if !reflect.DeepEqual(got, g) {
		t.Fatalf("got %+v, want %+v", got, g)
	}
}

func testVirtualClusters(t *testing.T, s *store.Store) {
	ctx := context.Background()
	vc := &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, TenantID: "t", ProjectID: "p", ClusterGroupID: "g",
		KubernetesVersion: "v1.34.4", Quota: store.Resources{CPU: "1"}, Profiles: []store.ProfileRef{{ProfileID: "x"}}, Generation: 1,
		Status: store.VirtualClusterStatus{Phase: store.VCPending}}
	must(t, s.VirtualClusters.Create(ctx, vc))
	wantErr(t, s.VirtualClusters.Create(ctx, &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, ProjectID: "p"}), store.ErrAlreadyExists)
	must(t, s.VirtualClusters.Create(ctx, &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, ProjectID: "other"}))
	vc.Status = store.VirtualClusterStatus{Phase: store.VCReady, HostClusterID: "h", ObservedGeneration: 1,
		Conditions: []store.Condition{{Type: "Ready", Status: "True", LastTransitionTime: time.Now().UTC().Truncate(time.Microsecond)}}}
	must(t, s.VirtualClusters.Update(ctx, vc))
	got, err := s.VirtualClusters.Get(ctx, vc.ID)
	must(t, err)
	if !reflect.DeepEqual(got, vc) {
		t.Fatalf("got %+v, want %+v", got, vc)
	}
	for _, f := range []map[string]string{{"hostClusterId": "h"}, {"phase": store.VCReady}, {"projectId": "p", "clusterGroupId": "g"}} {
		items, err := s.VirtualClusters.All(ctx, f)
		must(t, err)
		if len(items) != 1 || items[0].ID != vc.ID {
			t.Fatalf("filter %v: %d items", f, len(items))
		}
	}
}
