// Package v1alpha1 is the VirtualCluster API of the operator,
// nest.dev/v1alpha1: its Go types and the CustomResourceDefinition made
// from them (CRD), which api/crds/ ships and a test keeps in step.
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// API group, version, kind and resource of VirtualCluster.
const (
	Group    = "nest.dev"
	Version  = "v1alpha1"
	Kind     = "VirtualCluster"
	ListKind = "VirtualClusterList"
	Resource = "virtualclusters"
	Singular = "virtualcluster"
	// ShortName is what `kubectl get vc` understands.
	ShortName = "vc"
	// CRDName is the name of the CustomResourceDefinition.
	CRDName = Resource + "." + Group
)

// GroupVersionResource of VirtualCluster.
var GroupVersionResource = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Resource}

// GroupVersionKind of VirtualCluster.
var GroupVersionKind = schema.GroupVersionKind{Group: Group, Version: Version, Kind: Kind}

// VirtualCluster is one virtual cluster that the operator keeps running.
type VirtualCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VirtualClusterSpec   `json:"spec"`
	Status VirtualClusterStatus `json:"status,omitempty"`
}

// VirtualClusterSpec is what the user wants.
type VirtualClusterSpec struct {
	// KubernetesVersion of the virtual control plane, "v1.34.4" (the one
	// Nest embeds) by default. Immutable: the operator does not upgrade.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// Config is the content of nest.yaml as an object (apiVersion and kind
	// may be left out), validated by the operator with pkg/config. Its
	// kubernetesVersion, datastore and isolation are spec fields of their
	// own. Immutable: it is applied when the cluster is made.
	Config map[string]any `json:"config,omitempty"`
	// Runtime runs the control plane: "process" (a `nest controlplane`
	// process on the operator's machine, the default) or "pod". Immutable.
	Runtime Runtime `json:"runtime,omitempty"`
	// Isolation is the policy host copies of pods must meet. Immutable.
	Isolation *Isolation `json:"isolation,omitempty"`
	// Paused stops the control plane and removes its pods from the host,
	// keeping all state; false resumes it.
	Paused bool `json:"paused,omitempty"`
	// Datastore where the virtual cluster keeps its objects; embedded
	// SQLite when unset. Immutable.
	Datastore *Datastore `json:"datastore,omitempty"`
}

// Runtime of a virtual cluster's control plane.
type Runtime string

// Runtimes.
const (
	RuntimeProcess Runtime = "process"
	RuntimePod     Runtime = "pod"
)

// Isolation mirrors the isolation section of nest.yaml.
type Isolation struct {
	// PodSecurity is the Pod Security Standards level: privileged,
	// baseline (the default) or restricted.
	PodSecurity      string `json:"podSecurity,omitempty"`
	AllowHostPath    bool   `json:"allowHostPath,omitempty"`
	AllowHostNetwork bool   `json:"allowHostNetwork,omitempty"`
	AllowPrivileged  bool   `json:"allowPrivileged,omitempty"`
	AllowHostPorts   bool   `json:"allowHostPorts,omitempty"`
}

// Datastore mirrors the datastore section of nest.yaml.
type Datastore struct {
	// Endpoint: sqlite:///abs/path.db, etcd://host:port, https://host:port
	// or postgres://user:pass@host/db; "" is embedded SQLite.
	Endpoint string `json:"endpoint,omitempty"`
}

// VirtualClusterStatus is what the operator observed.
type VirtualClusterStatus struct {
	// Phase: Creating, Ready, Paused, Failed or Deleting; empty until the
	// operator first acts.
	Phase Phase `json:"phase,omitempty"`
	// Conditions: Ready, and Failed with the reason of the last failure.
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// Endpoint of the virtual apiserver.
	Endpoint string `json:"endpoint,omitempty"`
	// KubeconfigSecretRef names the Secret, next to this object, that
	// holds the admin kubeconfig.
	KubeconfigSecretRef *SecretKeyReference `json:"kubeconfigSecretRef,omitempty"`
	// ObservedGeneration is the generation the status describes.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// ClusterName is the virtual cluster's name in the lifecycle API (and
	// in `nest list` of the operator's home).
	ClusterName string `json:"clusterName,omitempty"`
	// HostNamespace is the host namespace the virtual cluster owns.
	HostNamespace string `json:"hostNamespace,omitempty"`
}

// SecretKeyReference names one key of a Secret in the object's namespace.
type SecretKeyReference struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

// Phase of a virtual cluster.
type Phase string

// Phases.
const (
	PhaseCreating Phase = "Creating"
	PhaseReady    Phase = "Ready"
	PhasePaused   Phase = "Paused"
	PhaseFailed   Phase = "Failed"
	PhaseDeleting Phase = "Deleting"
)

// Condition types.
const (
	// ConditionReady is True when the virtual apiserver answers.
	ConditionReady = "Ready"
	// ConditionFailed is True while the last attempt failed; its reason
	// and message say why.
	ConditionFailed = "Failed"
)

// Finalizer keeps a VirtualCluster until its cluster is deleted.
const Finalizer = "nest.dev/virtual-cluster"

// KubeconfigKey is the key of the kubeconfig in its Secret.
const KubeconfigKey = "kubeconfig"
