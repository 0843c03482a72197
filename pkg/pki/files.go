package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/nestcluster/nest/pkg/fsutil"
	"io/fs"
	"os"

	"k8s.io/client-go/util/keyutil"
)

const (
	certMode fs.FileMode = 0o644
	keyMode  fs.FileMode = 0o600
	dirMode  fs.FileMode = 0o700
)

// CorruptFileError is returned when a PKI file exists but cannot be parsed.
// Ensure never overwrites such a file: it may be the only copy of a key.
type CorruptFileError struct {
	Path string
	Err  error
}

func (e *CorruptFileError) Error() string {
	return fmt.Sprintf("%s is corrupt (%v): restore it from a backup, or delete it so nest creates a new one "+
		"(a new key invalidates every cert, kubeconfig or token that depends on it)", e.Path, e.Err)
}

func (e *CorruptFileError) Unwrap() error { return e.Err }

// readCert loads a PEM certificate; a missing file returns (nil, nil).
func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cert %s: %w", path, err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, &CorruptFileError{Path: path, Err: errors.New("no PEM block found")}
	}
	if block.Type != "CERTIFICATE" {
		return nil, &CorruptFileError{Path: path, Err: fmt.Errorf("PEM block is %q, want CERTIFICATE", block.Type)}
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, &CorruptFileError{Path: path, Err: err}
	}
	return cert, nil
}

// readKey loads a PEM private key; a missing file returns (nil, nil).
func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	parsed, err := keyutil.ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, &CorruptFileError{Path: path, Err: err}
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, &CorruptFileError{Path: path, Err: fmt.Errorf("unsupported key type %T", parsed)}
	}
	return signer, nil
}

// readPublicKey loads the first PEM public key; a missing file returns (nil, nil).
func readPublicKey(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read public key %s: %w", path, err)
	}
	keys, err := keyutil.ParsePublicKeysPEM(data)
	if err != nil {
		return nil, &CorruptFileError{Path: path, Err: err}
	}
	return keys[0], nil
}

func encodeCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

func writeCert(path string, cert *x509.Certificate) error {
	if err := fsutil.WriteFileAtomic(path, encodeCert(cert), certMode); err != nil {
		return fmt.Errorf("write cert %s: %w", path, err)
	}
	return nil
}

func writeKey(path string, key crypto.Signer) error {
	data, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("encode key %s: %w", path, err)
	}
	if err := fsutil.WriteFileAtomic(path, data, keyMode); err != nil {
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return nil
}

func writePublicKey(path string, pub crypto.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("encode public key %s: %w", path, err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := fsutil.WriteFileAtomic(path, data, certMode); err != nil {
		return fmt.Errorf("write public key %s: %w", path, err)
	}
	return nil
}
