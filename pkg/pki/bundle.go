// Package pki creates and maintains the certificates and keys of one
// Kubernetes control plane (kube-apiserver, controller-manager, scheduler,
// clients) in a directory, using only Go crypto.
//
// Layout (kubeadm-like names, all in one directory):
//
//	ca.crt, ca.key                             cluster CA (10 years)
//	apiserver.crt, apiserver.key               kube-apiserver serving cert
//	front-proxy-ca.crt, front-proxy-ca.key     request-header (aggregation) CA
//	front-proxy-client.crt, .key               client cert of the aggregator
//	sa.key, sa.pub                             service-account token signing pair
//	admin.crt, admin.key                       CN=nest-admin, O=system:masters
//	<name>.crt, <name>.key                     one per ClientCert in Options
//
// Key choices: every new key is ECDSA P-256, certificate keys and the
// service-account signing key alike (tokens are then signed ES256, which
// kube-apiserver and kube-controller-manager sign and verify like RS256 and
// publish in the issuer's JWKS). Generating one takes a fraction of a
// millisecond; an RSA 2048 key took tens to hundreds of milliseconds of a
// cluster's create. Keys on disk are never replaced, whatever their type:
// bundles made before (RSA 2048 service-account keys, or any RSA key put
// there by hand) keep working, and a renewal or forced rotation re-issues a
// certificate with the key it had, so a key never changes type.
package pki

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"time"
)

// Validity periods of issued certificates. A leaf cert is renewed once two
// thirds of its lifetime have passed (RenewAt), four months before expiry
// for the default.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
	// MinLeafValidity is the shortest lifetime Options.Validity accepts.
	MinLeafValidity = time.Minute
)

// Subject of the admin client certificate.
const (
	AdminCommonName   = "nest-admin"
	AdminOrganization = "system:masters"
)

// ClientCert describes one component client certificate to issue from the
// cluster CA. Name is the file base name (Name.crt, Name.key).
type ClientCert struct {
	Name          string
	CommonName    string
	Organizations []string
}

// DefaultClientCerts are the client certs a control plane needs besides admin.
func DefaultClientCerts() []ClientCert {
	return []ClientCert{
		{Name: "kube-controller-manager", CommonName: "system:kube-controller-manager"},
		{Name: "kube-scheduler", CommonName: "system:kube-scheduler"},
		{Name: "apiserver-kubelet-client", CommonName: "kube-apiserver-kubelet-client", Organizations: []string{"system:masters"}},
	}
}

// Options says what Ensure must guarantee to exist.
type Options struct {
	// ServiceIP is the first IP of the service CIDR (the "kubernetes"
	// service). Defaults to 10.96.0.1.
	ServiceIP net.IP
	// ClusterDomain defaults to cluster.local.
	ClusterDomain string
	// ExtraIPs and ExtraDNSNames are added to the apiserver serving cert on
	// top of the defaults (127.0.0.1, ServiceIP, localhost, kubernetes...).
	ExtraIPs      []net.IP
	ExtraDNSNames []string
	// ClientCerts are issued from the cluster CA in addition to admin.
	ClientCerts []ClientCert
	// Validity is the lifetime of newly issued leaf certs; 0 is
	// LeafValidity. A leaf cert valid for longer than this is re-issued.
	Validity time.Duration
	// Force re-issues every leaf cert (with its existing key) even when it
	// is still valid: a forced rotation. CAs are kept.
	Force bool
}

func (o Options) validity() time.Duration {
	if o.Validity == 0 {
		return LeafValidity
	}
	return o.Validity
}

// APIServerSANs returns the IPs and DNS names the serving cert must cover.
func (o Options) APIServerSANs() ([]net.IP, []string) {
	serviceIP := o.ServiceIP
	if serviceIP == nil {
		serviceIP = net.IPv4(10, 96, 0, 1)
	}
	domain := o.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	ips := dedupIPs(append([]net.IP{net.IPv4(127, 0, 0, 1), serviceIP}, o.ExtraIPs...))
	dns := dedupStrings(append([]string{
		"localhost",
		"kubernetes",
		"kubernetes.default",
		"kubernetes.default.svc",
		"kubernetes.default.svc." + domain,
	}, o.ExtraDNSNames...))
	return ips, dns
}

