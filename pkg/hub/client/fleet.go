package client

import (
	"context"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// The typed calls of host clusters, cluster groups and virtual clusters
// (pkg/hub/api/fleet.go).

// Host clusters.

func hostClusterPath(id string) string { return "/hostclusters/" + segment(id) }

// ListHostClusters returns one page of host clusters (filters: name, phase).
func (c *Client) ListHostClusters(ctx context.Context, opts ListOptions) (store.Page[store.HostCluster], error) {
	return list[store.HostCluster](ctx, c, "/hostclusters", opts)
}

// CreateHostCluster registers a host cluster by kubeconfig.
func (c *Client) CreateHostCluster(ctx context.Context, req api.CreateHostClusterRequest, opts ...CreateOption) (*store.HostCluster, error) {
	return create[store.HostCluster](ctx, c, "/hostclusters", req, opts)
}

// GetHostCluster gets a host cluster by id.
func (c *Client) GetHostCluster(ctx context.Context, id string) (*store.HostCluster, error) {
	return get[store.HostCluster](ctx, c, hostClusterPath(id), nil)
}

// UpdateHostCluster replaces a host cluster's description or kubeconfig.
func (c *Client) UpdateHostCluster(ctx context.Context, id string, req api.UpdateHostClusterRequest) (*store.HostCluster, error) {
	return update[store.HostCluster](ctx, c, hostClusterPath(id), req)
}

// DeleteHostCluster forgets a host cluster.
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

// GetClusterGroup gets a cluster group by id.
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

func virtualClustersPath(tenantID, projectID string) string {
	return projectPath(tenantID, projectID) + "/virtualclusters"
}

func virtualClusterPath(tenantID, projectID, id string) string {
	return virtualClustersPath(tenantID, projectID) + "/" + segment(id)
}

// ListVirtualClusters returns one page of a project's virtual clusters
// (filters: name, phase, clusterGroupId).
func (c *Client) ListVirtualClusters(ctx context.Context, tenantID, projectID string, opts ListOptions) (store.Page[store.VirtualCluster], error) {
	return list[store.VirtualCluster](ctx, c, virtualClustersPath(tenantID, projectID), opts)
}

// CreateVirtualCluster asks for a virtual cluster; the hub's reconciler
// provisions it (poll GetVirtualCluster for its phase).
func (c *Client) CreateVirtualCluster(ctx context.Context, tenantID, projectID string, req api.CreateVirtualClusterRequest, opts ...CreateOption) (*store.VirtualCluster, error) {
	return create[store.VirtualCluster](ctx, c, virtualClustersPath(tenantID, projectID), req, opts)
}

// GetVirtualCluster gets a virtual cluster with its status.
func (c *Client) GetVirtualCluster(ctx context.Context, tenantID, projectID, id string) (*store.VirtualCluster, error) {
	return get[store.VirtualCluster](ctx, c, virtualClusterPath(tenantID, projectID, id), nil)
}

// UpdateVirtualCluster pauses, resumes, resizes or upgrades a virtual
// cluster; req.ResourceVersion is the version read.
func (c *Client) UpdateVirtualCluster(ctx context.Context, tenantID, projectID, id string, req api.UpdateVirtualClusterRequest) (*store.VirtualCluster, error) {
	return update[store.VirtualCluster](ctx, c, virtualClusterPath(tenantID, projectID, id), req)
}

// DeleteVirtualCluster asks for a virtual cluster's deletion: it turns
// Deleting, and is gone (404) once its host is cleaned.
func (c *Client) DeleteVirtualCluster(ctx context.Context, tenantID, projectID, id string, resourceVersion int64) error {
	return del(ctx, c, virtualClusterPath(tenantID, projectID, id), resourceVersion)
}

// VirtualClusterKubeconfig downloads the admin kubeconfig of a Ready
// virtual cluster (the hub records the download in its audit log).
func (c *Client) VirtualClusterKubeconfig(ctx context.Context, tenantID, projectID, id string) (*api.VirtualClusterKubeconfig, error) {
	return get[api.VirtualClusterKubeconfig](ctx, c, virtualClusterPath(tenantID, projectID, id)+"/kubeconfig", nil)
}
