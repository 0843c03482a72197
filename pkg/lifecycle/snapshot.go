package lifecycle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nestcluster/nest/pkg/components"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// ErrRunning is returned by Restore for a virtual cluster whose control
// plane runs.
var ErrRunning = errors.New("is running")

// SnapshotTo writes a snapshot of virtual cluster name to w: every key of
// its datastore read at one revision, so it is consistent while the cluster
// runs (see docs/snapshot.md). A stopped cluster's datastore is served by a
// kine started for the job. It returns the snapshot's header.
func (p *Provider) SnapshotTo(ctx context.Context, name string, w io.Writer) (snapshot.Header, error) {
	start := time.Now()
	r, err := p.loadRecord(name)
	if err != nil {
		return snapshot.Header{}, err
	}
	if r.Runtime == RuntimePod {
		h, err := p.snapshotPod(ctx, r, w)
		if err == nil {
			p.logger.Info("Snapshot taken", "name", name, "keys", h.Keys, "revision", h.Revision, "elapsed", time.Since(start).Round(time.Millisecond))
		}
		return h, err
	}
	ds, err := p.connectDatastore(ctx, name)
	if err != nil {
		return snapshot.Header{}, fmt.Errorf("snapshot of %q: %w", name, err)
	}
	defer ds.close()
	h := snapshot.Header{
		Cluster: name, KubernetesVersion: r.KubernetesVersion,
		Datastore: string(ds.kind), Created: time.Now().UTC(),
		ServiceAccountKey: serviceAccountKey(p.layout(name)),
	}
	h, err = snapshot.Take(ctx, ds.client, ds.prefix, h, w)
	if err != nil {
		return h, fmt.Errorf("snapshot of %q: %w", name, err)
	}
	p.logger.Info("Snapshot taken", "name", name, "keys", h.Keys, "revision", h.Revision, "elapsed", time.Since(start).Round(time.Millisecond))
	return h, nil
}

// Snapshot writes a snapshot of virtual cluster name to the file at path,
// readable by its owner only (it holds the cluster's secrets). The file
// appears whole or not at all.
func (p *Provider) Snapshot(ctx context.Context, name, path string) (snapshot.Header, error) {
	var h snapshot.Header
	err := writeFileAtomic(path, func(w io.Writer) error {
		var err error
		h, err = p.SnapshotTo(ctx, name, w)
		return err
	})
	return h, err
}

// connectDatastore connects to a cluster's datastore for reading, whether
// it runs or not. A running control plane's kine is used through its
// socket; for a stopped one, the state directory is locked and a kine
// started until close.
func (p *Provider) connectDatastore(ctx context.Context, name string) (*datastore, error) {
	layout := p.layout(name)
	ds, ep, err := p.datastoreOf(name)
	if err != nil {
		return nil, err
	}
	if ep.Kind == config.DatastoreEtcd {
		return p.openDatastore(ctx, name, "") // serves whether the cluster runs or not
	}
	if pid, err := exec.ReadPIDFile(layout.PIDPath()); err == nil && exec.Alive(pid, layout.Dir) {
		if ds.client, err = etcdClient([]string{"unix://" + layout.KineSocket()}, nil); err != nil {
			return nil, err
		}
		ds.close = func() { ds.client.Close() }
		if err := ds.probe(ctx); err != nil {
			return nil, err
		}
		return ds, nil
	}
	unlock, err := controlplane.LockDir(layout)
	if err != nil {
		return nil, fmt.Errorf("the control plane is starting: %w", err)
	}
	ds, err = p.openDatastore(ctx, name, "")
	if err != nil {
		unlock()
		return nil, err
	}
	closeDS := ds.close
	ds.close = func() { closeDS(); unlock() }
	return ds, nil
}

