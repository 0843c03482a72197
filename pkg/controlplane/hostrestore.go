package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/restoreparts"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// A restore carried in Secrets of the host namespace (--restore-secret,
// pkg/restoreparts): how `nest restore --runtime pod` gets a snapshot into
// a pod whose volume it cannot reach, for a new cluster and over an
// existing one alike. At every start, before the apiserver:
//
//   - a manifest Secret whose restore this datastore has not applied yet:
//     the parts are read and checked (nothing is touched if one is
//     missing, damaged or out of order); the datastore's current keys are
//     saved to host-restore/pre-restore.snapshot (kept if already there:
//     it is the state before an interrupted attempt), the restore's ID is
//     recorded, the keys are replaced by the snapshot's;
//   - a manifest whose restore was applied (its ID is recorded and no
//     pre-restore file is left): nothing to load;
//   - no manifest but a pre-restore file: a restore was given up (nest
//     restore failed and deleted its Secrets) before its cluster was
//     ready, so the saved keys are put back.
//
// Once the apiserver is ready, confirm removes the pre-restore file and
// then deletes the Secrets: the old state is kept until the restored one
// serves, and a crash between any two steps converges at the next start.

// hostRestoreDir holds the restore's bookkeeping in the state directory.
func hostRestoreDir(l Layout) string { return filepath.Join(l.Dir, "host-restore") }

func preRestorePath(l Layout) string {
	return filepath.Join(hostRestoreDir(l), "pre-restore.snapshot")
}

func restoreIDPath(l Layout) string { return filepath.Join(hostRestoreDir(l), "applied-id") }

// hostRestore is one start's restore from Secrets.
type hostRestore struct {
	src     restoreSource
	cluster string
	// datastore is the cluster's config: an etcd over TLS is reached
	// with the apiserver's etcd certificates.
	datastore *config.Config
	layout    Layout
	log       *slog.Logger
}

// restoreSource is where a restore's manifest and parts are: the host's
// Secrets (hostSecrets), or a test's.
type restoreSource interface {
	// manifest reads the manifest; found is false if none is there.
	manifest(ctx context.Context) (m restoreparts.Manifest, found bool, err error)
	// read joins the parts into w, checking each and the whole.
	read(ctx context.Context, m restoreparts.Manifest, w io.Writer) error
	// report records why the restore was refused, for nest restore.
	report(ctx context.Context, reason error) error
	// remove deletes the manifest and the parts; it returns how many.
	remove(ctx context.Context) (int, error)
	// String names the source in messages.
	String() string
}

// hostSecrets are the restore Secrets of cluster in a host namespace.
type hostSecrets struct {
	host      kubernetes.Interface
	namespace string
	cluster   string
	base      string // the manifest Secret
}

func (s hostSecrets) manifest(ctx context.Context) (restoreparts.Manifest, bool, error) {
	return restoreparts.ReadManifest(ctx, s.host, s.namespace, s.base)
}

func (s hostSecrets) read(ctx context.Context, m restoreparts.Manifest, w io.Writer) error {
	return restoreparts.Read(ctx, s.host, s.namespace, m, w)
}

