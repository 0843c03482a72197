package store

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Resources are amounts of CPU, memory, storage and pods as Kubernetes
// quantity strings ("2", "500m", "4Gi", "110"); "" is none.
type Resources struct {
	CPU     string `json:"cpu,omitempty"`
	Memory  string `json:"memory,omitempty"`
	Storage string `json:"storage,omitempty"`
	Pods    string `json:"pods,omitempty"`
}

// Host cluster phases.
const (
	HostPending     = "Pending"     // not checked yet
	HostReady       = "Ready"       // answered the last check
	HostUnreachable = "Unreachable" // did not
)

// HostClusterStatus is what the health checker last saw of a host.
type HostClusterStatus struct {
	Phase     string    `json:"phase"`
	LastCheck time.Time `json:"lastCheck,omitzero"`
	// Capacity is the sum of the nodes' allocatable resources.
	Capacity Resources `json:"capacity"`
	// Allocated is the sum of the quotas of the virtual clusters placed on
	// the host.
	Allocated         Resources `json:"allocated"`
	KubernetesVersion string    `json:"kubernetesVersion,omitempty"`
	Nodes             int       `json:"nodes"`
	Message           string    `json:"message,omitempty"`
}

// HostCluster is a Kubernetes cluster virtual clusters are placed on. Its
// kubeconfig is stored encrypted and never serialised.
type HostCluster struct {
	Meta
	Description   string            `json:"description"`
	KubeconfigEnc string            `json:"-"`
	Status        HostClusterStatus `json:"status"`
}

// Endpoint types of a cluster group: how tenants reach the virtual
// apiservers placed on it.
const (
	EndpointLocal        = "Local"        // the hub machine's loopback (process runtime)
	EndpointNodePort     = "NodePort"     // a node port of the host
	EndpointLoadBalancer = "LoadBalancer" // a load balancer of the host
	EndpointIngress      = "Ingress"      // an ingress of the host
)

// ClusterGroup is a pool of host clusters and the settings every virtual
// cluster placed on it gets.
type ClusterGroup struct {
	Meta
	Description    string   `json:"description"`
	HostClusterIDs []string `json:"hostClusterIds"`
	// Quota is each virtual cluster's default quota, and its maximum.
	Quota                   Resources `json:"quota"`
	MaxVirtualClusters      int       `json:"maxVirtualClusters"`
	OversubscriptionPercent int       `json:"oversubscriptionPercent"`
	EndpointType            string    `json:"endpointType"`
	// DefaultConfig is nest.yaml text every virtual cluster starts from.
	DefaultConfig string `json:"defaultConfig"`
	// Profiles are applied to every virtual cluster of the group, in
	// order, before the virtual cluster's own.
	Profiles []ProfileRef `json:"profiles"`
}

// Virtual cluster phases.
const (
	VCPending      = "Pending"
	VCProvisioning = "Provisioning"
	VCReady        = "Ready"
	VCPaused       = "Paused"
	VCFailed       = "Failed"
	VCUnknown      = "Unknown"
	VCDeleting     = "Deleting"
)

// Condition is one aspect of a virtual cluster's state, Kubernetes style.
type Condition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"` // True, False, Unknown
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime,omitzero"`
}

// VirtualClusterStatus is what the reconciler last did and saw.
type VirtualClusterStatus struct {
	Phase              string      `json:"phase"`
	Conditions         []Condition `json:"conditions"`
	HostClusterID      string      `json:"hostClusterId,omitempty"`
	HostNamespace      string      `json:"hostNamespace,omitempty"`
	Endpoint           string      `json:"endpoint,omitempty"`
	KubernetesVersion  string      `json:"kubernetesVersion,omitempty"`
	ObservedGeneration int64       `json:"observedGeneration"`
	Message            string      `json:"message,omitempty"`
	// Profiles are the effective profiles (the group's, then the virtual
	// cluster's own) as last applied and diffed.
	Profiles []ProfileStatus `json:"profiles,omitempty"`
	// Used is what the host namespace's ResourceQuota counts against the
	// quota (requests of the synced pods, claims' storage, pods), as the
	// reconciler last read it; empty before the quota exists.
	Used Resources `json:"used,omitzero"`
	// Objects counts, per kind the syncer copies, the objects in the
	// virtual cluster and their synced copies in the host namespace, as
	// the reconciler last read them (ObservedAt).
	Objects []ObjectCount `json:"objects,omitempty"`
	// Events are the virtual cluster's most recent Kubernetes events
	// (host events the syncer copied up included), newest first, at most
	// MaxClusterEvents.
	Events     []ClusterEvent `json:"events,omitempty"`
	ObservedAt time.Time      `json:"observedAt,omitzero"`
}

