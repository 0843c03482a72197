package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Host clusters.

func hostClusterPath(id string) string { return "/hostclusters/" + segment(id) }

// ListHostClusters returns one page of host clusters (filters: name, phase).
func (c *Client) ListHostClusters(ctx context.Context, opts ListOptions) (store.Page[store.HostCluster], error) {
	return list[store.HostCluster](ctx, c, "/hostclusters", opts)
}

// CreateHostCluster registers a host cluster by kubeconfig; the hub stores
// the kubeconfig encrypted and never returns it.
func (c *Client) CreateHostCluster(ctx context.Context, req api.CreateHostClusterRequest, opts ...CreateOption) (*store.HostCluster, error) {
	return create[store.HostCluster](ctx, c, "/hostclusters", req, opts)
}

// GetHostCluster gets a host cluster with its health and capacity.
func (c *Client) GetHostCluster(ctx context.Context, id string) (*store.HostCluster, error) {
	return get[store.HostCluster](ctx, c, hostClusterPath(id), nil)
}

// UpdateHostCluster replaces a host cluster's description and, when
// req.Kubeconfig is not empty, its kubeconfig.
func (c *Client) UpdateHostCluster(ctx context.Context, id string, req api.UpdateHostClusterRequest) (*store.HostCluster, error) {
	return update[store.HostCluster](ctx, c, hostClusterPath(id), req)
}

// DeleteHostCluster forgets a host cluster that runs no virtual cluster
// and is in no group.
func (c *Client) DeleteHostCluster(ctx context.Context, id string, resourceVersion int64) error {
	return del(ctx, c, hostClusterPath(id), resourceVersion)
}

// Cluster groups.

func clusterGroupPath(id string) string { return "/clustergroups/" + segment(id) }

// ListClusterGroups returns one page of cluster groups (filter: name).
func (c *Client) ListClusterGroups(ctx context.Context, opts ListOptions) (store.Page[store.ClusterGroup], error) {
	return list[store.ClusterGroup](ctx, c, "/clustergroups", opts)
}

// CreateClusterGroup creates a cluster group.
func (c *Client) CreateClusterGroup(ctx context.Context, req api.CreateClusterGroupRequest, opts ...CreateOption) (*store.ClusterGroup, error) {
	return create[store.ClusterGroup](ctx, c, "/clustergroups", req, opts)
}

// GetClusterGroup gets a cluster group.
func (c *Client) GetClusterGroup(ctx context.Context, id string) (*store.ClusterGroup, error) {
	return get[store.ClusterGroup](ctx, c, clusterGroupPath(id), nil)
}

// UpdateClusterGroup replaces a cluster group's mutable fields.
func (c *Client) UpdateClusterGroup(ctx context.Context, id string, req api.UpdateClusterGroupRequest) (*store.ClusterGroup, error) {
	return update[store.ClusterGroup](ctx, c, clusterGroupPath(id), req)
}

// DeleteClusterGroup deletes a cluster group without virtual clusters.
func (c *Client) DeleteClusterGroup(ctx context.Context, id string, resourceVersion int64) error {
	return del(ctx, c, clusterGroupPath(id), resourceVersion)
}

// Virtual clusters.

// VirtualClusterRef names a virtual cluster: the ids along its API path.
type VirtualClusterRef struct {
	TenantID  string
	ProjectID string
	ID        string
}

func (r VirtualClusterRef) String() string { return r.TenantID + "/" + r.ProjectID + "/" + r.ID }

func virtualClustersPath(tenantID, projectID string) string {
	return projectPath(tenantID, projectID) + "/virtualclusters"
}

func (r VirtualClusterRef) path() string {
	return virtualClustersPath(r.TenantID, r.ProjectID) + "/" + segment(r.ID)
}

// ListVirtualClusters returns one page of a project's virtual clusters
// (filters: name, phase, clusterGroupId).
func (c *Client) ListVirtualClusters(ctx context.Context, tenantID, projectID string, opts ListOptions) (store.Page[store.VirtualCluster], error) {
	return list[store.VirtualCluster](ctx, c, virtualClustersPath(tenantID, projectID), opts)
}

// CreateVirtualCluster creates a virtual cluster in a project; the hub's
// reconciler provisions it (see WaitVirtualCluster). Pass the same
// WithIdempotencyKey to retry a create whose answer was lost.
func (c *Client) CreateVirtualCluster(ctx context.Context, tenantID, projectID string, req api.CreateVirtualClusterRequest, opts ...CreateOption) (*store.VirtualCluster, error) {
	return create[store.VirtualCluster](ctx, c, virtualClustersPath(tenantID, projectID), req, opts)
}

