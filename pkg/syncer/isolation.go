package syncer

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"
	psapolicy "k8s.io/pod-security-admission/policy"

	"github.com/nestcluster/nest/pkg/config"
)

// Pod Security Standards checks that the isolation settings lift (the IDs
// of k8s.io/pod-security-admission/policy).
const (
	checkHostPath       psapolicy.CheckID = "hostPathVolumes"
	checkHostNamespaces psapolicy.CheckID = "hostNamespaces"
	checkPrivileged     psapolicy.CheckID = "privileged"
	checkHostPorts      psapolicy.CheckID = "hostPorts"
)

// isolationPolicy decides which virtual pods may be copied to the host: the
// upstream Pod Security Standards checks at the configured level (the same
// code the Pod Security admission plugin runs), minus the checks that the
// configuration lifts.
type isolationPolicy struct {
	level     psaapi.LevelVersion
	evaluator psapolicy.Evaluator
	hostPath  bool // isolation.allowHostPath
}

// allowsHostPath reports whether the policy lets pods use host paths:
// always at privileged, with isolation.allowHostPath at baseline (never at
// restricted, whose volume-type check forbids them as well).
func (p *isolationPolicy) allowsHostPath() bool {
	return p.level.Level == psaapi.LevelPrivileged || p.hostPath && p.level.Level == psaapi.LevelBaseline
}

func newIsolationPolicy(cfg config.Isolation) (*isolationPolicy, error) {
	if cfg.PodSecurity == "" {
		cfg.PodSecurity = config.PodSecurityBaseline
	}
	level, err := psaapi.ParseLevel(string(cfg.PodSecurity))
	if err != nil {
		return nil, fmt.Errorf("isolation.podSecurity %q: %w", cfg.PodSecurity, err)
	}
	lifted := map[psapolicy.CheckID]bool{
		checkHostPath:       cfg.AllowHostPath,
		checkHostNamespaces: cfg.AllowHostNetwork,
		checkPrivileged:     cfg.AllowPrivileged,
		checkHostPorts:      cfg.AllowHostPorts,
	}
	var checks []psapolicy.Check
	for _, c := range psapolicy.DefaultChecks() {
		if !lifted[c.ID] {
			checks = append(checks, c)
		}
	}
	evaluator, err := psapolicy.NewEvaluator(checks)
	if err != nil {
		return nil, fmt.Errorf("pod security checks: %w", err)
	}
	return &isolationPolicy{level: psaapi.LevelVersion{Level: level, Version: psaapi.LatestVersion()}, evaluator: evaluator, hostPath: cfg.AllowHostPath}, nil
}

// violation says why a pod may not run on the host, or "".
func (p *isolationPolicy) violation(pod *corev1.Pod) string {
	result := psapolicy.AggregateCheckResults(p.evaluator.EvaluatePod(p.level, &pod.ObjectMeta, &pod.Spec))
	if result.Allowed {
		return ""
	}
	return fmt.Sprintf("violates this virtual cluster's isolation policy (pod security %q): %s", p.level.Level, result.ForbiddenDetail())
}
