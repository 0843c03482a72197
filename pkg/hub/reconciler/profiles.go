package reconciler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/profile"
)

// CondProfiles says whether the virtual cluster's profiles are applied
// and without drift.
const CondProfiles = "ProfilesApplied"

// profileTimeout bounds one Apply or Diff of one profile.
const profileTimeout = 3 * time.Minute

// reconcileProfiles applies to a Ready virtual cluster the profiles it
// has not got yet (a new reference, version or variables, or a failed
// apply), and diffs the others: drift is shown, not repaired. Applies of
// one virtual cluster never overlap: the queue hands a key to one worker
// at a time.
func (r *Reconciler) reconcileProfiles(ctx context.Context, vc *store.VirtualCluster, name string, log *slog.Logger) error {
	var groupRefs []store.ProfileRef
	g, err := r.store.ClusterGroups.Get(ctx, vc.ClusterGroupID)
	switch {
	case err == nil:
		groupRefs = g.Profiles
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	refs := store.EffectiveProfiles(groupRefs, vc.Profiles)
	if len(refs) == 0 && len(vc.Status.Profiles) == 0 {
		if hasCondition(&vc.Status, CondProfiles) {
			return nil
		}
		return r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
			setCondition(s, CondProfiles, "True", "NoProfiles", "no profiles attached")
		})
	}
	kubeconfig, err := r.provider.KubeconfigBytes(ctx, name)
	if err != nil {
		return fmt.Errorf("kubeconfig of virtual cluster %s: %w", vc.ID, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig of virtual cluster %s: %w", vc.ID, err)
	}
	var statuses []store.ProfileStatus
	var failed, drifted []string
	for _, ref := range refs {
		var prev *store.ProfileStatus
		for i := range vc.Status.Profiles {
			if vc.Status.Profiles[i].ProfileID == ref.ProfileID {
				prev = &vc.Status.Profiles[i]
			}
		}
		st := r.reconcileProfile(ctx, cfg, ref, prev, log)
		switch st.Phase {
		case store.ProfileFailed:
			failed = append(failed, st.Name)
		case store.ProfileDrifted:
			drifted = append(drifted, st.Name)
		}
		statuses = append(statuses, st)
	}
	// Profiles detached since they were applied (from the virtual cluster,
	// its group, or by a forced delete of the profile) are uninstalled from
	// the cluster, then forgotten. One that fails stays in the status,
	// Failed, and is tried again with backoff.
	var unremoved []string
	for _, prev := range vc.Status.Profiles {
		if slices.ContainsFunc(refs, func(r store.ProfileRef) bool { return r.ProfileID == prev.ProfileID }) {
			continue
		}
		st, ok := r.removeProfile(ctx, cfg, prev, statuses, log)
		if !ok {
			unremoved = append(unremoved, st.Name)
			statuses = append(statuses, st)
		}
	}
	if err := r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
		s.Profiles = statuses
		switch {
		case len(unremoved) > 0:
			setCondition(s, CondProfiles, "False", "RemoveFailed", "detached profiles not removed: "+strings.Join(unremoved, ", "))
		case len(failed) > 0:
			setCondition(s, CondProfiles, "False", "ApplyFailed", "profiles failed: "+strings.Join(failed, ", "))
		case len(drifted) > 0:
			setCondition(s, CondProfiles, "False", "Drifted", "profiles drifted from what was applied: "+strings.Join(drifted, ", "))
		case len(refs) == 0:
			setCondition(s, CondProfiles, "True", "NoProfiles", "no profiles attached")
		default:
			setCondition(s, CondProfiles, "True", "Applied", "")
		}
	}); err != nil {
		return err
	}
	if len(failed) > 0 || len(unremoved) > 0 {
		return fmt.Errorf("profiles of virtual cluster %s failed: %s", vc.ID, strings.Join(append(failed, unremoved...), ", "))
	}
	return nil
}

// removeProfile uninstalls a detached profile (what its in-cluster
// inventory says it made) and reports whether it is gone; if not, the
// status to keep showing. A profile never applied has nothing to remove,
// nor one whose name an attached profile has now (the inventory is by
// name: it is that profile's now).
func (r *Reconciler) removeProfile(ctx context.Context, cfg *rest.Config, prev store.ProfileStatus, attached []store.ProfileStatus, log *slog.Logger) (store.ProfileStatus, bool) {
	if prev.Name == "" || slices.ContainsFunc(attached, func(st store.ProfileStatus) bool { return st.Name == prev.Name }) {
		return prev, true
	}
	log = log.With("profile", prev.Name)
	start := time.Now()
	res, err := profile.Remove(ctx, cfg, prev.Name, profile.WithLogger(log), profile.WithTimeout(profileTimeout))
	if err == nil {
		log.Info("Detached profile removed", "elapsed", time.Since(start).Round(time.Millisecond))
		return prev, true
	}
	log.Warn("Detached profile not removed", "err", err)
	st := prev
	st.Phase, st.Message = store.ProfileFailed, "detached; removing it failed: "+err.Error()
	if res != nil {
		st.Layers = layerStatuses(res)
	}
	return st, false
}

