package provider

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// A virtual cluster is usable once its add-ons are in: create and update
// wait, after Ready, until the reconciler applied each of its effective
// profiles (the cluster group's, then its own) at the version and with
// the variables asked for.

// waitProfiles waits (at most d) until every effective profile of a Ready
// virtual cluster is applied; a profile whose apply failed ends the wait
// with the hub's message. The group's profiles count when the API key may
// read the group.
func waitProfiles(ctx context.Context, hub *client.Client, vc *store.VirtualCluster, d time.Duration) (*store.VirtualCluster, error) {
	if vc.Paused || vc.Status.Phase != store.VCReady {
		return vc, nil
	}
	var groupRefs []store.ProfileRef
	if g, err := hub.GetClusterGroup(ctx, vc.ClusterGroupID); err == nil {
		groupRefs = g.Profiles
	} else if !client.IsForbidden(err) && !client.IsNotFound(err) {
		return vc, fmt.Errorf("read the cluster group's profiles: %w", err)
	}
	refs := store.EffectiveProfiles(groupRefs, vc.Profiles)
	if len(refs) == 0 {
		return vc, nil
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	ref := client.VirtualClusterRef{TenantID: vc.TenantID, ProjectID: vc.ProjectID, ID: vc.ID}
	out, err := hub.WaitVirtualCluster(wctx, ref, func(vc *store.VirtualCluster) (bool, error) {
		if vc == nil {
			return false, fmt.Errorf("the virtual cluster is gone")
		}
		if done, err := client.Settled(vc); err != nil || !done {
			return false, err
		}
		for _, r := range refs {
			want := r.Version
			if want == "" { // follows the latest: the profile's current version
				p, err := hub.GetClusterProfile(wctx, r.ProfileID)
				if err != nil {
					return false, fmt.Errorf("read cluster profile %s: %w", r.ProfileID, err)
				}
				want = p.Version
			}
			st := profileStatus(vc, r.ProfileID)
			if st == nil || st.Version != want || !maps.Equal(st.Variables, r.Variables) {
				return false, nil // not applied yet
			}
			switch st.Phase {
			case store.ProfileFailed:
				return false, fmt.Errorf("cluster profile %s (version %s) failed to apply: %s", st.Name, st.Version, st.Message)
			case store.ProfilePending:
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return out, fmt.Errorf("timed out after %s waiting for the cluster profiles to be applied: %w", d, err)
	}
	return out, err
}

func profileStatus(vc *store.VirtualCluster, profileID string) *store.ProfileStatus {
	for i := range vc.Status.Profiles {
		if vc.Status.Profiles[i].ProfileID == profileID {
			return &vc.Status.Profiles[i]
		}
	}
	return nil
}