// RestoreOptions of Restore.
type RestoreOptions struct {
	// Create holds the settings of a virtual cluster that does not exist
	// yet: Restore makes it as Create would (host namespace, credentials,
	// nest.yaml, a PKI of its own), with the snapshot's objects in its
	// datastore. Its Timeout bounds the wait for the restored cluster.
	Create CreateOptions
	// Stop stops a running cluster first; without it Restore refuses to
	// replace a running cluster's objects (ErrRunning).
	Stop bool
}

// Restore replaces every object of virtual cluster name with those of the
// snapshot file from, and starts it. The file's format version and
// checksum are checked before anything is touched. A cluster that does not
// exist is created (see RestoreOptions.Create); an existing one must be
// stopped. Its previous objects are kept until the restored cluster is
// ready, and put back if it fails to start.
func (p *Provider) Restore(ctx context.Context, name, from string, opts RestoreOptions) (*Cluster, error) {
	start := time.Now()
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	snap, err := snapshot.Open(from)
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	h := snap.Header
	if h.KubernetesVersion != config.SupportedKubernetesVersion {
		p.logger.Warn("Snapshot is of another Kubernetes version", "snapshot", h.KubernetesVersion, "nest", config.SupportedKubernetesVersion)
	}
	r, err := p.loadRecord(name)
	created := errors.Is(err, ErrNotFound)
	switch {
	case created:
		var podData []byte
		if opts.Create.Runtime == RuntimePod {
			// Too large a file is refused before anything is made.
			if podData, err = readPodRestore(from); err != nil {
				return nil, err
			}
		}
		if r, err = p.provision(ctx, name, &opts.Create); err != nil {
			return nil, err
		}
		if r.Runtime == RuntimePod {
			if err := p.restorePod(ctx, r, podData, &opts.Create); err != nil {
				if derr := p.delete(context.WithoutCancel(ctx), name, true); derr != nil {
					p.logger.Warn("Could not remove the cluster made for the restore", "name", name, "error", derr)
				}
				return nil, fmt.Errorf("restore %q from %s: %w", name, from, err)
			}
			p.logger.Info("Virtual cluster restored", "name", name, "runtime", r.Runtime, "snapshotOf", h.Cluster, "keys", h.Keys, "elapsed", time.Since(start).Round(time.Millisecond))
			return p.Get(ctx, name)
		}
	case err != nil:
		return nil, err
	default:
		if r.Runtime == RuntimePod {
			return p.restorePodOver(ctx, r, from, h, opts)
		}
		if c := p.describe(ctx, r); !c.State.Stopped() {
			if !opts.Stop {
				return nil, fmt.Errorf("virtual cluster %q %w: a restore replaces all its objects, so stop it first (nest restore --stop)", name, ErrRunning)
			}
			if err := p.Stop(ctx, name); err != nil {
				return nil, err
			}
		}
	}
	fail := func(err error) (*Cluster, error) {
		if created {
			// Keys found in a datastore are not this cluster's to delete.
			withDatastore := !errors.Is(err, snapshot.ErrNotEmpty)
			if derr := p.delete(context.WithoutCancel(ctx), name, withDatastore); derr != nil {
				p.logger.Warn("Could not remove the cluster made for the restore", "name", name, "error", derr)
			}
		}
		return nil, fmt.Errorf("restore %q from %s: %w", name, from, err)
	}
	swap, err := p.replaceData(ctx, name, snap, created)
	if err != nil {
		return fail(err)
	}
	p.logger.Info("Snapshot loaded", "name", name, "from", from, "keys", swap.keys, "snapshotOf", h.Cluster, "revision", h.Revision, "elapsed", time.Since(start).Round(time.Millisecond))
	timeout := opts.Create.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	if err := p.startProcess(ctx, r, timeout); err != nil {
		_ = p.Stop(context.WithoutCancel(ctx), name)
		if !created {
			if rerr := swap.rollback(); rerr != nil {
				return nil, fmt.Errorf("restore %q: start: %w; putting the previous objects back failed too: %v", name, err, rerr)
			}
			return nil, fmt.Errorf("restore %q: start: %w; its previous objects are back and it is stopped: `nest resume %s` starts it", name, err, name)
		}
		return fail(fmt.Errorf("start: %w", err))
	}
	swap.commit()
	if created || h.ServiceAccountKey != serviceAccountKey(p.layout(name)) {
		if err := reissueTokens(ctx, p.layout(name)); err != nil {
			return nil, fmt.Errorf("restore %q: %w", name, err)
		}
	}
	p.logger.Info("Virtual cluster restored", "name", name, "keys", swap.keys, "elapsed", time.Since(start).Round(time.Millisecond))
	return p.Get(ctx, name)
}