// reconcileProfile applies or diffs one profile and returns its status.
func (r *Reconciler) reconcileProfile(ctx context.Context, cfg *rest.Config, ref store.ProfileRef, prev *store.ProfileStatus, log *slog.Logger) store.ProfileStatus {
	st := store.ProfileStatus{ProfileID: ref.ProfileID, Version: ref.Version, Variables: ref.Variables, Phase: store.ProfilePending, Layers: []store.ProfileLayerStatus{}}
	if prev != nil {
		st.Name = prev.Name
	}
	fail := func(format string, args ...any) store.ProfileStatus {
		st.Phase, st.Message = store.ProfileFailed, fmt.Sprintf(format, args...)
		return st
	}
	p, err := r.profileVersion(ctx, ref)
	if err != nil {
		return fail("%v", err)
	}
	st.Name, st.Version = p.Name, p.Version
	apply := prev == nil || prev.Version != p.Version || !maps.Equal(prev.Variables, ref.Variables) ||
		prev.Phase == store.ProfileFailed || prev.Phase == store.ProfilePending
	log = log.With("profile", p.Name, "version", p.Version)
	var res *profile.Result
	if apply {
		start := time.Now()
		// The hub's apply is the authority: fields changed by hand (a
		// kubectl scale) are taken back, as Helm's three-way merge does.
		res, err = profile.Apply(ctx, cfg, p, ref.Variables, profile.WithLogger(log), profile.WithTimeout(profileTimeout),
			profile.WithForceConflicts(true))
		st.AppliedAt = time.Now().UTC().Truncate(time.Microsecond)
		if err == nil {
			log.Info("Profile applied", "elapsed", time.Since(start).Round(time.Millisecond))
		} else {
			log.Warn("Profile apply failed", "err", err)
		}
	} else {
		st.AppliedAt = prev.AppliedAt
		res, err = profile.Diff(ctx, cfg, p, ref.Variables, profile.WithLogger(log), profile.WithTimeout(profileTimeout))
		if err != nil && res == nil {
			// Not compared: keep what was known, say why.
			st.Phase, st.Layers, st.Message = prev.Phase, prev.Layers, "could not look for drift: "+err.Error()
			return st
		}
	}
	if res != nil {
		st.Layers = layerStatuses(res)
	}
	switch {
	case apply && err != nil:
		return fail("%v", err)
	case apply:
		st.Phase = store.ProfileApplied
	case res.Drifted():
		st.Phase, st.Message = store.ProfileDrifted, "objects differ from the profile; a new version (or a change of the references) applies it again"
	default:
		st.Phase = store.ProfileApplied
	}
	return st
}

// profileVersion loads the profile version a reference asks for: its
// pinned one, or the profile's current.
func (r *Reconciler) profileVersion(ctx context.Context, ref store.ProfileRef) (*profile.Profile, error) {
	cp, err := r.store.ClusterProfiles.Get(ctx, ref.ProfileID)
	if err != nil {
		return nil, fmt.Errorf("cluster profile %s: %w", ref.ProfileID, err)
	}
	spec := cp.Spec
	if ref.Version != "" && ref.Version != cp.Version {
		v, err := r.store.ProfileVersion(ctx, cp.ID, ref.Version)
		if err != nil {
			return nil, err
		}
		spec = v.Spec
	}
	p := &profile.Profile{}
	if err := json.Unmarshal(spec, p); err != nil {
		return nil, fmt.Errorf("cluster profile %s: %w", cp.Name, err)
	}
	return p, nil
}

// maxDrift bounds the drifted objects shown per layer.
const maxDrift = 20

func layerStatuses(res *profile.Result) []store.ProfileLayerStatus {
	out := make([]store.ProfileLayerStatus, 0, len(res.Layers))
	for _, l := range res.Layers {
		ls := store.ProfileLayerStatus{Name: l.Name, Status: string(l.Status), Message: l.Message}
		for i, d := range l.Drift {
			if i == maxDrift {
				ls.Message = strings.TrimSpace(ls.Message + fmt.Sprintf(" (%d more drifted objects not shown)", len(l.Drift)-maxDrift))
				break
			}
			ls.Drift = append(ls.Drift, store.ProfileDrift{Object: d.Object.String(), Reason: string(d.Reason), Fields: d.Fields})
		}
		out = append(out, ls)
	}
	return out
}

func hasCondition(s *store.VirtualClusterStatus, typ string) bool {
	for _, c := range s.Conditions {
		if c.Type == typ {
			return true
		}
	}
	return false
}
