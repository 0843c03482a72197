// Package config loads and validates nest.yaml, the configuration file of one
// virtual cluster. It is the project's only config loader: Load reads,
// defaults and validates a file; Parse and Validate are the separate steps.
package config

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// APIVersion is the only apiVersion nest.yaml accepts.
	APIVersion = "nest.dev/v1alpha1"
	// Kind is the only kind nest.yaml accepts.
	Kind = "VirtualClusterConfig"
	// SupportedKubernetesVersion is the Kubernetes version Nest embeds; it is
	// the only accepted kubernetesVersion for now.
	SupportedKubernetesVersion = "v1.34.4"
)

// Config is the content of nest.yaml.
type Config struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// KubernetesVersion of the virtual control plane.
	KubernetesVersion string       `json:"kubernetesVersion,omitempty"`
	Datastore         Datastore    `json:"datastore"`
	ControlPlane      ControlPlane `json:"controlPlane"`
	Sync              Sync         `json:"sync"`
	Isolation         Isolation    `json:"isolation"`
}

// Datastore selects where the virtual cluster stores its objects.
type Datastore struct {
	// Endpoint is "" for embedded SQLite, or a URL: see ParseEndpoint.
	Endpoint string `json:"endpoint,omitempty"`
}

// ControlPlane configures the virtual cluster's control-plane components.
type ControlPlane struct {
	APIServer    APIServer    `json:"apiServer"`
	Controllers  Controllers  `json:"controllers"`
	Certificates Certificates `json:"certificates,omitzero"`
	Scheduler    Scheduler    `json:"scheduler,omitzero"`
}

// Scheduler configures the virtual scheduler: upstream's kube-scheduler,
// run in the control plane's process against the virtual apiserver. It
// binds the cluster's pods to its virtual nodes (and preempts by the
// cluster's priority classes) before the syncer copies them to the host
// nodes those stand for. Off by default: the host's scheduler then places
// the host copies.
type Scheduler struct {
	// Enabled runs the virtual scheduler. It needs every host node shown
	// (sync.fromHost.nodes.all): a scheduler can only bind to nodes it sees.
	Enabled bool `json:"enabled,omitempty"`
}

// Certificates configures the control plane's leaf certificates (serving,
// component and admin client certs); the CA is not affected.
type Certificates struct {
	// Validity is the lifetime of a newly issued leaf certificate, a Go
	// duration ("8760h"); "" is one year. Certificates are renewed, while
	// the control plane runs, once two thirds of it have passed.
	Validity string `json:"validity,omitempty"`
}

// Bounds of controlPlane.certificates.validity: a leaf cannot outlive the
// 10-year CA, and less than a minute leaves no time to renew.
const (
	MinCertificateValidity = time.Minute
	MaxCertificateValidity = 10 * 365 * 24 * time.Hour
)

// LeafValidity is Validity parsed; 0 when unset (the PKI default).
func (c Certificates) LeafValidity() time.Duration {
	d, _ := time.ParseDuration(c.Validity)
	return d
}

// APIServer configures the virtual kube-apiserver.
type APIServer struct {
	// ExtraArgs are passed as --key=value; keys are flag names without dashes.
	ExtraArgs map[string]string `json:"extraArgs,omitempty"`
}

// Controllers selects the kube-controller-manager controllers to run, with
// the syntax of its --controllers flag: "*" for all of KnownControllers,
// "name" to enable one, "-name" to disable one.
type Controllers struct {
	// Enabled has no omitempty: an explicit empty list means "run none"
	// and must survive a round trip, while a missing list means ["*"].
	Enabled []string `json:"enabled"`
}

// Sync selects which kinds the syncer copies between the virtual cluster and
// the host, keyed by lower-case plural resource name ("pods").
type Sync struct {
	ToHost          map[string]ToHostSync   `json:"toHost,omitempty"`
	FromHost        map[string]FromHostSync `json:"fromHost,omitempty"`
	CustomResources []CustomResource        `json:"customResources,omitempty"`
	// ServiceMappings map host services in and virtual services out.
	ServiceMappings ServiceMappings `json:"serviceMappings,omitzero"`
}

// ToHostSync configures copying one kind from the virtual cluster to the host.
type ToHostSync struct {
	// Enabled is a pointer so that setting only a selector keeps the kind's default.
	Enabled *bool `json:"enabled,omitempty"`
	// Selector limits syncing to matching objects; nil syncs all of them.
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// FromHostSync configures copying one kind from the host into the virtual cluster.
type FromHostSync struct {
	Enabled  *bool                 `json:"enabled,omitempty"`
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
	// Mode is only valid for nodes.
	Mode NodeMode `json:"mode,omitempty"`
	// All is only valid for nodes: show every host node (matching
	// Selector, if set), not only those that run the cluster's pods.
	// Reading the host's nodes needs a cluster-scoped read grant.
	All bool `json:"all,omitempty"`
}

// NodeMode says how host nodes appear in the virtual cluster.
type NodeMode string

const (
	// NodeModeReal copies the host nodes that run the virtual cluster's pods.
	NodeModeReal NodeMode = "real"
	// NodeModeFake shows generated nodes that hide host details.
	NodeModeFake NodeMode = "fake"
)

// CustomResource names a custom resource kind the syncer copies to the host.
type CustomResource struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// Isolation is the policy pods must meet before the syncer copies them to
// the host: a Pod Security Standards level, with single checks lifted by the
// Allow fields.
type Isolation struct {
	// PodSecurity is the Pod Security Standards level host copies must meet:
	// "privileged" (no checks), "baseline" or "restricted".
	PodSecurity      PodSecurityLevel `json:"podSecurity"`
	AllowHostPath    bool             `json:"allowHostPath"`
	AllowHostNetwork bool             `json:"allowHostNetwork"`
	AllowPrivileged  bool             `json:"allowPrivileged"`
	AllowHostPorts   bool             `json:"allowHostPorts"`
}

// PodSecurityLevel is a level of the Pod Security Standards.
type PodSecurityLevel string

// Pod Security Standards levels.
const (
	PodSecurityPrivileged PodSecurityLevel = "privileged"
	PodSecurityBaseline   PodSecurityLevel = "baseline"
	PodSecurityRestricted PodSecurityLevel = "restricted"
)

// IsEnabled reports whether the kind is synced; nil Enabled means not synced,
// so call it on defaulted configs.
func (s ToHostSync) IsEnabled() bool { return s.Enabled != nil && *s.Enabled }

// IsEnabled reports whether the kind is synced; nil Enabled means not synced,
// so call it on defaulted configs.
func (s FromHostSync) IsEnabled() bool { return s.Enabled != nil && *s.Enabled }

// ShowsAllHostNodes reports whether the virtual cluster shows every host
// node (sync.fromHost.nodes.all, filtered by its selector), not only the
// nodes its pods run on.
func (s Sync) ShowsAllHostNodes() bool {
	return s.FromHostEnabled(nodesKind) && s.FromHost[nodesKind].All
}

// ReadsHostNodes reports whether the syncer reads the host's nodes, for
// which the cluster needs a cluster-scoped read grant on them: for real
// node data (sync.fromHost.nodes.mode: real) or to show every host node
// (sync.fromHost.nodes.all). The default reads none.
func (s Sync) ReadsHostNodes() bool {
	return s.FromHostEnabled(nodesKind) && (s.FromHost[nodesKind].Mode == NodeModeReal || s.FromHost[nodesKind].All)
}
