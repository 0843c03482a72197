// Package secrets encrypts the hub's secrets at rest (host cluster
// kubeconfigs): AES-256-GCM with a random nonce per value, under one
// 32-byte key read from a file, an environment variable, or generated once
// into the hub's data directory.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeyEnv names the environment variable that may hold the key.
const KeyEnv = "NEST_HUB_ENCRYPTION_KEY"

// KeySize is the key length in bytes (AES-256).
const KeySize = 32

// prefix marks an encrypted value and its format version.
const prefix = "enc:v1:"

// ErrDecrypt is a value that this key cannot decrypt (another key, or
// tampered data).
var ErrDecrypt = errors.New("cannot decrypt: wrong encryption key or corrupted data")

// Box encrypts and decrypts with one key.
type Box struct{ aead cipher.AEAD }

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("encryption key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Encrypt returns "enc:v1:" followed by base64(nonce || ciphertext).
func (b *Box) Encrypt(plaintext []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("make nonce: %w", err)
	}
	sealed := b.aead.Seal(nonce, nonce, plaintext, nil)
	return prefix + base64.StdEncoding.EncodeToString(sealed), nil
}

// Decrypt reverses Encrypt.
func (b *Box) Decrypt(value string) ([]byte, error) {
	enc, ok := strings.CutPrefix(value, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: not an encrypted value", ErrDecrypt)
	}
	data, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(data) < b.aead.NonceSize() {
		return nil, ErrDecrypt
	}
	n := b.aead.NonceSize()
	out, err := b.aead.Open(nil, data[:n], data[n:], nil)
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}

// ParseKey reads a key written as 64 hex digits or base64 (standard or
// URL, padded or not) of 32 bytes; surrounding space is ignored.
func ParseKey(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("an encryption key is %d bytes written as 64 hex digits or base64 (e.g. `head -c32 /dev/urandom | base64`)", KeySize)
}

// Source says where LoadKey found the key.
type Source string

// Key sources.
const (
	FromFile      Source = "file"
	FromEnv       Source = "env"
	FromGenerated Source = "generated"
	FromDataDir   Source = "data-dir"
)

// DefaultKeyFile is the generated key's file name in the data directory.
const DefaultKeyFile = "encryption.key"

// LoadKey returns the key: from file when given, else from env (the value
// of KeyEnv, passed in by the caller), else from DATA_DIR/encryption.key,
// generating it (mode 0600) when missing.
func LoadKey(file, env, dataDir string) ([]byte, Source, string, error) {
	if file != "" && env != "" {
		return nil, "", "", fmt.Errorf("give the encryption key in %s or in --encryption-key-file, not both", KeyEnv)
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, "", "", fmt.Errorf("read --encryption-key-file: %w", err)
		}
		key, err := ParseKey(string(data))
		if err != nil {
			return nil, "", "", fmt.Errorf("--encryption-key-file %s: %w", file, err)
		}
		return key, FromFile, file, nil
	}
	if env != "" {
		key, err := ParseKey(env)
		if err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", KeyEnv, err)
		}
		return key, FromEnv, KeyEnv, nil
	}
	path := filepath.Join(dataDir, DefaultKeyFile)
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := ParseKey(string(data))
		if err != nil {
			return nil, "", "", fmt.Errorf("%s: %w", path, err)
		}
		return key, FromDataDir, path, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, "", "", fmt.Errorf("read encryption key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, "", "", fmt.Errorf("generate encryption key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", "", fmt.Errorf("create hub data directory: %w", err)
	}
	// O_EXCL: two hubs starting on one data directory never write two keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadKey("", "", dataDir)
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("write encryption key: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, "", "", fmt.Errorf("write encryption key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, "", "", fmt.Errorf("write encryption key: %w", err)
	}
	return key, FromGenerated, path, nil
}
