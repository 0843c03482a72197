package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/placement"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Fleet is what the API needs of the hub's reconciler.
type Fleet interface {
	// Changed is called after a change to a host cluster ("hostcluster")
	// or a virtual cluster ("virtualcluster") is committed.
	Changed(resource, id string)
	// Kubeconfig returns the admin kubeconfig of a virtual cluster.
	Kubeconfig(ctx context.Context, vc *store.VirtualCluster) ([]byte, error)
}

// afterCommit runs fn once the call's transaction has committed (at once
// for a call outside one).
func (c *call) afterCommit(fn func()) { c.after = append(c.after, fn) }

// changed tells the reconciler of a change: this process's directly,
// once the call's transaction commits, and the other hub replicas' through
// the store (the leader may be another replica).
func (c *call) changed(resource, id string) {
	// Inside the call's transaction this only marks it; a failure to
	// notify fails its commit.
	_ = c.store().NotifyChange(c.ctx, resource, id)
	if f := c.api.cfg.Fleet; f != nil {
		c.afterCommit(func() { f.Changed(resource, id) })
	}
}

func conflict(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf(format, args...),
		Details: map[string]string{"field": field}}
}

// Host clusters.

func listHostClusters(c *call, _ *none) (store.Page[store.HostCluster], error) {
	return list(c, c.store().HostClusters, map[string]string{"name": "name", "phase": "phase"}, nil)
}

func (c *call) encrypt(kubeconfig string) (string, error) {
	if c.api.cfg.Secrets == nil {
		return "", errors.New("the hub has no encryption key for host credentials")
	}
	return c.api.cfg.Secrets.Encrypt([]byte(kubeconfig))
}

func createHostCluster(c *call, req *CreateHostClusterRequest) (*store.HostCluster, error) {
	enc, err := c.encrypt(req.Kubeconfig)
	if err != nil {
		return nil, err
	}
	h, err := create(c, c.store().HostClusters, &store.HostCluster{Meta: store.Meta{Name: req.Name}, Description: req.Description,
		KubeconfigEnc: enc, Status: store.HostClusterStatus{Phase: store.HostPending, Message: "not checked yet"}})
	if err != nil {
		return nil, err
	}
	c.changed("hostcluster", h.ID)
	return h, nil
}

func getHostCluster(c *call, _ *none) (*store.HostCluster, error) {
	return get(c, c.store().HostClusters, "hostcluster", nil)
}

func updateHostCluster(c *call, req *UpdateHostClusterRequest) (*store.HostCluster, error) {
	h, err := getHostCluster(c, nil)
	if err != nil {
		return nil, err
	}
	enc := h.KubeconfigEnc
	if req.Kubeconfig != "" {
		if enc, err = c.encrypt(req.Kubeconfig); err != nil {
			return nil, err
		}
	}
	h, err = update(c, c.store().HostClusters, h, req.ResourceVersion, func(h *store.HostCluster) {
		h.Description, h.KubeconfigEnc = req.Description, enc
	})
	if err != nil {
		return nil, err
	}
	c.changed("hostcluster", h.ID)
	return h, nil
}

func deleteHostCluster(c *call, _ *none) (*none, error) {
	h, err := getHostCluster(c, nil)
	if err != nil {
		return nil, err
	}
	vcs, err := c.store().VirtualClusters.List(c.ctx, store.ListOptions{Limit: 1, Filters: map[string]string{"hostClusterId": h.ID}})
	if err != nil {
		return nil, err
	}
	if len(vcs.Items) > 0 {
		return nil, conflict("hostcluster", "host cluster %s still runs virtual clusters (for example %s): delete them first", h.Name, vcs.Items[0].ID)
	}
	groups, err := c.store().ClusterGroups.All(c.ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if slices.Contains(g.HostClusterIDs, h.ID) {
			return nil, conflict("hostcluster", "host cluster %s is in cluster group %s: remove it from the group first", h.Name, g.Name)
		}
	}
	return remove(c, c.store().HostClusters, h)
}