// GetVirtualCluster gets a virtual cluster with its status.
func (c *Client) GetVirtualCluster(ctx context.Context, ref VirtualClusterRef) (*store.VirtualCluster, error) {
	return get[store.VirtualCluster](ctx, c, ref.path(), nil)
}

// UpdateVirtualCluster pauses, resumes, resizes, upgrades or changes the
// profiles of a virtual cluster; the reconciler applies the change.
func (c *Client) UpdateVirtualCluster(ctx context.Context, ref VirtualClusterRef, req api.UpdateVirtualClusterRequest) (*store.VirtualCluster, error) {
	return update[store.VirtualCluster](ctx, c, ref.path(), req)
}

// DeleteVirtualCluster asks for a virtual cluster's deletion: it turns
// Deleting and goes once the reconciler removed it from its host.
func (c *Client) DeleteVirtualCluster(ctx context.Context, ref VirtualClusterRef, resourceVersion int64) error {
	return del(ctx, c, ref.path(), resourceVersion)
}

// GetVirtualClusterKubeconfig downloads the admin kubeconfig of a Ready
// virtual cluster (the hub records the download in its audit log).
func (c *Client) GetVirtualClusterKubeconfig(ctx context.Context, ref VirtualClusterRef) (*api.VirtualClusterKubeconfig, error) {
	return get[api.VirtualClusterKubeconfig](ctx, c, ref.path()+"/kubeconfig", nil)
}

// WaitPredicate judges one poll of a virtual cluster: vc is nil when the
// hub answered "not found". It returns done when the wait is over, and an
// error to end it early (a Failed phase, say).
type WaitPredicate func(vc *store.VirtualCluster) (done bool, err error)

// waitInterval is the longest time between two polls of
// WaitVirtualCluster; the first polls come sooner (from waitInterval/8,
// doubling), since a change is often done within a second.
var waitInterval = time.Second

// WaitVirtualCluster polls a virtual cluster until done says so, done
// fails, a poll fails (other than "not found", which done judges), or ctx
// ends. It returns the last virtual cluster read (nil once gone). An
// ended ctx is reported with the last phase and message seen.
func (c *Client) WaitVirtualCluster(ctx context.Context, ref VirtualClusterRef, done WaitPredicate) (*store.VirtualCluster, error) {
	var last *store.VirtualCluster
	interval := waitInterval / 8
	for {
		vc, err := c.GetVirtualCluster(ctx, ref)
		if IsNotFound(err) {
			vc, err = nil, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return last, waitTimeout(ctx, ref, last)
			}
			return last, err
		}
		last = vc
		ok, err := done(vc)
		if err != nil || ok {
			return vc, err
		}
		select {
		case <-ctx.Done():
			return last, waitTimeout(ctx, ref, last)
		case <-time.After(interval):
		}
		interval = min(2*interval, waitInterval)
	}
}

func waitTimeout(ctx context.Context, ref VirtualClusterRef, last *store.VirtualCluster) error {
	if last == nil {
		return fmt.Errorf("wait for virtual cluster %s: %w", ref, ctx.Err())
	}
	return fmt.Errorf("wait for virtual cluster %s (last seen %s, generation %d observed %d: %s): %w", ref,
		last.Status.Phase, last.Generation, last.Status.ObservedGeneration, last.Status.Message, ctx.Err())
}

// ErrVirtualClusterFailed is returned by the predicates below when the
// virtual cluster turned Failed; the error holds the hub's message.
var ErrVirtualClusterFailed = errors.New("virtual cluster failed")

func failed(vc *store.VirtualCluster) error {
	msg := vc.Status.Message
	for _, c := range vc.Status.Conditions {
		if msg == "" && c.Status == "False" && c.Message != "" {
			msg = c.Message
		}
	}
	return fmt.Errorf("%w: %s", ErrVirtualClusterFailed, msg)
}

// Settled is done once the reconciler applied the latest generation and
// the virtual cluster is Ready (or Paused when it is asked to be); it
// fails when the cluster is Failed or gone.
func Settled(vc *store.VirtualCluster) (bool, error) {
	if vc == nil {
		return false, errors.New("the virtual cluster is gone")
	}
	if vc.Status.Phase == store.VCFailed { // the reconciler records no generation on a failure
		return false, failed(vc)
	}
	if vc.Status.ObservedGeneration < vc.Generation {
		return false, nil
	}
	switch vc.Status.Phase {
	case store.VCReady:
		return !vc.Paused, nil
	case store.VCPaused:
		return vc.Paused, nil
	}
	return false, nil
}

// Gone is done once the virtual cluster's record is deleted.
func Gone(vc *store.VirtualCluster) (bool, error) { return vc == nil, nil }
