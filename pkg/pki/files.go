package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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
	if err := writeFileAtomic(path, encodeCert(cert), certMode); err != nil {
		return fmt.Errorf("write cert %s: %w", path, err)
	}
	return nil
}

func writeKey(path string, key crypto.Signer) error {
	data, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("encode key %s: %w", path, err)
	}
	if err := writeFileAtomic(path, data, keyMode); err != nil {
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
	if err := writeFileAtomic(path, data, certMode); err != nil {
		return fmt.Errorf("write public key %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic writes via a temp file in the same directory and a rename,
// so a crash never leaves a half-written key or cert behind.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Chmod is not affected by the umask, so the final mode is exact.
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes the rename durable; failures are ignored because some
// filesystems do not support fsync on directories.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
