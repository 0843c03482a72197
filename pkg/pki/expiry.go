package pki

import (
	"fmt"
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
