package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// seedDatastore loads the snapshot file into a datastore that holds no
// object yet (--restore-from): how a new pod of the chart starts with a
// snapshot's objects. A datastore with objects is left alone (the pod was
// seeded before and restarted), so seeding is idempotent. It reports
// whether the snapshot was loaded, and its header.
func seedDatastore(ctx context.Context, path string, cluster *config.Config, etcdServers, prefix string, log *slog.Logger) (bool, snapshot.Header, error) {
	client, err := datastoreClient(cluster, etcdEndpoints(etcdServers)) // over TLS for an https:// etcd
	if err != nil {
		return false, snapshot.Header{}, fmt.Errorf("restore from %s: connect to the datastore: %w", path, err)
	}
	defer client.Close()
	snap, err := snapshot.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		// The chart mounts the snapshot's Secret as optional, so that it
		// may be deleted once the datastore is seeded.
		n, cerr := snapshot.Count(ctx, client, prefix)
		if cerr == nil && n > 0 {
			log.Info("The snapshot is gone and the datastore holds objects: nothing to restore", "snapshot", path)
			return false, snapshot.Header{}, nil
		}
	}
	if err != nil {
		return false, snapshot.Header{}, fmt.Errorf("restore from %s: %w", path, err)
	}
	defer snap.Close()
	start := time.Now()
	keys, err := snapshot.Load(ctx, client, prefix, snap)
	if errors.Is(err, snapshot.ErrNotEmpty) {
		log.Info("The datastore holds objects already: the snapshot is not loaded again", "snapshot", path)
		return false, snap.Header, nil
	}
	if err != nil {
		return false, snap.Header, fmt.Errorf("restore from %s: %w", path, err)
	}
	log.Info("Datastore seeded from a snapshot", "snapshot", path, "snapshotOf", snap.Header.Cluster,
		"keys", keys, "elapsed", time.Since(start).Round(time.Millisecond))
	return true, snap.Header, nil
}

// ReissueTokens empties the token of every legacy service-account token
// secret of a cluster restored from a snapshot of a cluster with another
// service-account key: those tokens were signed by that other key, and the
// tokens controller signs a new token into every such secret whose token
// is empty.
func ReissueTokens(ctx context.Context, client kubernetes.Interface) error {
	secrets, err := client.CoreV1().Secrets("").List(ctx, metav1.ListOptions{FieldSelector: "type=kubernetes.io/service-account-token"})
	if err != nil {
		return fmt.Errorf("list service-account token secrets: %w", err)
	}
	for _, item := range secrets.Items {
		// The tokens controller may be writing the new CA into the same
		// secret: read it again on a conflict. Any token still there came
		// with the snapshot, since the controller only fills empty ones.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			s, err := client.CoreV1().Secrets(item.Namespace).Get(ctx, item.Name, metav1.GetOptions{})
			if err != nil || len(s.Data["token"]) == 0 {
				return err
			}
			delete(s.Data, "token")
			_, err = client.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
			return err
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("re-issue the token of secret %s/%s: %w", item.Namespace, item.Name, err)
		}
	}
	return nil
}
