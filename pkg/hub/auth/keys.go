package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
)

// KeyPrefix starts every API key, so that leaked keys are easy to scan for.
const KeyPrefix = "nest_"

// lookupLen is how many characters after KeyPrefix find a key's row.
const lookupLen = 12

// keyPattern is the shape of an API key: 32 random bytes in unpadded
// base64url are 43 characters; longer keys (from a bootstrap file) are fine.
var keyPattern = regexp.MustCompile(`^nest_[A-Za-z0-9_-]{43,128}$`)

// ErrMalformedKey is a string that cannot be an API key.
var ErrMalformedKey = errors.New("malformed API key: want nest_ followed by at least 43 base64url characters")

// NewKey returns a new API key with 256 bits from crypto/rand.
func NewKey() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// SplitKey checks a key's shape and returns its lookup prefix and hash.
//
// The hash is plain SHA-256: keys carry at least 256 random bits, so no
// brute force or precomputation can reverse it and a slow KDF (needed for
// passwords, which people choose) would only slow every request down.
func SplitKey(key string) (prefix, hash string, err error) {
	if !keyPattern.MatchString(key) {
		return "", "", ErrMalformedKey
	}
	return key[len(KeyPrefix) : len(KeyPrefix)+lookupLen], HashKey(key), nil
}

// HashKey is the stored form of a key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// hashesEqual compares two hex hashes in constant time.
func hashesEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// BearerToken returns the token of an "Authorization: Bearer ..." header.
func BearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
