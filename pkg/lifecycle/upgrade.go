package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nestcluster/nest/pkg/fsutil"
	"sigs.k8s.io/yaml"
)

// ErrNoUpgrade is returned (wrapped) when an upgrade would change nothing:
// the cluster already runs that nest binary and Kubernetes version.
var ErrNoUpgrade = errors.New("nothing to upgrade")

// UpgradeOptions of Upgrade.
type UpgradeOptions struct {
	// KubernetesVersion wanted; "" keeps the cluster's. It must be the one
	// the target nest binary embeds: each nest build runs exactly one.
	KubernetesVersion string
	// NestBinary to run the control plane with from now on; "" is the
	// provider's (by default the running nest).
	NestBinary string
	// Timeout bounds the wait for the upgraded cluster to be ready.
	Timeout time.Duration
	// ChartValues upgrade a pod-runtime cluster's Helm release (over its
	// current values), e.g. {"image": {"tag": "v0.2.0"}}; the pod runtime
	// only.
	ChartValues map[string]any
}

// UpgradeResult says what an upgrade did.
type UpgradeResult struct {
	From, To NestBuild
	// FromBinary and ToBinary are the nest binaries before and after.
	FromBinary, ToBinary string
	// Snapshot is the file taken before the upgrade (kept: delete it
	// when the upgraded cluster is known good).
	Snapshot string
	Cluster  *Cluster
}

// Upgrade moves a virtual cluster to another nest binary and, with it, the
// Kubernetes version that binary embeds: it checks the target before
// touching anything, snapshots the cluster, stops it, records the new
// binary and version, and starts it again with all its data, CA, keys,
// endpoint and kubeconfig unchanged, so clients keep working once it is
// ready. If the upgraded cluster does not become ready, the snapshot is
// restored and the cluster started with its previous binary; the error
// says so. A stopped or paused cluster is upgraded and stays stopped.
// Upgrading to what the cluster already runs returns ErrNoUpgrade.
func (p *Provider) Upgrade(ctx context.Context, name string, opts UpgradeOptions) (*UpgradeResult, error) {
	r, err := p.loadRecord(name)
	if err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if r.Runtime == RuntimePod {
		return p.upgradePod(ctx, r, opts)
	}
	if len(opts.ChartValues) > 0 {
		return nil, fmt.Errorf("upgrade %q: chart values are for the %q runtime only", name, RuntimePod)
	}
	target := opts.NestBinary
	if target == "" {
		target = p.nestPath
	}
	if abs, err := filepath.Abs(target); err == nil {
		target = abs
	}
	if _, err := os.Stat(target); err != nil {
		return nil, fmt.Errorf("upgrade %q: nest binary: %w", name, err)
	}
	to, err := p.binaryVersion(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("upgrade %q: %w", name, err)
	}
	if opts.KubernetesVersion != "" && opts.KubernetesVersion != to.Kubernetes {
		return nil, fmt.Errorf("upgrade %q: --kubernetes-version %s: nest %s (%s) embeds Kubernetes %s only; "+
			"use a nest binary that embeds %s (--nest-binary)", name, opts.KubernetesVersion, to.Nest, target, to.Kubernetes, opts.KubernetesVersion)
	}
	from := NestBuild{Nest: r.NestVersion, Kubernetes: r.KubernetesVersion}
	fromBinary := p.binaryOf(r)
	if from.Nest == "" {
		if from, err = p.binaryVersion(ctx, fromBinary); err != nil {
			return nil, fmt.Errorf("upgrade %q: current %w", name, err)
		}
	}
	res := &UpgradeResult{From: from, To: to, FromBinary: fromBinary, ToBinary: target}
	if from == to && samePath(fromBinary, target) {
		return res, fmt.Errorf("virtual cluster %q already runs nest %s with Kubernetes %s (%s): %w", name, to.Nest, to.Kubernetes, target, ErrNoUpgrade)
	}

	wasRunning := !p.describe(ctx, r).State.Stopped()
	res.Snapshot = filepath.Join(p.layout(name).Dir, "backups", fmt.Sprintf("pre-upgrade-%s.snapshot", time.Now().UTC().Format("20060102T150405Z")))
	if err := os.MkdirAll(filepath.Dir(res.Snapshot), 0o700); err != nil {
		return nil, fmt.Errorf("upgrade %q: %w", name, err)
	}
	if _, err := p.Snapshot(ctx, name, res.Snapshot); err != nil {
		return nil, fmt.Errorf("upgrade %q: snapshot before upgrading: %w (nothing was changed)", name, err)
	}
	p.logger.Info("Snapshot taken before the upgrade", "name", name, "file", res.Snapshot)
	if err := p.Stop(ctx, name); err != nil {
		return nil, fmt.Errorf("upgrade %q: %w", name, err)
	}
	old := *r
	r.NestBinary, r.NestVersion, r.KubernetesVersion = target, to.Nest, to.Kubernetes
	if err := p.setConfigVersion(name, to.Kubernetes); err != nil {
		return nil, p.rollbackUpgrade(ctx, &old, res, wasRunning, err)
	}
	if err := p.saveRecord(r); err != nil {
		return nil, p.rollbackUpgrade(ctx, &old, res, wasRunning, err)
	}
	if wasRunning {
		if err := p.startProcess(ctx, r, opts.Timeout); err != nil {
			return nil, p.rollbackUpgrade(ctx, &old, res, wasRunning, err)
		}
	}
	p.logger.Info("Virtual cluster upgraded", "name", name, "from", from.Nest, "to", to.Nest, "kubernetes", to.Kubernetes)
	if res.Cluster, err = p.Get(ctx, name); err != nil {
		return nil, err
	}
	return res, nil
}

// rollbackUpgrade stops the upgraded cluster, puts the previous record and
// nest.yaml back, and restores the snapshot with the previous binary.
func (p *Provider) rollbackUpgrade(ctx context.Context, old *record, res *UpgradeResult, start bool, cause error) error {
	ctx = context.WithoutCancel(ctx)
	name := old.Name
	p.logger.Warn("Upgrade failed, rolling back", "name", name, "error", cause)
	_ = p.Stop(ctx, name)
	errs := []error{p.setConfigVersion(name, old.KubernetesVersion), p.saveRecord(old)}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("upgrade %q failed: %w; rolling back failed too: %v (snapshot: %s)", name, cause, err, res.Snapshot)
	}
	if start {
		if _, err := p.Restore(ctx, name, res.Snapshot, RestoreOptions{Stop: true}); err != nil {
			return fmt.Errorf("upgrade %q failed: %w; restoring the snapshot %s failed too: %v", name, cause, res.Snapshot, err)
		}
		return fmt.Errorf("upgrade %q to nest %s failed: %w; rolled back: it runs nest %s again with the snapshot taken before (%s)",
			name, res.To.Nest, cause, res.From.Nest, res.Snapshot)
	}
	return fmt.Errorf("upgrade %q to nest %s failed: %w; rolled back to nest %s", name, res.To.Nest, cause, res.From.Nest)
}

// setConfigVersion writes kubernetesVersion into the cluster's nest.yaml,
// leaving the rest as it is: the file is the target binary's to validate
// (another nest build accepts another version).
func (p *Provider) setConfigVersion(name, v string) error {
	return setKubernetesVersion(p.layout(name).ConfigPath(), v)
}

func setKubernetesVersion(path, v string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	doc := map[string]any{}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	if doc["kubernetesVersion"] == v {
		return nil
	}
	doc["kubernetesVersion"] = v
	if data, err = yaml.Marshal(doc); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
