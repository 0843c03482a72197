package pki

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// ExpiresSoon lists the bundle's certificates (CAs included) that expire
// within the given window from now. A missing or corrupt cert is an error.
func (b *Bundle) ExpiresSoon(within time.Duration) ([]string, error) {
	return b.expiresSoon(within, time.Now())
}

func (b *Bundle) expiresSoon(within time.Duration, now time.Time) ([]string, error) {
	deadline := now.Add(within)
	var soon []string
	for _, path := range b.CertPaths() {
		cert, err := readCert(path)
		if err != nil {
			return nil, err
		}
		if cert == nil {
			return nil, fmt.Errorf("check expiry of %s: file missing, run Ensure", path)
		}
		if cert.NotAfter.Before(deadline) {
			soon = append(soon, path)
		}
	}
	return soon, nil
}

// CertInfo describes one certificate of a bundle, for `nest certs check`.
type CertInfo struct {
	// Name is the file base name without .crt ("apiserver", "ca").
	Name      string    `json:"name"`
	Path      string    `json:"path"`
	Subject   string    `json:"subject"`
	IsCA      bool      `json:"isCA"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	// RenewAt is when a leaf is due for renewal (zero for a CA, which is
	// never rotated automatically).
	RenewAt time.Time `json:"renewAt,omitzero"`
	Serial  string    `json:"serial"`
}

// Certificates describes every certificate of the bundle, CAs first. A
// missing or corrupt cert is an error.
func (b *Bundle) Certificates() ([]CertInfo, error) {
	var infos []CertInfo
	for _, path := range b.CertPaths() {
		cert, err := readCert(path)
		if err != nil {
			return nil, err
		}
		if cert == nil {
			return nil, fmt.Errorf("read %s: file missing", path)
		}
		info := CertInfo{
			Name: strings.TrimSuffix(filepath.Base(path), ".crt"), Path: path,
			Subject: cert.Subject.String(), IsCA: cert.IsCA,
			NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, Serial: cert.SerialNumber.Text(16),
		}
		if !cert.IsCA {
			info.RenewAt = RenewAt(cert)
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// NextRenewal is the earliest RenewAt of the bundle's leaf certs: when
// Ensure will next re-issue one.
func (b *Bundle) NextRenewal() (time.Time, error) {
	infos, err := b.Certificates()
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	for _, c := range infos {
		if !c.IsCA && (next.IsZero() || c.RenewAt.Before(next)) {
			next = c.RenewAt
		}
	}
	return next, nil
}
