package lifecycle

import (
	"context"
	"fmt"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/controlplane"
	"github.com/nestcluster/nest/pkg/pki"
)

// Certificates describes the certificates of a virtual cluster (CAs
// first) with their expiry and, for leaf certificates, when they are due
// for renewal.
func (p *Provider) Certificates(ctx context.Context, name string) ([]pki.CertInfo, error) {
	r, err := p.loadRecord(name)
	if err != nil {
		return nil, err
	}
	if r.Runtime == RuntimePod {
		return p.certificatesPod(ctx, r)
	}
	certs, err := controlplane.PKI(p.layout(name)).Certificates()
	if err != nil {
		return nil, fmt.Errorf("certificates of %q: %w", name, err)
	}
	return certs, nil
}

// RotateCertificates re-issues every leaf certificate of a virtual cluster
// now (same CA, same keys) and rewrites its kubeconfigs; the CAs are kept.
// A running control plane picks the new files up without a restart (see
// controlplane's rotation); kubeconfigs merged by Connect before keep
// working until their old certificate expires: connect again to refresh
// them. It returns the files written.
func (p *Provider) RotateCertificates(ctx context.Context, name string) ([]pki.Change, error) {
	r, err := p.loadRecord(name)
	if err != nil {
		return nil, err
	}
	if r.Runtime == RuntimePod {
		return p.rotatePod(ctx, r)
	}
	layout := p.layout(name)
	opts, err := certOptions(layout)
	if err != nil {
		return nil, err
	}
	opts.Force = true
	b, err := controlplane.PrepareCerts(layout, endpoint(r.Port), opts)
	if err != nil {
		return nil, fmt.Errorf("rotate certificates of %q: %w", name, err)
	}
	p.logger.Info("Certificates rotated", "name", name, "files", len(b.Changes))
	return b.Changes, nil
}

// certOptions are the certificate options of a cluster's stored nest.yaml.
func certOptions(layout controlplane.Layout) (controlplane.CertOptions, error) {
	cfg, err := config.Load(layout.ConfigPath())
	if err != nil {
		return controlplane.CertOptions{}, fmt.Errorf("virtual cluster config: %w", err)
	}
	return controlplane.CertOptionsFor(cfg), nil
}
