package placement_test

import (
	"errors"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/placement"
	"github.com/nestcluster/nest/pkg/hub/store"
)

func TestPlace(t *testing.T) {
	t.Parallel()
	node := store.Resources{CPU: "8", Memory: "32Gi", Storage: "100Gi", Pods: "110"}
	small := store.Resources{CPU: "2", Memory: "4Gi", Pods: "20"}
	tests := []struct {
		name    string
		hosts   []placement.Host
		req     placement.Request
		want    string
		wantErr error
	}{
		{name: "one ready host", hosts: []placement.Host{{ID: "a", Ready: true, Capacity: node}},
			req: placement.Request{Quota: small}, want: "a"},
		{name: "the host with most free capacity", hosts: []placement.Host{
			{ID: "a", Ready: true, Capacity: node, Placed: store.Resources{CPU: "6"}},
			{ID: "b", Ready: true, Capacity: node, Placed: store.Resources{CPU: "1"}},
		}, req: placement.Request{Quota: small}, want: "b"},
		{name: "scarcest dimension decides", hosts: []placement.Host{
			{ID: "a", Ready: true, Capacity: node, Placed: store.Resources{Memory: "30Gi"}},
			{ID: "b", Ready: true, Capacity: node, Placed: store.Resources{CPU: "4"}},
		}, req: placement.Request{Quota: store.Resources{CPU: "1", Memory: "1Gi"}}, want: "b"},
		{name: "unhealthy hosts are skipped", hosts: []placement.Host{
			{ID: "a", Ready: false, Capacity: node},
			{ID: "b", Ready: true, Capacity: node, Placed: store.Resources{CPU: "7"}},
		}, req: placement.Request{Quota: store.Resources{CPU: "1"}}, want: "b"},
		{name: "ties go to the lowest id", hosts: []placement.Host{
			{ID: "b", Ready: true, Capacity: node}, {ID: "a", Ready: true, Capacity: node},
		}, req: placement.Request{Quota: small}, want: "a"},
		{name: "full host", hosts: []placement.Host{{ID: "a", Ready: true, Capacity: node, Placed: store.Resources{CPU: "7"}}},
			req: placement.Request{Quota: small}, wantErr: placement.ErrNoCapacity},
		{name: "oversubscription makes room", hosts: []placement.Host{{ID: "a", Ready: true, Capacity: node, Placed: store.Resources{CPU: "7"}}},
			req: placement.Request{Quota: small, OversubscriptionPercent: 50}, want: "a"},
		{name: "a dimension the host lacks", hosts: []placement.Host{{ID: "a", Ready: true, Capacity: store.Resources{CPU: "8"}}},
			req: placement.Request{Quota: store.Resources{Storage: "1Gi"}}, wantErr: placement.ErrNoCapacity},
		{name: "no host ready", hosts: []placement.Host{{ID: "a", Capacity: node}},
			req: placement.Request{Quota: small}, wantErr: placement.ErrNoCapacity},
		{name: "no hosts", req: placement.Request{Quota: small}, wantErr: placement.ErrNoCapacity},
		{name: "group at its maximum", hosts: []placement.Host{{ID: "a", Ready: true, Capacity: node}},
			req: placement.Request{Quota: small, MaxVirtualClusters: 3, Existing: 3}, wantErr: placement.ErrGroupFull},
		{name: "empty quota fits anywhere ready", hosts: []placement.Host{{ID: "a", Ready: true}},
			req: placement.Request{}, want: "a"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := placement.Place(tc.hosts, tc.req)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %q, %v; want %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestAddAndFits(t *testing.T) {
	t.Parallel()
	sum, err := placement.Add(store.Resources{CPU: "500m", Memory: "1Gi"}, store.Resources{CPU: "1500m", Pods: "10"})
	if err != nil {
		t.Fatal(err)
	}
	if sum != (store.Resources{CPU: "2", Memory: "1Gi", Pods: "10"}) {
		t.Fatalf("sum %+v", sum)
	}
	ok, err := placement.Fits(store.Resources{CPU: "2"}, sum)
	if err != nil || !ok {
		t.Fatalf("fits: %v %v", ok, err)
	}
	ok, _ = placement.Fits(store.Resources{Memory: "2Gi"}, sum)
	if ok {
		t.Fatal("2Gi fits in 1Gi")
	}
	if _, err := placement.Add(store.Resources{CPU: "lots"}, store.Resources{}); err == nil {
		t.Fatal("a bad quantity was added")
	}
}
