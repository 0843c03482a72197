package config

import (
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Default returns the configuration an empty nest.yaml means.
func Default() *Config {
	c := &Config{}
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every unset field with its default (see DefaultsTable)
// and normalizes empty collections, so that a defaulted config survives a
// marshal/parse round trip unchanged. It leaves invalid values for Validate.
func (c *Config) ApplyDefaults() {
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	if c.KubernetesVersion == "" {
		c.KubernetesVersion = SupportedKubernetesVersion
	}
	// datastore.endpoint stays "": the empty endpoint is the embedded SQLite default.
	if len(c.ControlPlane.APIServer.ExtraArgs) == 0 {
		c.ControlPlane.APIServer.ExtraArgs = nil
	}
	if c.ControlPlane.Controllers.Enabled == nil {
		c.ControlPlane.Controllers.Enabled = []string{allControllers}
	}
	c.Sync.applyDefaults()
	if c.Isolation.PodSecurity == "" {
		c.Isolation.PodSecurity = PodSecurityBaseline
	}
	// isolation: every relaxation defaults to false (the zero value).
}

func (s *Sync) applyDefaults() {
	if s.ToHost == nil {
		s.ToHost = make(map[string]ToHostSync)
	}
	for _, k := range toHostKinds {
		if _, ok := s.ToHost[k.name]; !ok {
			s.ToHost[k.name] = ToHostSync{}
		}
	}
	for name, entry := range s.ToHost {
		kind, _ := findKind(toHostKinds, name)
		if entry.Enabled == nil {
			entry.Enabled = ptrTo(kind.enabledByDefault)
		}
		entry.Selector = normalizeSelector(entry.Selector)
		s.ToHost[name] = entry
	}

	if s.FromHost == nil {
		s.FromHost = make(map[string]FromHostSync)
	}
	for _, k := range fromHostKinds {
		if _, ok := s.FromHost[k.name]; !ok {
			s.FromHost[k.name] = FromHostSync{}
		}
	}
	for name, entry := range s.FromHost {
		kind, _ := findKind(fromHostKinds, name)
		if entry.Enabled == nil {
			entry.Enabled = ptrTo(kind.enabledByDefault)
		}
		// Fake by default: real node data needs a read grant on the host's
		// nodes, and a cluster's default host access stays in its namespace.
		if name == nodesKind && entry.Mode == "" {
			entry.Mode = NodeModeFake
		}
		entry.Selector = normalizeSelector(entry.Selector)
		s.FromHost[name] = entry
	}

	if len(s.CustomResources) == 0 {
		s.CustomResources = nil
	}
	if len(s.ServiceMappings.FromHost) == 0 {
		s.ServiceMappings.FromHost = nil
	}
	if len(s.ServiceMappings.ToHost) == 0 {
		s.ServiceMappings.ToHost = nil
	}
}

// normalizeSelector turns empty lists into nil, and an empty selector
// (which matches everything, like no selector) into nil.
func normalizeSelector(sel *metav1.LabelSelector) *metav1.LabelSelector {
	if sel == nil {
		return nil
	}
	if len(sel.MatchLabels) == 0 {
		sel.MatchLabels = nil
	}
	if len(sel.MatchExpressions) == 0 {
		sel.MatchExpressions = nil
	}
	for i := range sel.MatchExpressions {
		if len(sel.MatchExpressions[i].Values) == 0 {
			sel.MatchExpressions[i].Values = nil
		}
	}
	if sel.MatchLabels == nil && sel.MatchExpressions == nil {
		return nil
	}
	return sel
}

func ptrTo[T any](v T) *T { return &v }

// DefaultEntry documents one default, for generated docs.
type DefaultEntry struct {
	Field   string // dotted path in nest.yaml
	Default string // the default as a YAML/JSON literal
	Meaning string
}

// DefaultsTable lists every default ApplyDefaults sets, in file order.
func DefaultsTable() []DefaultEntry {
	table := []DefaultEntry{
		{"apiVersion", strconv.Quote(APIVersion), "the only supported apiVersion"},
		{"kind", strconv.Quote(Kind), "the only supported kind"},
		{"kubernetesVersion", strconv.Quote(SupportedKubernetesVersion), "the only supported Kubernetes version"},
		{"datastore.endpoint", `""`, "embedded SQLite in the virtual cluster's data directory"},
		{"controlPlane.apiServer.extraArgs", "{}", "no extra kube-apiserver flags"},
		{"controlPlane.controllers.enabled", `["*"]`, "run every controller in KnownControllers; [] runs none"},
		{"controlPlane.certificates.validity", `""`, "leaf certificates (serving, clients) live one year (8760h) and are renewed at two thirds of it; the CA lives 10 years"},
		{"controlPlane.scheduler.enabled", "false", "the host's scheduler places the host copies (true: a kube-scheduler in the control plane binds pods to the virtual nodes, with the cluster's priorities and preemption, and the host copies go to the host nodes those stand for; needs sync.fromHost.nodes.all: true)"},
	}
	for _, k := range toHostKinds {
		table = append(table, DefaultEntry{
			Field:   "sync.toHost." + k.name + ".enabled",
			Default: fmt.Sprint(k.enabledByDefault),
			Meaning: "copy " + k.name + " from the virtual cluster to the host",
		})
	}
	for _, k := range fromHostKinds {
		table = append(table, DefaultEntry{
			Field:   "sync.fromHost." + k.name + ".enabled",
			Default: fmt.Sprint(k.enabledByDefault),
			Meaning: "copy " + k.name + " from the host into the virtual cluster",
		})
	}
	return append(table,
		DefaultEntry{"sync.fromHost.nodes.mode", strconv.Quote(string(NodeModeFake)), "fake: generated, anonymised nodes (real: the host node's own data, read through a cluster-scoped grant on host nodes)"},
		DefaultEntry{"sync.fromHost.nodes.all", "false", "show only the host nodes that run the cluster's pods (true: every host node matching sync.fromHost.nodes.selector, or all of them without one; reads the host's nodes through a cluster-scoped grant)"},
		DefaultEntry{"sync.*.*.selector", "null", "sync all objects of the kind"},
		DefaultEntry{"sync.customResources", "[]", "sync no custom resources"},
		DefaultEntry{"sync.serviceMappings.fromHost", "[]", "show no host services in the virtual cluster"},
		DefaultEntry{"sync.serviceMappings.toHost", "[]", "expose no virtual services on the host"},
		DefaultEntry{"isolation.podSecurity", strconv.Quote(string(PodSecurityBaseline)), "Pod Security Standards level a pod must meet to reach the host (privileged, baseline, restricted)"},
		DefaultEntry{"isolation.allowHostPath", "false", "true lifts the hostPath volume check"},
		DefaultEntry{"isolation.allowHostNetwork", "false", "true lifts the host network, PID and IPC check"},
		DefaultEntry{"isolation.allowHostPorts", "false", "true lifts the host ports check (containers' `hostPort`s), for tenants that run node-level listeners"},
		DefaultEntry{"isolation.allowPrivileged", "false", "true lifts the privileged container check"},
	)
}