// Cluster groups.

func listClusterGroups(c *call, _ *none) (store.Page[store.ClusterGroup], error) {
	return list(c, c.store().ClusterGroups, byName, nil)
}

func (c *call) checkHosts(ids []string) error {
	for i, id := range ids {
		if _, err := c.store().HostClusters.Get(c.ctx, id); errors.Is(err, store.ErrNotFound) {
			return invalid(fmt.Sprintf("hostClusterIds[%d]", i), "no host cluster has id %q", id)
		} else if err != nil {
			return err
		}
	}
	return nil
}

func groupFrom(g *store.ClusterGroup, s *ClusterGroupSpec) {
	g.Description, g.HostClusterIDs, g.Quota = s.Description, s.HostClusterIDs, s.Quota
	g.MaxVirtualClusters, g.OversubscriptionPercent = s.MaxVirtualClusters, s.OversubscriptionPercent
	g.EndpointType, g.DefaultConfig, g.Profiles = s.EndpointType, s.DefaultConfig, profileRefs(s.Profiles)
	if g.HostClusterIDs == nil {
		g.HostClusterIDs = []string{}
	}
}

func createClusterGroup(c *call, req *CreateClusterGroupRequest) (*store.ClusterGroup, error) {
	if err := c.checkHosts(req.HostClusterIDs); err != nil {
		return nil, err
	}
	if err := c.checkProfileRefs("profiles", req.Profiles); err != nil {
		return nil, err
	}
	g := &store.ClusterGroup{Meta: store.Meta{Name: req.Name}}
	groupFrom(g, &req.ClusterGroupSpec)
	return create(c, c.store().ClusterGroups, g)
}

func getClusterGroup(c *call, _ *none) (*store.ClusterGroup, error) {
	return get(c, c.store().ClusterGroups, "clustergroup", nil)
}

func updateClusterGroup(c *call, req *UpdateClusterGroupRequest) (*store.ClusterGroup, error) {
	g, err := getClusterGroup(c, nil)
	if err != nil {
		return nil, err
	}
	if err := c.checkHosts(req.HostClusterIDs); err != nil {
		return nil, err
	}
	if err := c.checkProfileRefs("profiles", req.Profiles); err != nil {
		return nil, err
	}
	if !sameRefs(g.Profiles, req.Profiles) {
		// Its virtual clusters get the new profiles.
		vcs, err := c.store().VirtualClusters.All(c.ctx, map[string]string{"clusterGroupId": g.ID})
		if err != nil {
			return nil, err
		}
		for _, vc := range vcs {
			c.changed("virtualcluster", vc.ID)
		}
	}
	// A host that still runs virtual clusters of the group stays in it.
	for _, id := range g.HostClusterIDs {
		if slices.Contains(req.HostClusterIDs, id) {
			continue
		}
		vcs, err := c.store().VirtualClusters.List(c.ctx, store.ListOptions{Limit: 1,
			Filters: map[string]string{"clusterGroupId": g.ID, "hostClusterId": id}})
		if err != nil {
			return nil, err
		}
		if len(vcs.Items) > 0 {
			return nil, conflict("hostClusterIds", "host cluster %s still runs virtual clusters of this group: it cannot leave the group", id)
		}
	}
	return update(c, c.store().ClusterGroups, g, req.ResourceVersion, func(g *store.ClusterGroup) { groupFrom(g, &req.ClusterGroupSpec) })
}

func deleteClusterGroup(c *call, _ *none) (*none, error) {
	g, err := getClusterGroup(c, nil)
	if err != nil {
		return nil, err
	}
	vcs, err := c.store().VirtualClusters.List(c.ctx, store.ListOptions{Limit: 1, Filters: map[string]string{"clusterGroupId": g.ID}})
	if err != nil {
		return nil, err
	}
	if len(vcs.Items) > 0 {
		return nil, conflict("clustergroup", "cluster group %s has virtual clusters: delete them first", g.Name)
	}
	return remove(c, c.store().ClusterGroups, g)
}