// swap undoes or completes a restore's replacement of a datastore.
type swap struct {
	// keys is the number of keys written.
	keys int
	// commit drops the previous objects, once the restored cluster runs.
	commit func()
	// rollback puts the previous objects back.
	rollback func() error
}

// replaceData replaces the objects in a stopped cluster's datastore with the
// snapshot's, keeping the previous ones until swap.commit. A SQLite
// datastore gets a new file, built aside and moved into place; an etcd
// prefix or a Postgres database is emptied and written, after a snapshot of
// its previous objects is saved in the state directory. A new cluster
// (created) must start from an empty datastore: Restore never overwrites
// data it did not make.
func (p *Provider) replaceData(ctx context.Context, name string, snap *snapshot.Reader, created bool) (*swap, error) {
	layout := p.layout(name)
	if err := os.MkdirAll(layout.RunDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", layout.RunDir(), err)
	}
	unlock, err := controlplane.LockDir(layout)
	if err != nil {
		return nil, fmt.Errorf("the control plane is starting: %w", err)
	}
	defer unlock()
	_, ep, err := p.datastoreOf(name)
	if err != nil {
		return nil, err
	}
	if ep.Kind == config.DatastoreSQLite {
		return p.replaceSQLite(ctx, name, controlplane.SQLiteFile(ep, layout), snap, created)
	}
	return p.replaceInPlace(ctx, name, snap, created)
}

// replaceSQLite loads the snapshot into a new SQLite file next to the
// cluster's, then moves it into place with one rename; the previous file
// stays, hard-linked, as FILE.pre-restore until commit.
func (p *Provider) replaceSQLite(ctx context.Context, name, file string, snap *snapshot.Reader, created bool) (*swap, error) {
	if _, err := os.Stat(file); err == nil && created {
		return nil, fmt.Errorf("%w: %s exists", snapshot.ErrNotEmpty, file)
	}
	next, backup := file+".restore", file+".pre-restore"
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(file), err)
	}
	if err := removeSQLite(next); err != nil {
		return nil, err
	}
	ds, err := p.openDatastore(ctx, name, components.SQLiteEndpoint(next))
	if err != nil {
		return nil, err
	}
	keys, err := snapshot.Load(ctx, ds.client, ds.prefix, snap)
	ds.close()
	if err == nil {
		err = controlplane.CompactSQLite(next)
	}
	if err != nil {
		_ = removeSQLite(next)
		return nil, err
	}
	if err := removeSQLite(backup); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(file)
	hadFile := statErr == nil
	if hadFile {
		// The previous database is the file and its write-ahead log: keep
		// both under the backup's name, then drop the log's name so that
		// it is never applied to the new file.
		for _, suffix := range []string{"", "-wal"} {
			if err := os.Link(file+suffix, backup+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("keep the previous datastore: %w", err)
			}
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			if err := os.Remove(file + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("keep the previous datastore: %w", err)
			}
		}
	}
	if err := os.Rename(next, file); err != nil {
		return nil, fmt.Errorf("move the restored datastore into place: %w", err)
	}
	return &swap{
		keys: keys,
		commit: func() {
			if err := removeSQLite(backup); err != nil {
				p.logger.Warn("Could not remove the previous datastore", "path", backup, "error", err)
			}
		},
		rollback: func() error {
			if err := removeSQLite(file); err != nil {
				return err
			}
			if !hadFile {
				return nil
			}
			for _, suffix := range []string{"-wal", ""} {
				if err := os.Rename(backup+suffix, file+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			return nil
		},
	}, nil
}

// removeSQLite removes a SQLite database file and its companions.
func removeSQLite(path string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path+suffix, err)
		}
	}
	return nil
}