// MaxClusterEvents bounds the events kept in a virtual cluster's status.
const MaxClusterEvents = 20

// ObjectCount is how many objects of one kind a virtual cluster holds,
// and how many of them the syncer copied to its host namespace.
type ObjectCount struct {
	Kind    string `json:"kind"`
	Virtual int    `json:"virtual"`
	Host    int    `json:"host"`
}

// ClusterEvent is one Kubernetes event of a virtual cluster.
type ClusterEvent struct {
	Type     string    `json:"type"` // Normal or Warning
	Reason   string    `json:"reason"`
	Object   string    `json:"object"` // "Pod default/web-0"
	Message  string    `json:"message"`
	Count    int32     `json:"count,omitempty"`
	LastSeen time.Time `json:"lastSeen,omitzero"`
}

// Profile phases in a virtual cluster.
const (
	ProfilePending = "Pending" // not applied yet
	ProfileApplied = "Applied" // applied; no drift found since
	ProfileDrifted = "Drifted" // applied, and objects differ from it now
	ProfileFailed  = "Failed"  // the last apply (or diff) failed
)

// ProfileStatus is the state of one profile in a virtual cluster.
type ProfileStatus struct {
	ProfileID string `json:"profileId"`
	Name      string `json:"name"`
	// Version is the version last applied (or being applied, while
	// Pending or Failed).
	Version string `json:"version"`
	// Variables are the overrides it was applied with.
	Variables map[string]string    `json:"variables,omitempty"`
	Phase     string               `json:"phase"`
	Layers    []ProfileLayerStatus `json:"layers"`
	AppliedAt time.Time            `json:"appliedAt,omitzero"`
	Message   string               `json:"message,omitempty"`
}

// ProfileLayerStatus is the state of one layer of a profile (Applied,
// Drifted, Failed, Skipped or Removed) with the objects that drifted.
type ProfileLayerStatus struct {
	Name    string         `json:"name"`
	Status  string         `json:"status"`
	Message string         `json:"message,omitempty"`
	Drift   []ProfileDrift `json:"drift,omitempty"`
}

// ProfileDrift is one object of a layer that differs from the profile.
type ProfileDrift struct {
	// Object is "Kind namespace/name" (with the API group).
	Object string   `json:"object"`
	Reason string   `json:"reason"` // Missing, Changed or Extra
	Fields []string `json:"fields,omitempty"`
}

// VirtualCluster is a tenant's virtual cluster in a project: its desired
// state (spec fields, Generation bumped on every change of them, Deleting
// once a delete was asked) and the reconciler's status.
type VirtualCluster struct {
	Meta
	TenantID          string               `json:"tenantId"`
	ProjectID         string               `json:"projectId"`
	ClusterGroupID    string               `json:"clusterGroupId"`
	KubernetesVersion string               `json:"kubernetesVersion"`
	Quota             Resources            `json:"quota"`
	Config            string               `json:"config,omitempty"`
	Paused            bool                 `json:"paused"`
	Profiles          []ProfileRef         `json:"profiles"`
	Deleting          bool                 `json:"deleting"`
	Generation        int64                `json:"generation"`
	Status            VirtualClusterStatus `json:"status"`
}

// jsonCol stores any value as JSON text.
type jsonCol struct{ p any }

func (c jsonCol) Value() (driver.Value, error) {
	data, err := json.Marshal(c.p)
	return string(data), err
}

