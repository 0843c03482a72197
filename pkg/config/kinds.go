package config

import (
	"slices"
	"strings"
)

// syncKind is a kind the syncer knows how to copy in one direction.
type syncKind struct {
	name             string
	enabledByDefault bool
}

// toHostKinds are the kinds the syncer can copy from the virtual cluster to the host.
var toHostKinds = []syncKind{
	{"pods", true},
	{"services", true},
	{"endpoints", true},
	{"endpointslices", true},
	{"configmaps", true},
	{"secrets", true},
	{"persistentvolumeclaims", true},
	{"serviceaccounts", false},
	{"ingresses", false},
	{"networkpolicies", false},
	{"poddisruptionbudgets", false},
	{"priorityclasses", false},
	// Cluster-scoped on the host, like priority classes: a cluster-scoped
	// grant when on. Unknown kinds are refused, so a config cannot ask for
	// what the syncer does not do.
	{"storageclasses", false},
	{"persistentvolumes", false},
}

// fromHostKinds are the kinds the syncer can copy from the host into the virtual cluster.
var fromHostKinds = []syncKind{
	{"nodes", true},
	{"events", true},
	// Off by default: reading the host's classes takes a cluster-scoped
	// grant, and the default grant is the host namespace only.
	{"storageclasses", false},
	{"ingressclasses", false},
	{"priorityclasses", false},
}

// nodesKind is the only fromHost kind that accepts a mode.
const nodesKind = "nodes"

// ToHostKinds returns the kinds sync.toHost accepts, sorted.
func ToHostKinds() []string { return kindNames(toHostKinds) }

// FromHostKinds returns the kinds sync.fromHost accepts, sorted.
func FromHostKinds() []string { return kindNames(fromHostKinds) }

func kindNames(kinds []syncKind) []string {
	names := make([]string, 0, len(kinds))
	for _, k := range kinds {
		names = append(names, k.name)
	}
	slices.Sort(names)
	return names
}

func findKind(kinds []syncKind, name string) (syncKind, bool) {
	i := slices.IndexFunc(kinds, func(k syncKind) bool { return k.name == name })
	if i < 0 {
		return syncKind{}, false
	}
	return kinds[i], true
}

// ToHostEnabled reports whether kind is synced to the host, falling back to
// the kind's default when the map has no entry.
func (s Sync) ToHostEnabled(kind string) bool {
	if entry, ok := s.ToHost[kind]; ok && entry.Enabled != nil {
		return *entry.Enabled
	}
	k, _ := findKind(toHostKinds, kind)
	return k.enabledByDefault
}

// FromHostEnabled reports whether kind is synced from the host, falling back
// to the kind's default when the map has no entry.
func (s Sync) FromHostEnabled(kind string) bool {
	if entry, ok := s.FromHost[kind]; ok && entry.Enabled != nil {
		return *entry.Enabled
	}
	k, _ := findKind(fromHostKinds, kind)
	return k.enabledByDefault
}

// knownControllers maps the controller names nest.yaml accepts to the
// canonical kube-controller-manager names. Only controllers that work
// without real nodes or volumes are listed: node, volume and taint-eviction
// controllers belong to the host.
var knownControllers = map[string]string{
	"namespace":                           "namespace-controller",
	"serviceaccount":                      "serviceaccount-controller",
	"serviceaccount-token":                "serviceaccount-token-controller",
	"garbage-collector":                   "garbage-collector-controller",
	"deployment":                          "deployment-controller",
	"replicaset":                          "replicaset-controller",
	"statefulset":                         "statefulset-controller",
	"daemonset":                           "daemonset-controller",
	"job":                                 "job-controller",
	"cronjob":                             "cronjob-controller",
	"endpoints":                           "endpoints-controller",
	"endpointslice":                       "endpointslice-controller",
	"endpointslice-mirroring":             "endpointslice-mirroring-controller",
	"resourcequota":                       "resourcequota-controller",
	"ttl-after-finished":                  "ttl-after-finished-controller",
	"pod-garbage-collector":               "pod-garbage-collector-controller",
	"csrsigning":                          "certificatesigningrequest-signing-controller",
	"csrapproving":                        "certificatesigningrequest-approving-controller",
	"csrcleaner":                          "certificatesigningrequest-cleaner-controller",
	"clusterrole-aggregation":             "clusterrole-aggregation-controller",
	"root-ca-certificate-publisher":       "root-ca-certificate-publisher-controller",
	"horizontal-pod-autoscaler":           "horizontal-pod-autoscaler-controller",
	"disruption":                          "disruption-controller",
	"replicationcontroller":               "replicationcontroller-controller",
	"ephemeral-volume":                    "ephemeral-volume-controller",
	"pvc-protection":                      "persistentvolumeclaim-protection-controller",
	"legacy-serviceaccount-token-cleaner": "legacy-serviceaccount-token-cleaner-controller",
	"validatingadmissionpolicy-status":    "validatingadmissionpolicy-status-controller",
	"storageversion-garbage-collector":    "storageversion-garbage-collector-controller",
}

// allControllers is the wildcard in controlPlane.controllers.enabled.
const allControllers = "*"

// KnownControllers returns the controller names controlPlane.controllers
// accepts, sorted.
func KnownControllers() []string {
	names := make([]string, 0, len(knownControllers))
	for name := range knownControllers {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// KubeControllerManagerName returns the canonical kube-controller-manager
// name of a controller from KnownControllers.
func KubeControllerManagerName(name string) (string, bool) {
	kcmName, ok := knownControllers[name]
	return kcmName, ok
}

// Resolve returns the sorted names of the controllers to run. Like
// kube-controller-manager, an explicit "name" or "-name" wins over "*".
// Unknown names are ignored: Validate reports them.
func (c Controllers) Resolve() []string {
	wildcard := slices.Contains(c.Enabled, allControllers)
	var names []string
	for _, name := range KnownControllers() {
		switch {
		case slices.Contains(c.Enabled, "-"+name):
		case slices.Contains(c.Enabled, name), wildcard:
			names = append(names, name)
		}
	}
	return names
}

// KubeControllerManagerNames returns the canonical kube-controller-manager
// names of Resolve, for its --controllers flag. The list is explicit because
// kube-controller-manager's own "*" would also start node and volume controllers.
func (c Controllers) KubeControllerManagerNames() []string {
	resolved := c.Resolve()
	names := make([]string, 0, len(resolved))
	for _, name := range resolved {
		names = append(names, knownControllers[name])
	}
	return names
}

// builtInGroups are API groups served by kube-apiserver itself; syncing them
// as custom resources would clash with the syncer's own handling.
var builtInGroups = []string{
	"", "core", "apps", "batch", "autoscaling", "policy", "extensions",
	"admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io",
	"authentication.k8s.io", "authorization.k8s.io", "certificates.k8s.io",
	"coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
	"flowcontrol.apiserver.k8s.io", "internal.apiserver.k8s.io", "networking.k8s.io",
	"node.k8s.io", "rbac.authorization.k8s.io", "resource.k8s.io",
	"scheduling.k8s.io", "storage.k8s.io", "storagemigration.k8s.io",
}

func isBuiltInGroup(group string) bool {
	return slices.Contains(builtInGroups, strings.ToLower(group))
}