// Virtual clusters.

func (c *call) virtualCluster() (*store.VirtualCluster, error) {
	if _, err := c.project(); err != nil {
		return nil, err
	}
	return get(c, c.store().VirtualClusters, "virtualcluster", func(vc *store.VirtualCluster) bool {
		return vc.ProjectID == c.path("project") && vc.TenantID == c.path("tenant")
	})
}

func listVirtualClusters(c *call, _ *none) (store.Page[store.VirtualCluster], error) {
	opts, e := c.listOptions(map[string]string{"name": "name", "phase": "phase", "clusterGroupId": "clusterGroupId"})
	if e != nil {
		return store.Page[store.VirtualCluster]{}, e
	}
	// One statement checks the project and reads the page; only an empty
	// page needs the project looked up (404 or an empty list).
	opts.InProject = &store.ProjectKey{TenantID: c.path("tenant"), ID: c.path("project")}
	page, err := c.store().VirtualClusters.List(c.ctx, opts)
	if err != nil || len(page.Items) > 0 {
		return page, err
	}
	if _, err := c.project(); err != nil {
		return store.Page[store.VirtualCluster]{}, err
	}
	return page, nil
}

// hostsOf returns the group's hosts with what is placed on them, and how
// many virtual clusters the group has.
func (c *call) hostsOf(g *store.ClusterGroup, except string) ([]placement.Host, int, error) {
	vcs, err := c.store().VirtualClusters.All(c.ctx, map[string]string{"clusterGroupId": g.ID})
	if err != nil {
		return nil, 0, err
	}
	var hosts []placement.Host
	for _, id := range g.HostClusterIDs {
		h, err := c.store().HostClusters.Get(c.ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, 0, err
		}
		ph := placement.Host{ID: h.ID, Ready: h.Status.Phase == store.HostReady, Capacity: h.Status.Capacity}
		// Every virtual cluster on the host counts, whatever its group.
		onHost, err := c.store().VirtualClusters.All(c.ctx, map[string]string{"hostClusterId": h.ID})
		if err != nil {
			return nil, 0, err
		}
		for _, vc := range onHost {
			if vc.ID == except {
				continue
			}
			if ph.Placed, err = placement.Add(ph.Placed, vc.Quota); err != nil {
				return nil, 0, err
			}
		}
		hosts = append(hosts, ph)
	}
	return hosts, len(vcs), nil
}

// checkTenantQuota checks, before the group's rules, that the tenant's
// virtual clusters (but except) with one more of quota stay within the
// tenant's quota.
func (c *call) checkTenantQuota(tenantID, except string, quota store.Resources) error {
	t, err := c.store().Tenants.Get(c.ctx, tenantID)
	if err != nil {
		return err
	}
	if t.Quota == (store.TenantQuota{}) {
		return nil
	}
	if err := c.store().LockTenant(c.ctx, t.ID); err != nil {
		return err
	}
	vcs, err := c.store().VirtualClusters.All(c.ctx, map[string]string{"tenantId": t.ID})
	if err != nil {
		return err
	}
	used, n := quota, 1
	for _, vc := range vcs {
		if vc.ID == except {
			continue
		}
		n++
		if used, err = placement.Add(used, vc.Quota); err != nil {
			return err
		}
	}
	if except == "" && t.Quota.VirtualClusters > 0 && n > t.Quota.VirtualClusters {
		return conflict("quota", "tenant %s may have at most %d virtual clusters", t.Name, t.Quota.VirtualClusters)
	}
	for _, dim := range placement.Dimensions {
		limit := placement.Get(t.Quota.Resources, dim)
		if limit == "" {
			continue
		}
		over, err := placement.Exceeds(used, t.Quota.Resources, dim)
		if err != nil {
			return err
		}
		if over {
			return conflict("quota."+dim, "tenant %s's quota allows %s %s in all, and its virtual clusters would have %s",
				t.Name, limit, dim, placement.Get(used, dim))
		}
	}
	return nil
}

