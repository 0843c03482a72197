package controlplane

import (
	"maps"
	"strings"

	"github.com/nestcluster/nest/pkg/pki"
)

// apiServerTuning returns the virtual apiserver's settings that differ from
// the host's, merged with the user's extraArgs (which win). Each knob and its
// measured effect is in docs/controlplane.md.
func apiServerTuning(extra map[string]string) map[string]string {
	tuning := map[string]string{
		// One tenant, one apiserver: no need for API priority and fairness
		// with its dozens of bootstrap objects and per-request accounting;
		// max-in-flight limits protect the process instead.
		"enable-priority-and-fairness":   "false",
		"max-requests-inflight":          "400",
		"max-mutating-requests-inflight": "200",
		"event-ttl":                      "1h",
		// Streaming watch-lists ask the watch cache to prove it is fresh
		// through datastore progress notifications; kine answers those only
		// when every watch on a stream is idle, so under write load watches
		// failed with "Too large resource version". Clients fall back to
		// list+watch, as against any apiserver without the feature.
		"feature-gates": "WatchList=false",
		// The datastore-size metric polls etcd's Status; kine on SQLite
		// cannot answer it (no dbstat table) and the client logged a
		// retried failure every few seconds. Nothing else uses it here.
		"etcd-db-metric-poll-interval": "0s",
	}
	maps.Copy(tuning, extra)
	return tuning
}

// controllerManagerFlags runs the given controllers with the controller
// manager's own identity and no serving port (nothing scrapes it inside a
// virtual cluster). Upstream gives each controller a service account
// instead; in-process, next to an apiserver holding the CA key, that adds no
// isolation and costs a service account, a token request and a client per
// controller on every start (measured in docs/controlplane.md).
func controllerManagerFlags(layout Layout, b *pki.Bundle, controllers []string) []string {
	return []string{
		"--kubeconfig=" + layout.ControllerManagerKubeconfig(),
		"--controllers=" + strings.Join(controllers, ","),
		"--secure-port=0",
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--cluster-signing-cert-file=" + b.CACert(),
		"--cluster-signing-key-file=" + b.CAKey(),
		"--root-ca-file=" + b.CACert(),
		"--service-account-private-key-file=" + b.ServiceAccountKey(),
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--profiling=false",
	}
}

// schedulerFlags run the virtual scheduler with its upstream identity
// (system:kube-scheduler, bound by the apiserver's bootstrap RBAC to the
// system:kube-scheduler and system:volume-scheduler roles), no serving port
// and no leader election: one control-plane process per cluster, which the
// state directory's lock guarantees.
func schedulerFlags(layout Layout) []string {
	return []string{
		"--kubeconfig=" + layout.SchedulerKubeconfig(),
		"--secure-port=0",
		"--leader-elect=false",
		"--profiling=false",
	}
}
