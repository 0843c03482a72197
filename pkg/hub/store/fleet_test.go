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
	})
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
