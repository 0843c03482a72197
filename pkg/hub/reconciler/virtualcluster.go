package reconciler

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// Condition types of a virtual cluster.
const (
	CondReady  = "Ready"  // the virtual apiserver answers
	CondPlaced = "Placed" // the host namespace and state exist
	CondQuota  = "QuotaApplied"
)

// reconcile moves one virtual cluster one step (or all the way) towards
// its spec.
func (r *Reconciler) reconcile(ctx context.Context, id string) error {
	vc, err := r.store.VirtualClusters.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	name := LifecycleName(vc)
	gen := vc.Generation
	log := r.log.With("virtualCluster", vc.ID, "name", vc.Name)

	host, err := r.store.HostClusters.Get(ctx, vc.Status.HostClusterID)
	if errors.Is(err, store.ErrNotFound) {
		if vc.Deleting {
			// Nothing to remove it from: forget it.
			log.Warn("Host cluster is gone; forgetting the virtual cluster", "hostCluster", vc.Status.HostClusterID)
			return r.forget(ctx, vc)
		}
		return r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
			s.Phase, s.Message = store.VCFailed, "its host cluster was removed from the hub"
			setCondition(s, CondReady, "Unknown", "HostClusterRemoved", s.Message)
		})
	}
	if err != nil {
		return err
	}
	if host.Status.Phase == store.HostUnreachable {
		// Not deleted, not failed: the host may come back.
		return r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
			s.Message = "host cluster " + host.Name + " is unreachable: " + host.Status.Message
			s.Phase = store.VCUnknown
			if vc.Deleting {
				s.Phase = store.VCDeleting
			}
			setCondition(s, CondReady, "Unknown", "HostUnreachable", s.Message)
		})
	}
	hostKubeconfig, err := r.hostKubeconfig(host)
	if err != nil {
		return err
	}

	if vc.Deleting {
		if err := r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
			s.Phase, s.Message = store.VCDeleting, "removing it from host cluster "+host.Name
			setCondition(s, CondReady, "False", "Deleting", s.Message)
		}); err != nil {
			return err
		}
		start := time.Now()
		if err := r.provider.Delete(ctx, name); err != nil && !errors.Is(err, lifecycle.ErrNotFound) {
			r.failed(ctx, vc.ID, store.VCDeleting, "Deleting", err)
			return err
		}
		log.Info("Virtual cluster deleted from its host", "hostCluster", host.Name, "elapsed", time.Since(start).Round(time.Millisecond))
		return r.forget(ctx, vc)
	}

	c, err := r.provider.Get(ctx, name)
	if errors.Is(err, lifecycle.ErrNotFound) {
		if err := r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
			s.Phase, s.Message = store.VCProvisioning, "creating it on host cluster "+host.Name
			setCondition(s, CondPlaced, "False", "Provisioning", s.Message)
			setCondition(s, CondReady, "False", "Provisioning", s.Message)
		}); err != nil {
			return err
		}
		cfg, err := parseConfig(vc.Config)
		if err != nil {
			r.failed(ctx, vc.ID, store.VCFailed, "InvalidConfig", err)
			return nil // a new spec brings it back
		}
		start := time.Now()
		if _, err := r.provider.Create(ctx, name, lifecycle.CreateOptions{HostKubeconfig: hostKubeconfig, Config: cfg, Timeout: r.cfg.ReadyTimeout}); err != nil {
			r.failed(ctx, vc.ID, store.VCFailed, "CreateFailed", err)
			return err
		}
		log.Info("Virtual cluster created", "hostCluster", host.Name, "elapsed", time.Since(start).Round(time.Millisecond))
		c, err = r.provider.Get(ctx, name)
	}
	if err != nil {
		return err
	}
	if err := r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
		s.HostNamespace, s.KubernetesVersion = c.HostNamespace, c.KubernetesVersion
		setCondition(s, CondPlaced, "True", "Placed", "host namespace "+c.HostNamespace+" on "+host.Name)
	}); err != nil {
		return err
	}
	used, err := ensureQuota(ctx, hostKubeconfig, c.HostNamespace, name, vc.Quota)
	if err != nil {
		r.failed(ctx, vc.ID, "", "QuotaFailed", err)
		return err
	}

	if vc.Paused {
		if c.State != lifecycle.StatePaused {
			if err := r.provider.Pause(ctx, name); err != nil {
				return err
			}
			log.Info("Virtual cluster paused")
		}
		return r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
			s.Phase, s.Message, s.Endpoint, s.ObservedGeneration = store.VCPaused, "paused: its control plane is stopped and its pods removed from the host, its state kept", "", gen
			s.Used = used
			setCondition(s, CondQuota, "True", "Applied", "")
			setCondition(s, CondReady, "False", "Paused", s.Message)
		})
	}
	if c.State != lifecycle.StateRunning {
		if c, err = r.provider.Start(ctx, name, r.cfg.ReadyTimeout); err != nil {
			r.failed(ctx, vc.ID, store.VCFailed, "StartFailed", err)
			return err
		}
		log.Info("Virtual cluster started")
	}
	if c.State != lifecycle.StateRunning {
		// Started, but its apiserver does not answer yet: never Ready
		// before it does.
		if err := r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
			s.Phase, s.Message = store.VCProvisioning, "waiting for the virtual apiserver to answer"
			setCondition(s, CondReady, "False", "Starting", s.Message)
		}); err != nil {
			return err
		}
		return errRetry
	}
	if err := r.setStatus(ctx, vc.ID, func(s *store.VirtualClusterStatus) {
		s.Phase, s.Message, s.Endpoint, s.ObservedGeneration = store.VCReady, "", c.Endpoint, gen
		s.Used = used
		setCondition(s, CondQuota, "True", "Applied", "")
		setCondition(s, CondReady, "True", "APIServerAnswers", "the virtual apiserver answers at "+c.Endpoint)
	}); err != nil {
		return err
	}
	r.observeInto(ctx, vc.ID, name, hostKubeconfig, c.HostNamespace, log)
	// Profiles once Ready; their failures stay in their status and
	// condition (the phase stays Ready) and are retried with backoff.
	return r.reconcileProfiles(ctx, vc, name, log)
}

