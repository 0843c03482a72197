package controlplane

import (
	"fmt"
	"net"
	"os"

	"github.com/nestcluster/nest/pkg/kubeconfig"
	"github.com/nestcluster/nest/pkg/pki"
)

// Prepare creates (or loads) the certificates and writes the kubeconfigs of
// a virtual cluster served at server. It is idempotent: the lifecycle calls
// it before starting the process so it can wait on the kubeconfig, and Run
// calls it again so `nest controlplane` also works on its own. sans are extra
// IPs and DNS names of the apiserver's serving certificate.
func Prepare(layout Layout, server string, sans ...string) (*pki.Bundle, error) {
	for _, d := range []string{layout.Dir, layout.DataDir(), layout.RunDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	opts := pki.Options{ClientCerts: clientCerts()}
	for _, san := range sans {
		if ip := net.ParseIP(san); ip != nil {
			opts.ExtraIPs = append(opts.ExtraIPs, ip)
		} else {
			opts.ExtraDNSNames = append(opts.ExtraDNSNames, san)
		}
	}
	b, err := pki.Ensure(layout.PKIDir(), opts)
	if err != nil {
		return nil, fmt.Errorf("virtual cluster certificates: %w", err)
	}
	files := []struct{ path, user, cert, key string }{
		{layout.AdminKubeconfig(), "admin", b.AdminCert(), b.AdminKey()},
		{layout.ControllerManagerKubeconfig(), "kube-controller-manager", b.ClientCert("kube-controller-manager"), b.ClientKey("kube-controller-manager")},
	}
	for _, f := range files {
		if err := kubeconfig.WriteForCert(f.path, "nest", f.user, server, kubeconfig.CertFiles{CA: b.CACert(), Cert: f.cert, Key: f.key}); err != nil {
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