func (c jsonCol) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return json.Unmarshal([]byte(v), c.p)
	case []byte:
		return json.Unmarshal(v, c.p)
	}
	return fmt.Errorf("cannot scan %T into JSON", src)
}

// intCol stores an int as INTEGER.
type intCol struct{ p *int }

func (c intCol) Value() (driver.Value, error) { return int64(*c.p), nil }

func (c intCol) Scan(src any) error {
	n, err := asInt64(src)
	*c.p = int(n)
	return err
}

func (s *Store) initFleet() {
	s.HostClusters = newCollection(s, "host_clusters", func(o *HostCluster) *Meta { return &o.Meta },
		[]string{"description", "kubeconfig_enc", "phase", "status_json"},
		func(o *HostCluster) []any {
			return []any{&o.Description, &o.KubeconfigEnc, &o.Status.Phase, jsonCol{&o.Status}}
		},
		map[string]string{"phase": "phase"})

	s.ClusterGroups = newCollection(s, "cluster_groups", func(o *ClusterGroup) *Meta { return &o.Meta },
		[]string{"description", "host_cluster_ids", "quota_json", "max_virtual_clusters", "oversubscription_percent", "endpoint_type", "default_config",
			"profiles"},
		func(o *ClusterGroup) []any {
			if o.Profiles == nil {
				o.Profiles = []ProfileRef{}
			}
			return []any{&o.Description, stringsCol{&o.HostClusterIDs}, jsonCol{&o.Quota}, intCol{&o.MaxVirtualClusters},
				intCol{&o.OversubscriptionPercent}, &o.EndpointType, &o.DefaultConfig, jsonCol{&o.Profiles}}
		}, nil)

	s.VirtualClusters = newCollection(s, "virtual_clusters", func(o *VirtualCluster) *Meta { return &o.Meta },
		[]string{"tenant_id", "project_id", "cluster_group_id", "kubernetes_version", "quota_json", "config", "paused",
			"profiles", "deleting", "generation", "host_cluster_id", "phase", "status_json"},
		func(o *VirtualCluster) []any {
			if o.Status.Conditions == nil {
				o.Status.Conditions = []Condition{}
			}
			if o.Profiles == nil {
				o.Profiles = []ProfileRef{}
			}
			return []any{&o.TenantID, &o.ProjectID, &o.ClusterGroupID, &o.KubernetesVersion, jsonCol{&o.Quota}, &o.Config,
				boolCol{&o.Paused}, jsonCol{&o.Profiles}, boolCol{&o.Deleting}, &o.Generation,
				&o.Status.HostClusterID, &o.Status.Phase, jsonCol{&o.Status}}
		},
		map[string]string{"tenantId": "tenant_id", "projectId": "project_id", "clusterGroupId": "cluster_group_id",
			"hostClusterId": "host_cluster_id", "phase": "phase"})
	s.VirtualClusters.markEpoch()
}

// All returns every object matching filters, in creation order.
func (c *Collection[T]) All(ctx context.Context, filters map[string]string) ([]T, error) {
	var all []T
	opts := ListOptions{Limit: MaxLimit, Filters: filters}
	for {
		page, err := c.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if opts.Cursor = page.NextCursor; opts.Cursor == "" {
			return all, nil
		}
	}
}

// LockClusterGroup takes the write lock of a cluster group's row until the
// transaction of ctx ends (without changing it), so that placements in one
// group happen one at a time on either database.
func (s *Store) LockClusterGroup(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `UPDATE cluster_groups SET resource_version = resource_version WHERE id = ?`, id); err != nil {
		return fmt.Errorf("lock cluster group %s: %w", id, err)
	}
	return nil
}

// LockTenant is LockClusterGroup for a tenant: checks of its quota happen
// one at a time.
func (s *Store) LockTenant(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `UPDATE tenants SET resource_version = resource_version WHERE id = ?`, id); err != nil {
		return fmt.Errorf("lock tenant %s: %w", id, err)
	}
	return nil
}
