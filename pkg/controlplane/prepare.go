package controlplane

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/kubeconfig"
	"github.com/nestcluster/nest/pkg/pki"
)

// CertOptions say how Prepare treats the cluster's certificates.
type CertOptions struct {
	// SANs are extra IPs and DNS names of the apiserver's serving certificate.
	SANs []string
	// Validity of newly issued leaf certificates; 0 is pki.LeafValidity.
	Validity time.Duration
	// Force re-issues every leaf certificate (a forced rotation).
	Force bool
}

// CertOptionsFor are the certificate options of a cluster's nest.yaml.
func CertOptionsFor(cfg *config.Config, sans ...string) CertOptions {
	return CertOptions{SANs: sans, Validity: cfg.ControlPlane.Certificates.LeafValidity()}
}

// Prepare creates (or loads) the certificates and writes the kubeconfigs of
// a virtual cluster served at server, with default certificate options but
// the extra SANs. See PrepareCerts.
func Prepare(layout Layout, server string, sans ...string) (*pki.Bundle, error) {
	return PrepareCerts(layout, server, CertOptions{SANs: sans})
}

// PrepareCerts creates (or loads, renewing what is due: see pki.Ensure) the
// certificates and writes the kubeconfigs of a virtual cluster served at
// server. It is idempotent: the lifecycle calls it before starting the
// process so it can wait on the kubeconfig, Run calls it again so `nest
// controlplane` also works on its own, and the running control plane calls
// it whenever a certificate is due for renewal.
func PrepareCerts(layout Layout, server string, opts CertOptions) (*pki.Bundle, error) {
	for _, d := range []string{layout.Dir, layout.DataDir(), layout.RunDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	pkiOpts := pki.Options{ClientCerts: clientCerts(), Validity: opts.Validity, Force: opts.Force}
	for _, san := range opts.SANs {
		if ip := net.ParseIP(san); ip != nil {
			pkiOpts.ExtraIPs = append(pkiOpts.ExtraIPs, ip)
		} else {
			pkiOpts.ExtraDNSNames = append(pkiOpts.ExtraDNSNames, san)
		}
	}
	b, err := pki.Ensure(layout.PKIDir(), pkiOpts)
	if err != nil {
		return nil, fmt.Errorf("virtual cluster certificates: %w", err)
	}
	admin := kubeconfig.CertFiles{CA: b.CACert(), Cert: b.AdminCert(), Key: b.AdminKey()}
	// The admin kubeconfig is for people and tools: self-contained.
	if err := kubeconfig.WriteForCert(layout.AdminKubeconfig(), "nest", "admin", server, admin); err != nil {
		return nil, err
	}
	// The control plane's own long-running clients refer to the files, so
	// that they follow renewals without a restart.
	local := []struct {
		path, user string
		files      kubeconfig.CertFiles
	}{
		{layout.LocalAdminKubeconfig(), "admin", admin},
		{layout.ControllerManagerKubeconfig(), "kube-controller-manager",
			kubeconfig.CertFiles{CA: b.CACert(), Cert: b.ClientCert("kube-controller-manager"), Key: b.ClientKey("kube-controller-manager")}},
	}
	for _, f := range local {
		if err := kubeconfig.WriteForCertFiles(f.path, "nest", f.user, server, f.files); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// clientCerts are the virtual cluster's component identities. The
// in-process controller manager is in system:masters: see
// controllerManagerFlags.
func clientCerts() []pki.ClientCert {
	certs := pki.DefaultClientCerts()
	for i := range certs {
		if certs[i].Name == "kube-controller-manager" {
			certs[i].Organizations = []string{"system:masters"}
		}
	}
	return certs
}

// PKI is the certificate bundle of the cluster in layout, as PrepareCerts
// made it, without touching any file.
func PKI(layout Layout) *pki.Bundle {
	b := &pki.Bundle{Dir: layout.PKIDir()}
	for _, c := range clientCerts() {
		b.ClientCertNames = append(b.ClientCertNames, c.Name)
	}
	return b
}
