package operator

import (
	"encoding/json"
	"fmt"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// clusterConfig turns a spec into the cluster's nest.yaml: spec.config,
// decoded strictly and defaulted by pkg/config, with the spec's own
// kubernetesVersion, datastore and isolation, validated.
func clusterConfig(spec v1alpha1.VirtualClusterSpec) (*config.Config, error) {
	var data []byte
	if spec.Config != nil {
		var err error
		if data, err = json.Marshal(spec.Config); err != nil {
			return nil, fmt.Errorf("spec.config: %w", err)
		}
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("spec.config: %w", err)
	}
	if spec.KubernetesVersion != "" {
		cfg.KubernetesVersion = spec.KubernetesVersion
	}
	if spec.Datastore != nil {
		cfg.Datastore.Endpoint = spec.Datastore.Endpoint
	}
	if i := spec.Isolation; i != nil {
		cfg.Isolation = config.Isolation{
			PodSecurity:      config.PodSecurityLevel(i.PodSecurity),
			AllowHostPath:    i.AllowHostPath,
			AllowHostNetwork: i.AllowHostNetwork,
			AllowPrivileged:  i.AllowPrivileged,
			AllowHostPorts:   i.AllowHostPorts,
		}
		if cfg.Isolation.PodSecurity == "" {
			cfg.Isolation.PodSecurity = config.PodSecurityBaseline
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid spec (spec.config with spec.kubernetesVersion, spec.datastore and spec.isolation): %w", err)
	}
	return cfg, nil
}
