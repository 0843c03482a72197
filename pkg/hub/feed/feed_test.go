package feed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/feed"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// next waits for a change (the timeout is a deadlock guard only).
func next(t *testing.T, s *feed.Subscription) feed.Change {
	t.Helper()
	select {
	case c := <-s.C:
		return c
	case <-time.After(time.Minute):
		t.Fatal("no change")
	}
	return feed.Change{}
}

// TestFeed: subscribers get each change made after they subscribed
// (created, updated, deleted), every subscriber its own copy; the poller
// stops with the last subscriber and starts again with the next; a
// subscriber that falls behind is told to read everything again.
func TestFeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.SQLite.Open(t)
	before := &store.VirtualCluster{Meta: store.Meta{Name: "before"}, TenantID: "t", ProjectID: "p", Profiles: []store.ProfileRef{}}
	if err := s.VirtualClusters.Create(ctx, before); err != nil {
		t.Fatal(err)
	}
	f, err := feed.New(feed.Config{Store: s, Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Subscribe(), f.Subscribe()
	vc := &store.VirtualCluster{Meta: store.Meta{Name: "new"}, TenantID: "t", ProjectID: "p", Profiles: []store.ProfileRef{}}
	if err := s.VirtualClusters.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []*feed.Subscription{a, b} {
		if c := next(t, sub); c.Deleted || c.VirtualCluster.ID != vc.ID {
			t.Fatalf("first change %+v, want the new cluster (not the one from before)", c)
		}
	}
	vc.Status.Phase = store.VCReady
	if err := s.VirtualClusters.Update(ctx, vc); err != nil {
		t.Fatal(err)
	}
	if c := next(t, a); c.VirtualCluster.Status.Phase != store.VCReady {
		t.Fatalf("update %+v", c)
	}
	b.Close()
	if err := s.VirtualClusters.Delete(ctx, vc.ID, 0); err != nil {
		t.Fatal(err)
	}
	if c := next(t, a); !c.Deleted || c.VirtualCluster.ID != vc.ID {
		t.Fatalf("deletion %+v", c)
	}
	a.Close()
	if n := f.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after both closed", n)
	}

	// Again, with a reader that never reads: it overflows.
	slow := f.Subscribe()
	defer slow.Close()
	// More new clusters at once than a subscriber may lag behind.
	err = s.InTx(ctx, func(ctx context.Context) error {
		for i := range 300 {
			vc := &store.VirtualCluster{Meta: store.Meta{Name: fmt.Sprintf("vc-%d", i)}, TenantID: "t", ProjectID: "p", Profiles: []store.ProfileRef{}}
			if err := s.VirtualClusters.Create(ctx, vc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-slow.Overflow:
	case <-time.After(time.Minute):
		t.Fatal("a reader that never reads was not told it fell behind")
	}
}
