package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

// clockSkew backdates NotBefore so hosts with slightly different clocks
// accept a freshly issued cert.
const clockSkew = 5 * time.Minute

// authority is a loaded CA able to sign leaf certs.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// leafSpec is what a leaf cert must contain to be considered valid.
type leafSpec struct {
	commonName    string
	organizations []string
	usage         x509.ExtKeyUsage
	ips           []net.IP
	dnsNames      []string
}

// newKey makes every new key of a bundle: CAs, leaves and the
// service-account signing key alike are ECDSA P-256 (a fraction of a
// millisecond, where an RSA 2048 key takes tens to hundreds). Keys found on
// disk are kept whatever their type (see Ensure).
func newKey() (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	return key, nil
}

func newSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	// Serial 0 is rejected by some verifiers.
	return serial.Add(serial, big.NewInt(1)), nil
}

func newCA(key crypto.Signer, commonName string, now time.Time) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew).UTC(),
		NotAfter:              now.Add(CAValidity).UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return createCert(tmpl, tmpl, key.Public(), key)
}

func (ca *authority) issue(key crypto.Signer, spec leafSpec, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	// A leaf must not outlive its CA, or verifiers reject it early anyway.
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	usage := x509.KeyUsageDigitalSignature
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.commonName, Organization: spec.organizations},
		NotBefore:             now.Add(-clockSkew).UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{spec.usage},
		BasicConstraintsValid: true,
		IPAddresses:           spec.ips,
		DNSNames:              spec.dnsNames,
	}
	return createCert(tmpl, ca.cert, key.Public(), ca.key)
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return cert, nil
}

// publicKeysEqual compares keys of any standard type.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// RenewAt is when a leaf certificate is due for renewal: once two thirds
// of its lifetime (from issue, not counting the clock-skew backdating of
// NotBefore, to NotAfter) have passed.
func RenewAt(cert *x509.Certificate) time.Time {
	issued := cert.NotBefore.Add(clockSkew)
	if issued.After(cert.NotAfter) {
		issued = cert.NotBefore
	}
	return issued.Add(cert.NotAfter.Sub(issued) * 2 / 3)
}

// staleReason explains why an existing leaf cert must be re-issued, or
// returns "" when it can be kept. validity is the lifetime a new cert gets.
func staleReason(cert *x509.Certificate, key crypto.Signer, ca *authority, spec leafSpec, now time.Time, validity time.Duration) string {
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return "cert does not match its key"
	}
	if !now.Before(RenewAt(cert)) {
		return fmt.Sprintf("two thirds of its lifetime passed (renewal due %s, expires %s)",
			RenewAt(cert).UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	if lifetime := cert.NotAfter.Sub(cert.NotBefore.Add(clockSkew)); lifetime > validity+time.Minute {
		return fmt.Sprintf("valid for %s, longer than the configured %s", lifetime.Round(time.Second), validity)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{spec.usage},
	})
	if err != nil {
		return fmt.Sprintf("not valid under CA %q: %v", ca.cert.Subject.CommonName, err)
	}
	if cert.Subject.CommonName != spec.commonName || !sameSet(cert.Subject.Organization, spec.organizations) {
		return fmt.Sprintf("subject %q differs from wanted CN=%s O=%v", cert.Subject.String(), spec.commonName, spec.organizations)
	}
	if missing := missingSANs(cert, spec); len(missing) > 0 {
		return fmt.Sprintf("missing SANs %v", missing)
	}
	return ""
}

func missingSANs(cert *x509.Certificate, spec leafSpec) []string {
	var missing []string
	for _, ip := range spec.ips {
		if !containsIP(cert.IPAddresses, ip) {
			missing = append(missing, ip.String())
		}
	}
	for _, name := range spec.dnsNames {
		if cert.VerifyHostname(name) != nil {
			missing = append(missing, name)
		}
	}
	return missing
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
		if count[s] < 0 {
			return false
		}
	}
	return true
}