// forget deletes the record of a virtual cluster that is gone.
func (r *Reconciler) forget(ctx context.Context, vc *store.VirtualCluster) error {
	r.observedMu.Lock()
	delete(r.observed, vc.ID)
	r.observedMu.Unlock()
	if err := r.store.VirtualClusters.Delete(ctx, vc.ID, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("forget virtual cluster %s: %w", vc.ID, err)
	}
	return nil
}

// failed records an error in the status (phase "" keeps the phase).
func (r *Reconciler) failed(ctx context.Context, id, phase, reason string, err error) {
	if ctx.Err() != nil {
		return // shutting down: the next start carries on
	}
	if serr := r.setStatus(ctx, id, func(s *store.VirtualClusterStatus) {
		if phase != "" {
			s.Phase = phase
		}
		s.Message = err.Error()
		setCondition(s, CondReady, "False", reason, s.Message)
	}); serr != nil {
		r.log.Warn("Could not record a failure", "virtualCluster", id, "err", serr)
	}
}

// setStatus applies mutate to the stored status of a virtual cluster and
// writes it if it changed, reading again and retrying on conflicts with
// other writers (an API update in between is kept, never lost).
func (r *Reconciler) setStatus(ctx context.Context, id string, mutate func(*store.VirtualClusterStatus)) error {
	for attempt := 0; ; attempt++ {
		vc, err := r.store.VirtualClusters.Get(ctx, id)
		if err != nil {
			return err
		}
		before := vc.Status
		before.Conditions = append([]store.Condition(nil), vc.Status.Conditions...)
		mutate(&vc.Status)
		if reflect.DeepEqual(before, vc.Status) {
			return nil
		}
		err = r.store.VirtualClusters.Update(ctx, vc)
		if errors.Is(err, store.ErrConflict) && attempt < 20 {
			continue
		}
		if err != nil {
			return fmt.Errorf("write status of virtual cluster %s: %w", id, err)
		}
		return nil
	}
}

// setCondition sets one condition, keeping its transition time when its
// status does not change.
func setCondition(s *store.VirtualClusterStatus, typ, status, reason, message string) {
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if c.Type != typ {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = time.Now().UTC().Truncate(time.Microsecond)
		}
		c.Status, c.Reason, c.Message = status, reason, message
		return
	}
	s.Conditions = append(s.Conditions, store.Condition{Type: typ, Status: status, Reason: reason, Message: message,
		LastTransitionTime: time.Now().UTC().Truncate(time.Microsecond)})
}
