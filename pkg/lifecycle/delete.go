package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/hostaccess"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/kubeconfig"
)

// Stop stops the control plane of a virtual cluster and keeps all its state;
// Start brings it back. Stopping a stopped cluster does nothing.
func (p *Provider) Stop(ctx context.Context, name string) error {
	r, err := p.loadRecord(name)
	if err != nil {
		return err
	}
	if r.Runtime == RuntimePod {
		return p.scalePod(ctx, r, 0, 2*time.Minute)
	}
	layout := p.layout(name)
	pid, err := exec.ReadPIDFile(layout.PIDPath())
	if err != nil {
		return err
	}
	if err := exec.Terminate(pid, layout.Dir, 20*time.Second); err != nil && !errors.Is(err, exec.ErrNotRunning) {
		return fmt.Errorf("stop virtual cluster %q: %w", name, err)
	}
	if err := os.Remove(layout.PIDPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return ctx.Err()
}

// Delete stops a virtual cluster, deletes every host object it made (its
// whole host namespace when Nest made it and nothing else lives there) and
// removes its state and its context from the default kubeconfig. Host
// objects Nest did not make are never deleted: their namespace stays. Deleting a missing cluster returns
// ErrNotFound, which callers may treat as success.
func (p *Provider) Delete(ctx context.Context, name string) error {
	return p.delete(ctx, name, true)
}

// delete is Delete; withDatastore false leaves an external datastore's keys
// alone (a failed restore into a new cluster found them there).
func (p *Provider) delete(ctx context.Context, name string, withDatastore bool) error {
	r, err := p.loadRecord(name)
	if err != nil {
		return err
	}
	start := time.Now()
	if r.Runtime == RuntimePod {
		if err := p.deletePodRuntime(ctx, r); err != nil {
			return fmt.Errorf("delete virtual cluster %q: %w; its state is kept so that delete can be retried", name, err)
		}
	} else if err := p.Stop(ctx, name); err != nil {
		return err
	}
	p.logger.Debug("Control plane stopped", "name", name, "elapsed", time.Since(start).Round(time.Millisecond))
	if err := p.cleanHost(ctx, r); err != nil {
		return fmt.Errorf("delete virtual cluster %q: %w; its state is kept so that delete can be retried", name, err)
	}
	ctxName := ContextName(name)
	if err := kubeconfig.Remove(kubeconfig.DefaultPath(), ctxName, ctxName, ctxName); err != nil {
		p.logger.Warn("Could not remove the context from the kubeconfig", "context", ctxName, "error", err)
	}
	if cfg, err := config.Load(p.layout(name).ConfigPath()); err == nil && withDatastore {
		if err := p.deleteDatastore(ctx, cfg, name); err != nil {
			return fmt.Errorf("delete virtual cluster %q: %w; its state is kept so that delete can be retried", name, err)
		}
	}
	if err := os.RemoveAll(p.layout(name).Dir); err != nil {
		return fmt.Errorf("remove state of %q: %w", name, err)
	}
	return nil
}

// cleanHost deletes what the virtual cluster made on its host. The host
// namespace goes as a whole when Nest made it for this cluster and holds
// nothing Nest did not make; otherwise only the cluster's own objects go, and
// the namespace stays with the others.
func (p *Provider) cleanHost(ctx context.Context, r *record) error {
	host, err := hostClient(ctx, r.HostKubeconfig)
	if err != nil {
		return err
	}
	// What a namespace delete does not take: the cluster-scoped grants,
	// copies of the opt-in kinds and the read grants in other namespaces.
	if err := hostaccess.DeleteCluster(ctx, host, r.HostNamespace, r.Name); err != nil {
		return err
	}
	var grantNamespaces []string
	if cfg, err := config.Load(p.layout(r.Name).ConfigPath()); err == nil {
		grantNamespaces = slices.Collect(maps.Keys(serviceReads(cfg)))
	}
	if err := hostaccess.RevokeGrants(ctx, host, r.HostNamespace, grantNamespaces); err != nil {
		return err
	}
	ns, err := host.CoreV1().Namespaces().Get(ctx, r.HostNamespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read host namespace %s: %w", r.HostNamespace, err)
	}
	cfg, err := kube.RESTConfig(r.HostKubeconfig, "")
	if err != nil {
		return err
	}
	// Listing every namespaced kind reaches deprecated ones (v1 Endpoints),
	// whose warnings would reach the user's terminal on every delete.
	cfg.WarningHandler = rest.NoWarnings{}
	inv, err := inventoryHostNamespace(ctx, cfg, r.HostNamespace, r.Name)
	if err != nil {
		return err
	}
	p.logger.Debug("Host namespace listed", "namespace", r.HostNamespace, "owned", len(inv.owned), "foreign", len(inv.foreign))
	if ownsNamespace(ns, r.Name) && len(inv.foreign) == 0 {
		start := time.Now()
		if err := host.CoreV1().Namespaces().Delete(ctx, r.HostNamespace, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete host namespace %s: %w", r.HostNamespace, err)
		}
		// The host's namespace controller acts on a deleted namespace only
		// after a fixed 5 s (upstream's namespaceDeletionGracePeriod). Its
		// pass then deletes what is left and removes the namespace if
		// nothing remains; pods still terminating (or any object still
		// finalizing) send it back to the queue for at least 5 s more.
		// Deleting the cluster's own objects now, pods first, lets them go
		// during that grace, so the first pass finds the namespace empty.
		// Only a head start: the namespace controller deletes whatever
		// this could not.
		if err := deleteOwned(ctx, cfg, r.HostNamespace, r.Name, inv); err != nil {
			p.logger.Warn("Could not delete the cluster's host objects ahead of the host's namespace controller; it will, more slowly", "namespace", r.HostNamespace, "error", err)
		}
		p.logger.Debug("Deleted the cluster's host objects; waiting for the host namespace to go", "namespace", r.HostNamespace, "elapsed", time.Since(start).Round(time.Millisecond))
		if err := waitNamespaceGone(ctx, host, r.HostNamespace); err != nil {
			return err
		}
		p.logger.Info("Host namespace deleted", "namespace", r.HostNamespace, "objects", len(inv.owned), "elapsed", time.Since(start).Round(time.Millisecond))
		return nil
	}
	if err := deleteOwned(ctx, cfg, r.HostNamespace, r.Name, inv); err != nil {
		return err
	}
	if len(inv.foreign) > 0 {
		p.logger.Warn("Host namespace kept: it holds objects Nest did not make",
			"namespace", r.HostNamespace, "objects", describeObjects(inv.foreign), "deleted", len(inv.owned))
	} else {
		p.logger.Info("Host namespace is not this cluster's; deleted only the cluster's objects in it",
			"namespace", r.HostNamespace, "deleted", len(inv.owned))
	}
	return nil
}