func (s hostSecrets) report(ctx context.Context, reason error) error {
	err := restoreparts.ReportError(ctx, s.host, s.namespace, s.base, reason)
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (s hostSecrets) remove(ctx context.Context) (int, error) {
	n, err := restoreparts.Count(ctx, s.host, s.namespace, s.cluster)
	if err != nil || n == 0 {
		return 0, err
	}
	return n, restoreparts.Remove(ctx, s.host, s.namespace, s.cluster)
}

func (s hostSecrets) String() string { return "Secret " + s.namespace + "/" + s.base }

// apply does what the start needs (see above). restored reports that the
// snapshot was loaded now, with its header.
func (hr *hostRestore) apply(ctx context.Context, etcdServers, prefix string) (restored bool, h snapshot.Header, err error) {
	restored, h, err = hr.try(ctx, etcdServers, prefix)
	if err != nil {
		// nest restore waits on the manifest: say why, so that it gives up
		// at once (it then deletes the Secrets, and the next start puts any
		// previous objects back).
		if rerr := hr.src.report(context.WithoutCancel(ctx), err); rerr != nil {
			hr.log.Warn("Could not report the restore's error", "error", rerr)
		}
	}
	return restored, h, err
}

func (hr *hostRestore) try(ctx context.Context, etcdServers, prefix string) (restored bool, h snapshot.Header, err error) {
	m, found, err := hr.src.manifest(ctx)
	if err != nil {
		return false, h, err
	}
	pre := preRestorePath(hr.layout)
	_, statErr := os.Stat(pre)
	havePre := statErr == nil
	if !found {
		if !havePre {
			return false, h, nil
		}
		hr.log.Warn("A restore was given up before its cluster was ready: putting the previous objects back", "file", pre)
		if err := hr.replace(ctx, etcdServers, prefix, pre); err != nil {
			return false, h, fmt.Errorf("put back the objects saved before a given-up restore (%s): %w", pre, err)
		}
		return false, h, os.Remove(pre)
	}
	applied, _ := os.ReadFile(restoreIDPath(hr.layout))
	if !havePre && strings.TrimSpace(string(applied)) == m.ID {
		hr.log.Info("The restore was applied before: not loading it again", "restore", m.ID)
		return false, h, nil
	}
	if err := os.MkdirAll(hostRestoreDir(hr.layout), 0o700); err != nil {
		return false, h, err
	}
	// Read and check every part before touching anything.
	joined := filepath.Join(hostRestoreDir(hr.layout), "restore.snapshot")
	start := time.Now()
	if err := writeAtomic(joined, func(f *os.File) error { return hr.src.read(ctx, m, f) }); err != nil {
		return false, h, fmt.Errorf("restore %s from %s: %w (the datastore is untouched)", m.ID, hr.src, err)
	}
	defer os.Remove(joined)
	snap, err := snapshot.Open(joined)
	if err != nil {
		return false, h, fmt.Errorf("restore %s from %s: %w (the datastore is untouched)", m.ID, hr.src, err)
	}
	h = snap.Header
	snap.Close()
	hr.log.Info("Snapshot read from the host", "restore", m.ID, "parts", len(m.Parts), "bytes", m.Size, "snapshotOf", h.Cluster, "elapsed", time.Since(start).Round(time.Millisecond))
	if !havePre {
		client, err := datastoreClient(hr.datastore, etcdEndpoints(etcdServers))
		if err != nil {
			return false, h, err
		}
		err = writeAtomic(pre, func(f *os.File) error {
			_, err := snapshot.Take(ctx, client, prefix, snapshot.Header{Cluster: hr.cluster, Created: time.Now().UTC(), ServiceAccountKey: ServiceAccountKeySum(hr.layout)}, f)
			return err
		})
		client.Close()
		if err != nil {
			return false, h, fmt.Errorf("save the objects before the restore: %w (the datastore is untouched)", err)
		}
	}
	if err := writeAtomic(restoreIDPath(hr.layout), func(f *os.File) error { _, err := f.WriteString(m.ID + "\n"); return err }); err != nil {
		return false, h, err
	}
	if err := hr.replace(ctx, etcdServers, prefix, joined); err != nil {
		return false, h, fmt.Errorf("restore %s: %w (the previous objects are in %s and come back if the restore is given up)", m.ID, err, pre)
	}
	hr.log.Info("Datastore restored from the host's Secrets", "restore", m.ID, "snapshotOf", h.Cluster, "keys", h.Keys, "elapsed", time.Since(start).Round(time.Millisecond))
	return true, h, nil
}

// replace empties the datastore's prefix and loads the snapshot file.
func (hr *hostRestore) replace(ctx context.Context, etcdServers, prefix, file string) error {
	client, err := datastoreClient(hr.datastore, etcdEndpoints(etcdServers))
	if err != nil {
		return err
	}
	defer client.Close()
	snap, err := snapshot.Open(file)
	if err != nil {
		return err
	}
	defer snap.Close()
	if err := snapshot.Clear(ctx, client, prefix); err != nil {
		return err
	}
	_, err = snapshot.Load(ctx, client, prefix, snap)
	return err
}

// confirm runs once the apiserver is ready: the previous objects go, then
// the restore's Secrets. A failure is logged; the next start does it again.
func (hr *hostRestore) confirm(ctx context.Context) {
	if err := os.Remove(preRestorePath(hr.layout)); err != nil && !errors.Is(err, os.ErrNotExist) {
		hr.log.Error("Could not remove the objects saved before the restore", "error", err)
		return
	}
	n, err := hr.src.remove(ctx)
	if err != nil {
		hr.log.Warn("Could not delete the restore's Secrets: the next start does", "error", err)
		return
	}
	if n == 0 {
		return
	}
	hr.log.Info("Restore confirmed: its Secrets are deleted", "secrets", n)
}

// writeAtomic writes path through write into a temporary file renamed
// into place once complete.
func writeAtomic(path string, write func(*os.File) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
