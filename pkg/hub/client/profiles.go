package client

import (
	"context"
	"net/http"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Cluster profiles.

func clusterProfilePath(id string) string { return "/clusterprofiles/" + segment(id) }

// ListClusterProfiles returns one page of cluster profiles, without their
// layers (filter: name).
func (c *Client) ListClusterProfiles(ctx context.Context, opts ListOptions) (store.Page[store.ClusterProfile], error) {
	return list[store.ClusterProfile](ctx, c, "/clusterprofiles", opts)
}

// CreateClusterProfile uploads the first version of a cluster profile
// (charts as archives: see profile.Profile.Portable).
func (c *Client) CreateClusterProfile(ctx context.Context, req api.ClusterProfileRequest, opts ...CreateOption) (*store.ClusterProfile, error) {
	return create[store.ClusterProfile](ctx, c, "/clusterprofiles", req, opts)
}

// GetClusterProfile gets a cluster profile with its current version's
// spec.
func (c *Client) GetClusterProfile(ctx context.Context, id string) (*store.ClusterProfile, error) {
	return get[store.ClusterProfile](ctx, c, clusterProfilePath(id), nil)
}

// UpdateClusterProfile uploads a new version of a cluster profile and makes
// it the current one; req.Version must be new.
func (c *Client) UpdateClusterProfile(ctx context.Context, id string, req api.UpdateClusterProfileRequest) (*store.ClusterProfile, error) {
	return update[store.ClusterProfile](ctx, c, clusterProfilePath(id), req)
}

// DeleteClusterProfile deletes a cluster profile and its versions; force
// also detaches it from the cluster groups and virtual clusters that refer
// to it (else the hub refuses while any does).
func (c *Client) DeleteClusterProfile(ctx context.Context, id string, resourceVersion int64, force bool) error {
	q := deleteQuery(resourceVersion)
	if force {
		if q == nil {
			q = map[string][]string{}
		}
		q.Set("force", "true")
	}
	return c.do(ctx, request{method: http.MethodDelete, path: clusterProfilePath(id), query: q}, nil)
}

// ListClusterProfileVersions lists the versions of a cluster profile,
// oldest first, without their specs.
func (c *Client) ListClusterProfileVersions(ctx context.Context, id string) ([]store.ClusterProfileVersion, error) {
	out, err := get[api.ClusterProfileVersionList](ctx, c, clusterProfilePath(id)+"/versions", nil)
	if err != nil {
		return nil, err
	}
	return out.Items, nil
}

// GetClusterProfileVersion gets one version of a cluster profile with its
// spec.
func (c *Client) GetClusterProfileVersion(ctx context.Context, id, version string) (*store.ClusterProfileVersion, error) {
	return get[store.ClusterProfileVersion](ctx, c, clusterProfilePath(id)+"/versions/"+segment(version), nil)
}
