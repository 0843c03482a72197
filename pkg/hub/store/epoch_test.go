package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestChangeEpoch: every committed write of a virtual cluster (through
// any store on the database) increases its change epoch once per
// transaction; a rolled-back one and writes of other objects do not; auth
// data moves the auth epoch only.
func TestChangeEpoch(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{{Name: "epochs", Run: func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		vc := &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, ProjectID: "p"}
		rollback := errors.New("rolled back")
		steps := []struct {
			name               string
			write              func() error
			wantAuth, wantData int64 // increases
		}{
			{"create", func() error { return s.VirtualClusters.Create(ctx, vc) }, 0, 1},
			{"update", func() error { vc.Paused = true; return s.VirtualClusters.Update(ctx, vc) }, 0, 1},
			{"two updates in one transaction", func() error {
				return s.InTx(ctx, func(ctx context.Context) error {
					for range 2 {
						if err := s.VirtualClusters.Update(ctx, vc); err != nil {
							return err
						}
					}
					return nil
				})
			}, 0, 1},
			{"rolled back", func() error {
				err := s.InTx(ctx, func(ctx context.Context) error {
					if err := s.VirtualClusters.Create(ctx, &store.VirtualCluster{Meta: store.Meta{Name: "gone"}, ProjectID: "p"}); err != nil {
						return err
					}
					return rollback
				})
				if errors.Is(err, rollback) {
					return nil
				}
				return err
			}, 0, 0},
			{"a tenant", func() error { return s.Tenants.Create(ctx, &store.Tenant{Meta: store.Meta{Name: "acme"}}) }, 1, 0},
			{"a host cluster", func() error { return s.HostClusters.Create(ctx, &store.HostCluster{Meta: store.Meta{Name: "h"}}) }, 0, 0},
			{"delete", func() error { return s.VirtualClusters.Delete(ctx, vc.ID, 0) }, 0, 1},
		}
		auth, data, err := s.Epochs(ctx, "virtual_clusters")
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range steps {
			if err := step.write(); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
			a, d, err := s.Epochs(ctx, "virtual_clusters")
			if err != nil {
				t.Fatal(err)
			}
			if a-auth != step.wantAuth || d-data != step.wantData {
				t.Errorf("%s: epochs moved by %d (auth) and %d (virtual clusters), want %d and %d", step.name, a-auth, d-data, step.wantAuth, step.wantData)
			}
			auth, data = a, d
		}
		if _, _, err := s.Epochs(ctx, "tenants"); err == nil {
			t.Error("a collection without a change epoch has one")
		}
	}}})
}