// replaceInPlace replaces the keys of a cluster in an external etcd or a
// Postgres database: a snapshot of the keys there is saved as
// pre-restore.snapshot in the state directory, the keys are deleted and the
// snapshot's written; if that fails, the saved keys are written back.
func (p *Provider) replaceInPlace(ctx context.Context, name string, snap *snapshot.Reader, created bool) (*swap, error) {
	ds, err := p.openDatastore(ctx, name, "")
	if err != nil {
		return nil, err
	}
	defer ds.close()
	n, err := snapshot.Count(ctx, ds.client, ds.prefix)
	if err != nil {
		return nil, err
	}
	if n > 0 && created {
		return nil, fmt.Errorf("%w: %d keys under %s/ of the %s datastore, which this new cluster did not write", snapshot.ErrNotEmpty, n, ds.prefix, ds.kind)
	}
	backup := filepath.Join(p.layout(name).Dir, "pre-restore.snapshot")
	if n > 0 {
		if err := writeFileAtomic(backup, func(w io.Writer) error {
			_, err := snapshot.Take(ctx, ds.client, ds.prefix, snapshot.Header{Cluster: name, Datastore: string(ds.kind), Created: time.Now().UTC()}, w)
			return err
		}); err != nil {
			return nil, fmt.Errorf("save the previous objects: %w", err)
		}
	}
	putBack := func(ds *datastore) error {
		if err := snapshot.Clear(ctx, ds.client, ds.prefix); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		prev, err := snapshot.Open(backup)
		if err != nil {
			return err
		}
		defer prev.Close()
		_, err = snapshot.Load(ctx, ds.client, ds.prefix, prev)
		return err
	}
	if err := snapshot.Clear(ctx, ds.client, ds.prefix); err != nil {
		return nil, err
	}
	keys, err := snapshot.Load(ctx, ds.client, ds.prefix, snap)
	if err != nil {
		if perr := putBack(ds); perr != nil {
			return nil, fmt.Errorf("%w; putting the previous objects back failed too (they are saved in %s): %v", err, backup, perr)
		}
		_ = os.Remove(backup)
		return nil, err
	}
	return &swap{
		keys:   keys,
		commit: func() { _ = os.Remove(backup) },
		rollback: func() error {
			unlock, err := controlplane.LockDir(p.layout(name))
			if err != nil {
				return err
			}
			defer unlock()
			ds, err := p.openDatastore(context.WithoutCancel(ctx), name, "")
			if err != nil {
				return err
			}
			defer ds.close()
			if err := putBack(ds); err != nil {
				return fmt.Errorf("%w (the previous objects are saved in %s)", err, backup)
			}
			return os.Remove(backup)
		},
	}, nil
}

// serviceAccountKey is the SHA-256 (hex) of a cluster's service-account
// public key, "" if it has none yet.
func serviceAccountKey(layout controlplane.Layout) string {
	return controlplane.ServiceAccountKeySum(layout)
}

// reissueTokens re-issues the legacy service-account tokens of a cluster
// restored from a snapshot signed by another key (controlplane.ReissueTokens).
func reissueTokens(ctx context.Context, layout controlplane.Layout) error {
	client, err := kube.Clientset(layout.AdminKubeconfig())
	if err != nil {
		return err
	}
	return controlplane.ReissueTokens(ctx, client)
}

// writeFileAtomic writes a file through write, under a temporary name in
// the same directory, readable by its owner only, and renames it into place
// once it is complete and synced.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	buf := bufio.NewWriterSize(tmp, 1<<20)
	if err = write(buf); err != nil {
		return err
	}
	if err = buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
