package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// EnsureSelfSigned keeps a self-signed TLS serving certificate (for
// servers such as the hub, whose clients pin the certificate itself) at
// certPath and keyPath. Missing files are created; an existing key is
// kept, and its certificate re-issued when it does not match the key, has
// passed two thirds of its lifetime (see RenewAt) or lacks one of the SANs. It reports whether
// it wrote anything. Unparsable files fail with *CorruptFileError.
func EnsureSelfSigned(certPath, keyPath, commonName string, ips []net.IP, dnsNames []string) (bool, error) {
	return EnsureSelfSignedFor(certPath, keyPath, commonName, LeafValidity, ips, dnsNames)
}

// EnsureSelfSignedFor is EnsureSelfSigned with a lifetime other than
// LeafValidity for a new certificate.
func EnsureSelfSignedFor(certPath, keyPath, commonName string, validity time.Duration, ips []net.IP, dnsNames []string) (bool, error) {
	return ensureSelfSigned(certPath, keyPath, leafSpec{commonName: commonName, usage: x509.ExtKeyUsageServerAuth, ips: ips, dnsNames: dnsNames}, time.Now(), validity)
}

func ensureSelfSigned(certPath, keyPath string, spec leafSpec, now time.Time, validity time.Duration) (bool, error) {
	key, err := readKey(keyPath)
	if err != nil {
		return false, err
	}
	cert, err := readCert(certPath)
	if err != nil {
		return false, err
	}
	if key != nil && cert != nil && staleReason(cert, key, &authority{cert: cert, key: key}, spec, now, validity) == "" {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(certPath), dirMode); err != nil {
		return false, fmt.Errorf("create directory of %s: %w", certPath, err)
	}
	if key == nil {
		if key, err = newKey(); err != nil {
			return false, err
		}
		if err := writeKey(keyPath, key); err != nil {
			return false, err
		}
	}
	serial, err := newSerial()
	if err != nil {
		return false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: spec.commonName},
		NotBefore:             now.Add(-clockSkew).UTC(),
		NotAfter:              now.Add(validity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{spec.usage},
		BasicConstraintsValid: true,
		// A CA flag lets every TLS stack accept the certificate as its own
		// trust anchor (curl --cacert, Go's x509.CertPool).
		IsCA:        true,
		IPAddresses: spec.ips,
		DNSNames:    spec.dnsNames,
	}
	cert, err = createCert(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return false, err
	}
	if err := writeCert(certPath, cert); err != nil {
		return false, err
	}
	return true, nil
}