func placementError(err error) error {
	switch {
	case errors.Is(err, placement.ErrGroupFull):
		return conflict("clusterGroupId", "%v", err)
	case errors.Is(err, placement.ErrNoCapacity):
		return conflict("quota", "%v", err)
	}
	return err
}

// quotaWithin fills quota's empty dimensions from the group's and checks
// it does not exceed them.
func quotaWithin(quota store.Resources, g *store.ClusterGroup) (store.Resources, error) {
	var out store.Resources
	for _, dim := range placement.Dimensions {
		limit, want := placement.Get(g.Quota, dim), placement.Get(quota, dim)
		if want == "" {
			want = limit
		} else if limit != "" {
			l, err := resource.ParseQuantity(limit)
			if err != nil {
				return quota, fmt.Errorf("cluster group %s quota: %w", g.ID, err)
			}
			w, err := resource.ParseQuantity(want)
			if err != nil {
				return quota, invalid("quota."+dim, "must be a Kubernetes quantity")
			}
			if w.Cmp(l) > 0 {
				return quota, invalid("quota."+dim, "%s is more than the cluster group allows (%s)", want, limit)
			}
		}
		placement.Set(&out, dim, want)
	}
	return out, nil
}

func createVirtualCluster(c *call, req *CreateVirtualClusterRequest) (*store.VirtualCluster, error) {
	p, err := c.project()
	if err != nil {
		return nil, err
	}
	g, err := c.store().ClusterGroups.Get(c.ctx, req.ClusterGroupID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalid("clusterGroupId", "no cluster group has id %q", req.ClusterGroupID)
	} else if err != nil {
		return nil, err
	}
	quota, err := quotaWithin(req.Quota, g)
	if err != nil {
		return nil, err
	}
	if err := c.checkProfileRefs("profiles", req.Profiles); err != nil {
		return nil, err
	}
	if err := c.checkTenantQuota(p.TenantID, "", quota); err != nil {
		return nil, err
	}
	// Creates in one group are serialized, so that two of them never
	// take the same room.
	if err := c.store().LockClusterGroup(c.ctx, g.ID); err != nil {
		return nil, err
	}
	hosts, existing, err := c.hostsOf(g, "")
	if err != nil {
		return nil, err
	}
	hostID, err := placement.Place(hosts, placement.Request{Quota: quota, OversubscriptionPercent: g.OversubscriptionPercent,
		MaxVirtualClusters: g.MaxVirtualClusters, Existing: existing})
	if err != nil {
		return nil, placementError(err)
	}
	cfg := req.Config
	if cfg == "" {
		cfg = g.DefaultConfig
	}
	version := req.KubernetesVersion
	if version == "" {
		version = config.SupportedKubernetesVersion
	}
	profiles := profileRefs(req.Profiles)
	vc, err := create(c, c.store().VirtualClusters, &store.VirtualCluster{Meta: store.Meta{Name: req.Name},
		TenantID: p.TenantID, ProjectID: p.ID, ClusterGroupID: g.ID, KubernetesVersion: version, Quota: quota,
		Config: cfg, Paused: req.Paused, Profiles: profiles, Generation: 1,
		Status: store.VirtualClusterStatus{Phase: store.VCPending, HostClusterID: hostID, Conditions: []store.Condition{},
			Message: "waiting for the reconciler"}})
	if err != nil {
		return nil, err
	}
	c.changed("virtualcluster", vc.ID)
	return vc, nil
}

func getVirtualCluster(c *call, _ *none) (*store.VirtualCluster, error) { return c.virtualCluster() }

