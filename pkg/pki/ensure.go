package pki

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"time"
)

// pair is a cert and its key as found on disk; nil fields are missing files.
type pair struct {
	certPath, keyPath string
	cert              *x509.Certificate
	key               crypto.Signer
}

func loadPair(certPath, keyPath string) (*pair, error) {
	p := &pair{certPath: certPath, keyPath: keyPath}
	var err error
	if p.key, err = readKey(keyPath); err != nil {
		return nil, err
	}
	if p.cert, err = readCert(certPath); err != nil {
		return nil, err
	}
	return p, nil
}

// leafJob is one leaf cert to check against the CA that must sign it.
type leafJob struct {
	ca   *authority
	p    *pair
	spec leafSpec
}

// onDisk is everything Ensure found, loaded before anything is written so a
// corrupt file aborts the run with the directory untouched.
type onDisk struct {
	ca, frontProxyCA            *pair
	apiserver, frontProxyClient *pair
	admin                       *pair
	clients                     map[string]*pair
	saKey                       crypto.Signer
	saPub                       crypto.PublicKey
}

// Ensure makes dir hold a complete, valid PKI for opts and returns it.
//
// It is idempotent: valid files are kept as they are and keys that exist are
// never regenerated. Missing files are created; a leaf cert that does not
// match its key, is not signed by the current CA, lacks a wanted SAN or
// subject, has passed two thirds of its lifetime (RenewAt) or is valid for
// longer than opts.Validity is re-issued with its existing key, as is every
// leaf with opts.Force. Keeping the key makes a renewal one atomic write of
// the cert file, so a reader never sees a cert and key that do not match.
// CAs are never rotated automatically (use ExpiresSoon to warn). Files that
// cannot be parsed cause a *CorruptFileError and nothing is written.
func Ensure(dir string, opts Options) (*Bundle, error) {
	return ensure(dir, opts, time.Now())
}

func ensure(dir string, opts Options, now time.Time) (*Bundle, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("pki options: %w", err)
	}
	b := &Bundle{Dir: dir}
	for _, c := range opts.ClientCerts {
		b.ClientCertNames = append(b.ClientCertNames, c.Name)
	}

	disk, err := b.load(opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("create PKI dir %s: %w", dir, err)
	}

	ca, err := b.ensureCA(disk.ca, "nest-ca", now)
	if err != nil {
		return nil, err
	}
	frontProxyCA, err := b.ensureCA(disk.frontProxyCA, "nest-front-proxy-ca", now)
	if err != nil {
		return nil, err
	}

	ips, dnsNames := opts.APIServerSANs()
	leaves := []leafJob{
		{ca, disk.apiserver, leafSpec{commonName: "kube-apiserver", usage: x509.ExtKeyUsageServerAuth, ips: ips, dnsNames: dnsNames}},
		{frontProxyCA, disk.frontProxyClient, leafSpec{commonName: "front-proxy-client", usage: x509.ExtKeyUsageClientAuth}},
		{ca, disk.admin, clientSpec(AdminCommonName, []string{AdminOrganization})},
	}
	for _, c := range opts.ClientCerts {
		leaves = append(leaves, leafJob{ca, disk.clients[c.Name], clientSpec(c.CommonName, c.Organizations)})
	}
	for _, l := range leaves {
		if err := b.ensureLeaf(l.ca, l.p, l.spec, now, opts.validity(), opts.Force); err != nil {
			return nil, err
		}
	}

	if err := b.ensureServiceAccountKey(disk.saKey, disk.saPub); err != nil {
		return nil, err
	}
	return b, nil
}

// EnsureClientCert issues (or keeps) one more component client cert signed
// by the bundle's existing cluster CA, with the same rules as Ensure.
func (b *Bundle) EnsureClientCert(c ClientCert) error {
	return b.ensureClientCert(c, time.Now(), LeafValidity)
}

func (b *Bundle) ensureClientCert(c ClientCert, now time.Time, validity time.Duration) error {
	if err := (Options{ClientCerts: []ClientCert{c}}).validate(); err != nil {
		return fmt.Errorf("pki client cert: %w", err)
	}
	ca, err := loadPair(b.CACert(), b.CAKey())
	if err != nil {
		return err
	}
	if ca.cert == nil || ca.key == nil {
		return fmt.Errorf("issue client cert %q: CA %s / %s missing, run Ensure first", c.Name, b.CACert(), b.CAKey())
	}
	auth, err := checkCA(ca, now)
	if err != nil {
		return err
	}
	p, err := loadPair(b.ClientCert(c.Name), b.ClientKey(c.Name))
	if err != nil {
		return err
	}
	if err := b.ensureLeaf(auth, p, clientSpec(c.CommonName, c.Organizations), now, validity, false); err != nil {
		return err
	}
	for _, name := range b.ClientCertNames {
		if name == c.Name {
			return nil
		}
	}
	b.ClientCertNames = append(b.ClientCertNames, c.Name)
	return nil
}

func clientSpec(commonName string, orgs []string) leafSpec {
	return leafSpec{commonName: commonName, organizations: orgs, usage: x509.ExtKeyUsageClientAuth}
}

