package api

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hub/placement"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Request bodies of host clusters, cluster groups and virtual clusters.

// maxKubeconfigBytes bounds a host kubeconfig.
const maxKubeconfigBytes = 256 << 10

// CreateHostClusterRequest registers a host cluster by kubeconfig. The
// kubeconfig is stored encrypted and never returned.
type CreateHostClusterRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Kubeconfig  string `json:"kubeconfig"`
}

func validateKubeconfig(field, text string, required bool) *Error {
	if text == "" {
		if required {
			return invalid(field, "is required: the host cluster's kubeconfig (YAML)")
		}
		return nil
	}
	if len(text) > maxKubeconfigBytes {
		return invalid(field, "must be at most %d bytes", maxKubeconfigBytes)
	}
	cfg, err := clientcmd.Load([]byte(text))
	if err != nil {
		return invalid(field, "is not a kubeconfig: %v", err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		return invalid(field, "has no current context")
	}
	if c, ok := cfg.Clusters[ctx.Cluster]; !ok || c.Server == "" {
		return invalid(field, "current context %q names no cluster with a server", cfg.CurrentContext)
	}
	if _, err := clientcmd.RESTConfigFromKubeConfig([]byte(text)); err != nil {
		return invalid(field, "cannot be used: %v", err)
	}
	return nil
}

func (r *CreateHostClusterRequest) validate() *Error {
	return firstError(validateName("name", r.Name), validateText("description", r.Description, 1024),
		validateKubeconfig("kubeconfig", r.Kubeconfig, true))
}

// UpdateHostClusterRequest replaces a host cluster's description and,
// when given, its kubeconfig (empty keeps the stored one).
type UpdateHostClusterRequest struct {
	Description     string `json:"description,omitempty"`
	Kubeconfig      string `json:"kubeconfig,omitempty"`
	ResourceVersion int64  `json:"resourceVersion"`
}

func (r *UpdateHostClusterRequest) validate() *Error {
	return firstError(validateText("description", r.Description, 1024), validateKubeconfig("kubeconfig", r.Kubeconfig, false),
		validateVersion(r.ResourceVersion))
}

// validateResources checks every dimension is a non-negative Kubernetes
// quantity; field is the JSON path of r ("quota").
func validateResources(field string, r store.Resources) *Error {
	for _, dim := range placement.Dimensions {
		s := placement.Get(r, dim)
		if s == "" {
			continue
		}
		q, err := resource.ParseQuantity(s)
		if err != nil {
			return invalid(field+"."+dim, "must be a Kubernetes quantity such as 2, 500m or 4Gi, not %q", s)
		}
		if q.Sign() < 0 {
			return invalid(field+"."+dim, "must not be negative")
		}
	}
	return nil
}

// endpointTypes are the valid values of a group's endpointType.
var endpointTypes = []string{store.EndpointLocal, store.EndpointNodePort, store.EndpointLoadBalancer, store.EndpointIngress}

// ClusterGroupSpec is the mutable part of a cluster group.
type ClusterGroupSpec struct {
	Description    string   `json:"description,omitempty"`
	HostClusterIDs []string `json:"hostClusterIds"`
	// Quota is the quota of each virtual cluster (the default, and the
	// most one may ask for).
	Quota                   store.Resources `json:"quota"`
	MaxVirtualClusters      int             `json:"maxVirtualClusters,omitempty"`
	OversubscriptionPercent int             `json:"oversubscriptionPercent,omitempty"`
	// EndpointType is Local (the only one the process runtime serves
	// today), NodePort, LoadBalancer or Ingress; default Local.
	EndpointType  string `json:"endpointType,omitempty"`
	DefaultConfig string `json:"defaultConfig,omitempty"`
	// Profiles are applied to every virtual cluster of the group, before
	// the virtual cluster's own.
	Profiles []store.ProfileRef `json:"profiles,omitempty"`
}

// validateConfig checks nest.yaml text with the one config loader.
func validateConfig(field, text string) *Error {
	if text == "" {
		return nil
	}
	if len(text) > 64<<10 {
		return invalid(field, "must be at most %d bytes", 64<<10)
	}
	c, err := config.Parse([]byte(text))
	if err != nil {
		return invalid(field, "%v", err)
	}
	if err := c.Validate(); err != nil {
		return invalid(field, "%v", err)
	}
	return nil
}

func (s *ClusterGroupSpec) validate() *Error {
	var hosts *Error
	seen := map[string]bool{}
	for i, id := range s.HostClusterIDs {
		if id == "" || seen[id] {
			hosts = invalid(fmt.Sprintf("hostClusterIds[%d]", i), "must be a host cluster id, each listed once")
			break
		}
		seen[id] = true
	}
	var limits *Error
	switch {
	case s.MaxVirtualClusters < 0:
		limits = invalid("maxVirtualClusters", "must be 0 (no limit) or more")
	case s.OversubscriptionPercent < 0 || s.OversubscriptionPercent > 1000:
		limits = invalid("oversubscriptionPercent", "must be from 0 to 1000")
	}
	var endpoint *Error
	if s.EndpointType == "" {
		s.EndpointType = store.EndpointLocal
	}
	ok := false
	for _, e := range endpointTypes {
		ok = ok || e == s.EndpointType
	}
	if !ok {
		endpoint = invalid("endpointType", "must be one of %v", endpointTypes)
	}
	return firstError(validateText("description", s.Description, 1024), hosts, validateResources("quota", s.Quota), limits, endpoint,
		validateConfig("defaultConfig", s.DefaultConfig), validateProfileRefs("profiles", s.Profiles))
}

// CreateClusterGroupRequest creates a cluster group.
type CreateClusterGroupRequest struct {
	Name string `json:"name"`
	ClusterGroupSpec
}

func (r *CreateClusterGroupRequest) validate() *Error {
	return firstError(validateName("name", r.Name), r.ClusterGroupSpec.validate())
}

// UpdateClusterGroupRequest replaces a cluster group's mutable fields.
type UpdateClusterGroupRequest struct {
	ClusterGroupSpec
	ResourceVersion int64 `json:"resourceVersion"`
}

func (r *UpdateClusterGroupRequest) validate() *Error {
	return firstError(r.ClusterGroupSpec.validate(), validateVersion(r.ResourceVersion))
}

// maxVCName keeps room in host names for the id suffix the hub adds.
const maxVCName = 50

// VirtualClusterSpec is the mutable part of a virtual cluster.
type VirtualClusterSpec struct {
	// KubernetesVersion defaults to the one version this hub runs.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Quota defaults to the cluster group's, and may not exceed it.
	Quota store.Resources `json:"quota"`
	// Config is nest.yaml text; empty takes the group's defaultConfig.
	Config string `json:"config,omitempty"`
	Paused bool   `json:"paused,omitempty"`
	// Profiles are applied after the cluster group's.
	Profiles []store.ProfileRef `json:"profiles,omitempty"`
}

func (s *VirtualClusterSpec) validate() *Error {
	var version *Error
	if s.KubernetesVersion != "" && s.KubernetesVersion != config.SupportedKubernetesVersion {
		version = invalid("kubernetesVersion", "must be %s, the version this hub runs", config.SupportedKubernetesVersion)
	}
	return firstError(version, validateResources("quota", s.Quota), validateConfig("config", s.Config), validateProfileRefs("profiles", s.Profiles))
}

// CreateVirtualClusterRequest creates a virtual cluster in the project of
// the path, placed on a host of the cluster group.
type CreateVirtualClusterRequest struct {
	Name           string `json:"name"`
	ClusterGroupID string `json:"clusterGroupId"`
	VirtualClusterSpec
}

func (r *CreateVirtualClusterRequest) validate() *Error {
	var name *Error
	if len(r.Name) > maxVCName {
		name = invalid("name", "must be at most %d characters", maxVCName)
	}
	var group *Error
	if r.ClusterGroupID == "" {
		group = invalid("clusterGroupId", "is required")
	}
	return firstError(validateName("name", r.Name), name, group, r.VirtualClusterSpec.validate())
}

// UpdateVirtualClusterRequest replaces a virtual cluster's mutable fields:
// pause and resume (paused), resize (quota), upgrade (kubernetesVersion),
// profiles.
type UpdateVirtualClusterRequest struct {
	VirtualClusterSpec
	ResourceVersion int64 `json:"resourceVersion"`
}

func (r *UpdateVirtualClusterRequest) validate() *Error {
	return firstError(r.VirtualClusterSpec.validate(), validateVersion(r.ResourceVersion))
}

// VirtualClusterKubeconfig is a virtual cluster's admin kubeconfig.
type VirtualClusterKubeconfig struct {
	VirtualClusterID string `json:"virtualClusterId"`
	Kubeconfig       string `json:"kubeconfig"`
}