func updateVirtualCluster(c *call, req *UpdateVirtualClusterRequest) (*store.VirtualCluster, error) {
	vc, err := c.virtualCluster()
	if err != nil {
		return nil, err
	}
	if vc.Deleting {
		return nil, conflict("virtualcluster", "virtual cluster %s is being deleted", vc.Name)
	}
	g, err := c.store().ClusterGroups.Get(c.ctx, vc.ClusterGroupID)
	if err != nil {
		return nil, err
	}
	quota, err := quotaWithin(req.Quota, g)
	if err != nil {
		return nil, err
	}
	if req.Config != "" && req.Config != vc.Config {
		return nil, invalid("config", "cannot change after create (yet): create a new virtual cluster")
	}
	version := req.KubernetesVersion
	if version == "" {
		version = vc.KubernetesVersion
	}
	profiles := profileRefs(req.Profiles)
	if err := c.checkProfileRefs("profiles", profiles); err != nil {
		return nil, err
	}
	if quota != vc.Quota {
		if err := c.checkTenantQuota(vc.TenantID, vc.ID, quota); err != nil {
			return nil, err
		}
		// A resize must fit on the host it runs on.
		if err := c.store().LockClusterGroup(c.ctx, g.ID); err != nil {
			return nil, err
		}
		hosts, _, err := c.hostsOf(g, vc.ID)
		if err != nil {
			return nil, err
		}
		var on []placement.Host
		for _, h := range hosts {
			if h.ID == vc.Status.HostClusterID {
				h.Ready = true // a resize does not need the host to answer now
				on = append(on, h)
			}
		}
		if _, err := placement.Place(on, placement.Request{Quota: quota, OversubscriptionPercent: g.OversubscriptionPercent}); err != nil {
			return nil, placementError(err)
		}
	}
	changed := quota != vc.Quota || version != vc.KubernetesVersion || req.Paused != vc.Paused || !sameRefs(profiles, vc.Profiles)
	vc, err = update(c, c.store().VirtualClusters, vc, req.ResourceVersion, func(vc *store.VirtualCluster) {
		vc.Quota, vc.KubernetesVersion, vc.Paused, vc.Profiles = quota, version, req.Paused, profiles
		if changed {
			vc.Generation++
		}
	})
	if err != nil {
		return nil, err
	}
	c.changed("virtualcluster", vc.ID)
	return vc, nil
}

// deleteVirtualCluster asks for the deletion: the reconciler removes the
// virtual cluster from its host, then the record.
func deleteVirtualCluster(c *call, _ *none) (*store.VirtualCluster, error) {
	vc, err := c.virtualCluster()
	if err != nil {
		return nil, err
	}
	rv := vc.ResourceVersion
	if v := c.r.URL.Query().Get("resourceVersion"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return nil, invalid("resourceVersion", "must be a positive number")
		}
		rv = n
	}
	if vc.Deleting {
		return vc, nil
	}
	vc, err = update(c, c.store().VirtualClusters, vc, rv, func(vc *store.VirtualCluster) {
		vc.Deleting = true
		vc.Generation++
	})
	if err != nil {
		return nil, err
	}
	c.changed("virtualcluster", vc.ID)
	return vc, nil
}

// getVirtualClusterKubeconfig hands out the admin kubeconfig of a virtual
// cluster and records that in the audit log (never its content).
func getVirtualClusterKubeconfig(c *call, _ *none) (*VirtualClusterKubeconfig, error) {
	vc, err := c.virtualCluster()
	if err != nil {
		return nil, err
	}
	if c.api.cfg.Fleet == nil {
		return nil, conflict("virtualcluster", "this hub runs no reconciler: no kubeconfig to give")
	}
	if vc.Status.Phase != store.VCReady {
		return nil, conflict("virtualcluster", "virtual cluster %s is %s, not Ready: try again once it is", vc.Name, vc.Status.Phase)
	}
	data, err := c.api.cfg.Fleet.Kubeconfig(c.ctx, vc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig of virtual cluster %s: %w", vc.ID, err)
	}
	type handedOut struct {
		ID, Name, HostClusterID, Endpoint string
	}
	if err := c.record(vc.ID, nil, handedOut{vc.ID, vc.Name, vc.Status.HostClusterID, vc.Status.Endpoint}); err != nil {
		return nil, err
	}
	return &VirtualClusterKubeconfig{VirtualClusterID: vc.ID, Kubeconfig: string(data)}, nil
}

