package store_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestProfiles runs the cluster profile cases against SQLite and
// PostgreSQL.
func TestProfiles(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{
		{Name: "profiles and their versions", Run: testProfileVersions},
		{Name: "profile references round trip", Run: testProfileRefs},
	})
}

func testProfileVersions(t *testing.T, s *store.Store) {
	ctx := context.Background()
	spec := json.RawMessage(`{"name":"cicd","version":"1.0.0","layers":[{"name":"a","kind":"manifests","manifests":"x"}]}`)
	p := &store.ClusterProfile{Meta: store.Meta{Name: "cicd"}, Description: "CI", Version: "1.0.0", Spec: spec}
	must(t, s.InTx(ctx, func(ctx context.Context) error {
		if err := s.ClusterProfiles.Create(ctx, p); err != nil {
			return err
		}
		return s.AddProfileVersion(ctx, &store.ClusterProfileVersion{ProfileID: p.ID, Version: p.Version, Spec: spec})
	}))
	wantErr(t, s.ClusterProfiles.Create(ctx, &store.ClusterProfile{Meta: store.Meta{Name: "cicd"}, Spec: spec}), store.ErrAlreadyExists)
	got, err := s.ClusterProfiles.Get(ctx, p.ID)
	must(t, err)
	if got.Version != "1.0.0" || string(got.Spec) != string(spec) || got.Description != "CI" {
		t.Fatalf("got %+v", got)
	}
	spec2 := json.RawMessage(`{"name":"cicd","version":"1.1.0","layers":[]}`)
	must(t, s.AddProfileVersion(ctx, &store.ClusterProfileVersion{ProfileID: p.ID, Version: "1.1.0", Spec: spec2}))
	wantErr(t, s.AddProfileVersion(ctx, &store.ClusterProfileVersion{ProfileID: p.ID, Version: "1.1.0", Spec: spec2}), store.ErrAlreadyExists)
	wantErr(t, s.AddProfileVersion(ctx, &store.ClusterProfileVersion{ProfileID: store.NewID(), Version: "1", Spec: spec2}), store.ErrReference)
	v, err := s.ProfileVersion(ctx, p.ID, "1.0.0")
	must(t, err)
	if string(v.Spec) != string(spec) || v.CreatedAt.IsZero() {
		t.Fatalf("version 1.0.0: %+v", v)
	}
	_, err = s.ProfileVersion(ctx, p.ID, "9")
	wantErr(t, err, store.ErrNotFound)
	vs, err := s.ProfileVersions(ctx, p.ID)
	must(t, err)
	if len(vs) != 2 || vs[0].Version != "1.0.0" || vs[1].Version != "1.1.0" || vs[0].Spec != nil {
		t.Fatalf("versions: %+v", vs)
	}
	must(t, s.ClusterProfiles.Delete(ctx, p.ID, 0))
	vs, err = s.ProfileVersions(ctx, p.ID)
	must(t, err)
	if len(vs) != 0 {
		t.Fatalf("versions left after delete: %+v", vs)
	}
}

func testProfileRefs(t *testing.T, s *store.Store) {
	ctx := context.Background()
	refs := []store.ProfileRef{{ProfileID: "p1"}, {ProfileID: "p2", Version: "2", Variables: map[string]string{"A": "b"}}}
	g := &store.ClusterGroup{Meta: store.Meta{Name: "g"}, HostClusterIDs: []string{}, EndpointType: store.EndpointLocal, Profiles: refs}
	must(t, s.ClusterGroups.Create(ctx, g))
	gotG, err := s.ClusterGroups.Get(ctx, g.ID)
	must(t, err)
	if !reflect.DeepEqual(gotG.Profiles, refs) {
		t.Fatalf("group profiles %+v", gotG.Profiles)
	}
	vc := &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, ProjectID: "p", Profiles: refs,
		Status: store.VirtualClusterStatus{Phase: store.VCReady, Profiles: []store.ProfileStatus{{ProfileID: "p1", Name: "cicd", Version: "1",
			Phase: store.ProfileDrifted, Layers: []store.ProfileLayerStatus{{Name: "a", Status: "Drifted",
				Drift: []store.ProfileDrift{{Object: "apps/Deployment ci/x", Reason: "Changed", Fields: []string{"spec.replicas"}}}}}}}}}
	must(t, s.VirtualClusters.Create(ctx, vc))
	gotVC, err := s.VirtualClusters.Get(ctx, vc.ID)
	must(t, err)
	if !reflect.DeepEqual(gotVC.Profiles, refs) || !reflect.DeepEqual(gotVC.Status.Profiles, vc.Status.Profiles) {
		t.Fatalf("virtual cluster profiles %+v status %+v", gotVC.Profiles, gotVC.Status.Profiles)
	}
	// The earlier form, a list of ids, still reads.
	var old []store.ProfileRef
	must(t, json.Unmarshal([]byte(`["p1"]`), &old))
	if len(old) != 1 || old[0].ProfileID != "p1" || old[0].Version != "" {
		t.Fatalf("old form read as %+v", old)
	}
}