// validClientName keeps client cert names usable as plain file names.
var validClientName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

// isReservedName reports base names already used by the fixed files.
func isReservedName(name string) bool {
	switch name {
	case "ca", "apiserver", "front-proxy-ca", "front-proxy-client", "sa", "admin":
		return true
	}
	return false
}

func (o Options) validate() error {
	seen := map[string]bool{}
	for _, c := range o.ClientCerts {
		switch {
		case !validClientName.MatchString(c.Name):
			return fmt.Errorf("client cert name %q: must be lower-case letters, digits, '.' or '-'", c.Name)
		case isReservedName(c.Name):
			return fmt.Errorf("client cert name %q is reserved for a built-in file", c.Name)
		case seen[c.Name]:
			return fmt.Errorf("client cert name %q listed twice", c.Name)
		case c.CommonName == "":
			return fmt.Errorf("client cert %q: CommonName is required", c.Name)
		}
		seen[c.Name] = true
	}
	for _, ip := range o.ExtraIPs {
		if ip == nil {
			return fmt.Errorf("extra IP SAN is nil")
		}
	}
	if o.Validity != 0 && (o.Validity < MinLeafValidity || o.Validity > CAValidity) {
		return fmt.Errorf("leaf certificate validity %s: must be between %s and %s", o.Validity, MinLeafValidity, CAValidity)
	}
	return nil
}

// Change records one file Ensure wrote, and why, so callers can log it.
type Change struct {
	Path   string
	Reason string
}

// Bundle is the PKI of one cluster in Dir.
type Bundle struct {
	Dir string
	// ClientCertNames are the names of the component client certs (not admin).
	ClientCertNames []string
	// Changes lists the files the last Ensure (or EnsureClientCert) created
	// or re-issued; empty when everything on disk was already valid.
	Changes []Change
}

func (b *Bundle) path(name string) string { return filepath.Join(b.Dir, name) }

func (b *Bundle) CACert() string               { return b.path("ca.crt") }
func (b *Bundle) CAKey() string                { return b.path("ca.key") }
func (b *Bundle) APIServerCert() string        { return b.path("apiserver.crt") }
func (b *Bundle) APIServerKey() string         { return b.path("apiserver.key") }
func (b *Bundle) FrontProxyCACert() string     { return b.path("front-proxy-ca.crt") }
func (b *Bundle) FrontProxyCAKey() string      { return b.path("front-proxy-ca.key") }
func (b *Bundle) FrontProxyClientCert() string { return b.path("front-proxy-client.crt") }
func (b *Bundle) FrontProxyClientKey() string  { return b.path("front-proxy-client.key") }

// ServiceAccountKey is the PEM private key (ECDSA P-256; RSA in bundles made
// before) that signs service-account tokens
// (--service-account-signing-key-file).
func (b *Bundle) ServiceAccountKey() string { return b.path("sa.key") }

// ServiceAccountPub is the PEM public key that verifies them
// (--service-account-key-file).
func (b *Bundle) ServiceAccountPub() string { return b.path("sa.pub") }

func (b *Bundle) AdminCert() string { return b.path("admin.crt") }
func (b *Bundle) AdminKey() string  { return b.path("admin.key") }

// ClientCert and ClientKey are the files of a component client cert.
func (b *Bundle) ClientCert(name string) string { return b.path(name + ".crt") }
func (b *Bundle) ClientKey(name string) string  { return b.path(name + ".key") }

// CertPaths lists every certificate of the bundle, CAs first.
func (b *Bundle) CertPaths() []string {
	paths := []string{
		b.CACert(), b.FrontProxyCACert(),
		b.APIServerCert(), b.FrontProxyClientCert(), b.AdminCert(),
	}
	for _, name := range b.ClientCertNames {
		paths = append(paths, b.ClientCert(name))
	}
	return paths
}

// Changed reports whether the last Ensure wrote anything.
func (b *Bundle) Changed() bool { return len(b.Changes) > 0 }

func dedupIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		if !containsIP(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

func dedupStrings(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func containsIP(ips []net.IP, ip net.IP) bool {
	for _, have := range ips {
		if have.Equal(ip) {
			return true
		}
	}
	return false
}