// projectVirtualClusters refuses to delete a project (or tenant) that has
// virtual clusters, unless force: then they are all marked for deletion.
func (c *call) projectVirtualClusters(filter map[string]string, what string) error {
	force := c.r.URL.Query().Get("force")
	if force != "" && force != "true" && force != "false" {
		return invalid("force", "must be true or false")
	}
	vcs, err := c.store().VirtualClusters.All(c.ctx, filter)
	if err != nil {
		return err
	}
	if len(vcs) == 0 {
		return nil
	}
	if force != "true" {
		return conflict("force", "the %s has %d virtual cluster(s): delete them first, or delete with ?force=true to delete them too", what, len(vcs))
	}
	for i := range vcs {
		vc := &vcs[i]
		if vc.Deleting {
			continue
		}
		before := *vc
		vc.Deleting = true
		vc.Generation++
		if err := c.store().VirtualClusters.Update(c.ctx, vc); err != nil {
			return err
		}
		if err := c.recordAs("virtualcluster.delete", "virtualcluster", vc.ID, &before, vc); err != nil {
			return err
		}
		c.changed("virtualcluster", vc.ID)
	}
	return nil
}

// fleetScanChunk is how many virtual clusters one store query reads when
// the fleet list filters them by the caller's grants.
const fleetScanChunk = 500

// listAllVirtualClusters lists the virtual clusters of every project where
// the caller holds virtualcluster.list: all of them for a global grant,
// else those of the tenants and projects its grants name, checked item by
// item with the same rule as every route (auth.Allowed).
func listAllVirtualClusters(c *call, _ *none) (store.Page[store.VirtualCluster], error) {
	const perm = "virtualcluster.list"
	opts, e := c.listOptions(map[string]string{"name": "name", "phase": "phase", "clusterGroupId": "clusterGroupId",
		"tenantId": "tenantId", "projectId": "projectId"})
	if e != nil {
		return store.Page[store.VirtualCluster]{}, e
	}
	vcs := c.store().VirtualClusters
	grants := c.principal.Grants
	if auth.Allowed(grants, perm, auth.Scope{}) {
		return vcs.List(c.ctx, opts)
	}
	// The scopes the permission is held at. With only one, the store
	// filters by it; with more, pages are read in chunks and filtered.
	var scopes []auth.Scope
	for _, g := range grants {
		sc := auth.Scope{TenantID: g.TenantID, ProjectID: g.ProjectID}
		if auth.Allowed([]store.Grant{g}, perm, auth.Scope{Any: true}) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	empty := store.Page[store.VirtualCluster]{Items: []store.VirtualCluster{}}
	if len(scopes) == 1 {
		for k, v := range map[string]string{"tenantId": scopes[0].TenantID, "projectId": scopes[0].ProjectID} {
			if v == "" {
				continue
			}
			if asked, ok := opts.Filters[k]; ok && asked != v {
				return empty, nil
			}
			opts.Filters[k] = v
		}
		return vcs.List(c.ctx, opts)
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	page := empty
	scan := store.ListOptions{Cursor: opts.Cursor, Filters: opts.Filters, Limit: fleetScanChunk}
	for {
		chunk, err := vcs.List(c.ctx, scan)
		if err != nil {
			return page, err
		}
		for i := range chunk.Items {
			vc := &chunk.Items[i]
			if !auth.Allowed(grants, perm, auth.Scope{TenantID: vc.TenantID, ProjectID: vc.ProjectID}) {
				continue
			}
			if len(page.Items) == limit {
				page.NextCursor = store.CursorAfter(page.Items[limit-1].ID)
				return page, nil
			}
			page.Items = append(page.Items, *vc)
		}
		if chunk.NextCursor == "" {
			return page, nil
		}
		scan.Cursor = chunk.NextCursor
	}
}
