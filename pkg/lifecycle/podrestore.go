package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/pkg/chartrelease"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/restoreparts"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// Restore of the pod runtime. The snapshot travels to the pod in Secrets
// of the host namespace (pkg/restoreparts: parts of 768 KiB and a manifest
// Secret RELEASE-nest-restore written last); the chart's control plane
// looks for the manifest at every start (--restore-secret), checks every
// part and the whole, loads a restore it has not applied yet over its
// datastore, keeping the previous objects in its volume until the
// restored apiserver is ready, and then deletes the Secrets
// (controlplane/hostrestore.go). The control plane reads them through the
// host API rather than a projected volume: it already holds the rights
// (its Role reads and deletes Secrets of its namespace), it can delete the
// parts itself at the one moment it knows the restore is done, and no pod
// spec has to change with the number of parts.

// defaultPodRestoreTimeout bounds the wait for a pod to confirm a restore
// over an existing cluster, when RestoreOptions.Create.Timeout is 0.
const defaultPodRestoreTimeout = 5 * time.Minute

// restoreSecretName is the manifest Secret of a pod-runtime cluster's
// restore (its chart's --restore-secret).
func restoreSecretName(release string) string { return chartFullname(release) + "-restore" }

// readPodRestore reads a snapshot file to carry to a pod, refusing one too
// large before anything is made.
func readPodRestore(from string) ([]byte, error) {
	fi, err := os.Stat(from)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	if err := restoreparts.CheckSize(fi.Size()); err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", from, err)
	}
	data, err := os.ReadFile(from)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	return data, nil
}

// restorePod makes a new pod-runtime cluster from a snapshot: its parts go
// into Secrets of the host namespace, then the chart is installed, whose
// pod loads them into its empty datastore before its apiserver starts. r
// is the record provision made.
func (p *Provider) restorePod(ctx context.Context, r *record, data []byte, opts *CreateOptions) error {
	if on, ok := chartRestoreEnabled(opts.ChartValues); ok && !on {
		return errors.New("chart value restore.enabled is false: the pod would not load the snapshot")
	}
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return err
	}
	m, err := restoreparts.Write(ctx, host, r.HostNamespace, r.Name, restoreSecretName(r.Name), data)
	if err != nil {
		return err
	}
	p.logger.Info("Snapshot carried to the host", "name", r.Name, "secrets", len(m.Parts)+1, "bytes", m.Size, "restore", m.ID)
	cfg := opts.Config
	if cfg == nil {
		cfg = config.Default()
	}
	return p.installChart(ctx, r, cfg, maps.Clone(opts.ChartValues), opts.Timeout)
}

// chartRestoreEnabled is the chart value restore.enabled, if set.
func chartRestoreEnabled(values map[string]any) (on, set bool) {
	restore, _ := values["restore"].(map[string]any)
	on, set = restore["enabled"].(bool)
	return on, set
}

// restorePodOver restores a snapshot over an existing pod-runtime cluster:
// its pod is stopped, the snapshot carried into Secrets, the pod started
// again; its control plane replaces its objects and deletes the Secrets
// once its apiserver is ready, which is what Restore waits for. If the
// pod refuses the restore or does not confirm it in time, the Secrets are
// deleted and the pod restarted: its control plane then puts the previous
// objects back (they are kept in its volume until a restore is
// confirmed).
func (p *Provider) restorePodOver(ctx context.Context, r *record, from string, h snapshot.Header, opts RestoreOptions) (*Cluster, error) {
	start := time.Now()
	name := r.Name
	data, err := readPodRestore(from)
	if err != nil {
		return nil, err
	}
	if !p.releaseRestoreEnabled(r) {
		return nil, fmt.Errorf("restore %q: its release has chart value restore.enabled false: its pod would not load the snapshot", name)
	}
	timeout := opts.Create.Timeout
	if timeout == 0 {
		timeout = defaultPodRestoreTimeout
	}
	if c := p.describe(ctx, r); !c.State.Stopped() {
		if !opts.Stop {
			return nil, fmt.Errorf("virtual cluster %q %w: a restore replaces all its objects, so stop it first (nest restore --stop)", name, ErrRunning)
		}
		if err := p.scalePod(ctx, r, 0, timeout); err != nil {
			return nil, fmt.Errorf("restore %q: stop: %w", name, err)
		}
	}
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return nil, err
	}
	m, err := restoreparts.Write(ctx, host, r.HostNamespace, name, restoreSecretName(name), data)
	if err != nil {
		return nil, fmt.Errorf("restore %q from %s: %w (nothing was changed; it is stopped)", name, from, err)
	}
	p.logger.Info("Snapshot carried to the host", "name", name, "secrets", len(m.Parts)+1, "bytes", m.Size, "restore", m.ID)
	giveUp := func(err error) (*Cluster, error) {
		ctx := context.WithoutCancel(ctx)
		p.logger.Warn("Restore failed: giving it up, the pod puts the previous objects back", "name", name, "error", err)
		if rerr := restoreparts.Remove(ctx, host, r.HostNamespace, name); rerr != nil {
			return nil, fmt.Errorf("restore %q: %w; deleting its Secrets failed too: %v", name, err, rerr)
		}
		if rerr := p.scalePod(ctx, r, 0, timeout); rerr != nil {
			return nil, fmt.Errorf("restore %q: %w; restarting its pod failed too: %v (its next start puts the previous objects back)", name, err, rerr)
		}
		if _, rerr := p.startPod(ctx, r, timeout); rerr != nil {
			return nil, fmt.Errorf("restore %q: %w; starting its pod failed too: %v (its next start puts the previous objects back)", name, err, rerr)
		}
		return nil, fmt.Errorf("restore %q: %w; its pod was restarted without it and puts the previous objects back", name, err)
	}
	if _, err := p.startPod(ctx, r, timeout); err != nil {
		return giveUp(err)
	}
	if err := p.waitRestoreConfirmed(ctx, r, timeout); err != nil {
		return giveUp(err)
	}
	p.logger.Info("Virtual cluster restored", "name", name, "runtime", r.Runtime, "snapshotOf", h.Cluster, "keys", h.Keys,
		"secrets", len(m.Parts)+1, "elapsed", time.Since(start).Round(time.Millisecond))
	return p.Get(ctx, name)
}

// waitRestoreConfirmed waits until the pod deleted the restore's manifest
// Secret (it did the restore and its apiserver is ready), or reported it
// refused the restore on it (annotation restoreparts.AnnotationError).
func (p *Provider) waitRestoreConfirmed(ctx context.Context, r *record, timeout time.Duration) error {
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	base := restoreSecretName(r.Name)
	for {
		s, err := host.CoreV1().Secrets(r.HostNamespace).Get(ctx, base, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err == nil && s.Annotations[restoreparts.AnnotationError] != "":
			return fmt.Errorf("the control plane refused the restore: %s", s.Annotations[restoreparts.AnnotationError])
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the control plane did not confirm the restore (it deletes Secret %s/%s once its apiserver is ready) within %s", r.HostNamespace, base, timeout)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// releaseRestoreEnabled reads restore.enabled of the cluster's release
// (true when unset: the chart's default).
func (p *Provider) releaseRestoreEnabled(r *record) bool {
	values, _, err := chartrelease.Values(r.HostKubeconfig, r.HostNamespace, r.Name, p.logger)
	if err != nil {
		return true // the pod's refusal, if any, is reported by it
	}
	on, set := chartRestoreEnabled(values)
	return on || !set
}