func (b *Bundle) load(opts Options) (*onDisk, error) {
	d := &onDisk{clients: map[string]*pair{}}
	var err error
	pairs := []struct {
		dst               **pair
		certPath, keyPath string
	}{
		{&d.ca, b.CACert(), b.CAKey()},
		{&d.frontProxyCA, b.FrontProxyCACert(), b.FrontProxyCAKey()},
		{&d.apiserver, b.APIServerCert(), b.APIServerKey()},
		{&d.frontProxyClient, b.FrontProxyClientCert(), b.FrontProxyClientKey()},
		{&d.admin, b.AdminCert(), b.AdminKey()},
	}
	for _, p := range pairs {
		if *p.dst, err = loadPair(p.certPath, p.keyPath); err != nil {
			return nil, err
		}
	}
	for _, c := range opts.ClientCerts {
		if d.clients[c.Name], err = loadPair(b.ClientCert(c.Name), b.ClientKey(c.Name)); err != nil {
			return nil, err
		}
	}
	if d.saKey, err = readKey(b.ServiceAccountKey()); err != nil {
		return nil, err
	}
	if d.saPub, err = readPublicKey(b.ServiceAccountPub()); err != nil {
		return nil, err
	}
	return d, nil
}

func (b *Bundle) record(path, reason string) {
	b.Changes = append(b.Changes, Change{Path: path, Reason: reason})
}

func (b *Bundle) ensureCA(p *pair, commonName string, now time.Time) (*authority, error) {
	switch {
	case p.cert != nil && p.key == nil:
		// Without the key nothing can be signed; a new key would orphan
		// every cert the old CA issued, so that is the operator's call.
		return nil, fmt.Errorf("CA cert %s exists but its key %s is missing: restore the key, "+
			"or delete %s to create a new CA (all certs it signed will then be re-issued)", p.certPath, p.keyPath, p.certPath)
	case p.key == nil:
		key, err := newKey()
		if err != nil {
			return nil, err
		}
		if err := writeKey(p.keyPath, key); err != nil {
			return nil, err
		}
		b.record(p.keyPath, "created")
		p.key = key
		fallthrough
	case p.cert == nil:
		cert, err := newCA(p.key, commonName, now)
		if err != nil {
			return nil, err
		}
		if err := writeCert(p.certPath, cert); err != nil {
			return nil, err
		}
		b.record(p.certPath, "created")
		p.cert = cert
	}
	return checkCA(p, now)
}

func checkCA(p *pair, now time.Time) (*authority, error) {
	if !publicKeysEqual(p.cert.PublicKey, p.key.Public()) {
		return nil, fmt.Errorf("CA cert %s does not match key %s: restore the matching pair, "+
			"or delete both to create a new CA", p.certPath, p.keyPath)
	}
	if !p.cert.IsCA {
		return nil, fmt.Errorf("CA cert %s is not a CA certificate (basicConstraints CA:FALSE)", p.certPath)
	}
	if now.After(p.cert.NotAfter) {
		return nil, fmt.Errorf("CA cert %s expired on %s: rotate the CA (delete %s and %s to create a new one)",
			p.certPath, p.cert.NotAfter.UTC().Format(time.RFC3339), p.certPath, p.keyPath)
	}
	return &authority{cert: p.cert, key: p.key}, nil
}

func (b *Bundle) ensureLeaf(ca *authority, p *pair, spec leafSpec, now time.Time, validity time.Duration, force bool) error {
	var reason string
	switch {
	case p.key == nil:
		key, err := newKey()
		if err != nil {
			return err
		}
		if err := writeKey(p.keyPath, key); err != nil {
			return err
		}
		b.record(p.keyPath, "created")
		p.key = key
		reason = "created"
	case p.cert == nil:
		reason = "created"
	case force:
		reason = "forced rotation"
		// Keep names added by an earlier start with other SANs.
		spec.ips = dedupIPs(append(spec.ips, p.cert.IPAddresses...))
		spec.dnsNames = dedupStrings(append(spec.dnsNames, p.cert.DNSNames...))
	default:
		reason = staleReason(p.cert, p.key, ca, spec, now, validity)
	}
	if reason == "" {
		return nil
	}
	cert, err := ca.issue(p.key, spec, now, validity)
	if err != nil {
		return fmt.Errorf("issue %s: %w", p.certPath, err)
	}
	if err := writeCert(p.certPath, cert); err != nil {
		return err
	}
	b.record(p.certPath, reason)
	return nil
}

func (b *Bundle) ensureServiceAccountKey(key crypto.Signer, pub crypto.PublicKey) error {
	if key == nil {
		var err error
		if key, err = newKey(); err != nil {
			return err
		}
		if err := writeKey(b.ServiceAccountKey(), key); err != nil {
			return err
		}
		b.record(b.ServiceAccountKey(), "created")
	}
	switch {
	case pub == nil:
		if err := writePublicKey(b.ServiceAccountPub(), key.Public()); err != nil {
			return err
		}
		b.record(b.ServiceAccountPub(), "created")
	case !publicKeysEqual(pub, key.Public()):
		// The private key is authoritative: tokens are signed with it.
		if err := writePublicKey(b.ServiceAccountPub(), key.Public()); err != nil {
			return err
		}
		b.record(b.ServiceAccountPub(), "did not match "+b.ServiceAccountKey())
	}
	return nil
}
