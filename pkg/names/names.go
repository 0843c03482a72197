// Package names translates virtual-cluster object names into host-cluster
// names. It is the only place that knows the format, so the syncer and every
// other component agree on which host object belongs to which virtual one.
//
// A host name is "name-x-namespace-x-virtualCluster" when that is short,
// valid and unambiguous. Otherwise it is a readable prefix followed by "-" and
// a hash of the untruncated input, so two different inputs only share a host
// name if their hashes collide. Plain names never end in what looks like a
// hash, so a plain name can never equal a hashed one.
//
// The format is persisted in host clusters: changing it orphans host objects.
package names

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// LabelMaxLength is the longest name a DNS-1123 label (pods, services) may have.
	LabelMaxLength = validation.DNS1123LabelMaxLength
	// SubdomainMaxLength is the longest name a DNS-1123 subdomain (configmaps, secrets) may have.
	SubdomainMaxLength = validation.DNS1123SubdomainMaxLength
	// MinLimit is the smallest limit HostNameWithLimit accepts: one readable
	// character, the dash and the hash.
	MinLimit = hashLength + 2

	hashLength      = 10
	separator       = "-x-"
	namespacePrefix = "nest-"
	// emptyPrefix stands in for a prefix that sanitizing left empty, so that
	// hashed names always have the "-<hash>" suffix plain names never have.
	emptyPrefix = "x"
)

// HostName returns the host name of the object namespace/name of
// virtualCluster as a DNS-1123 label (at most 63 characters), as pods and
// services need. An empty namespace is for cluster-scoped objects and yields
// "name-x-virtualCluster".
func HostName(virtualCluster, namespace, name string) string {
	return HostNameWithLimit(LabelMaxLength, virtualCluster, namespace, name)
}

// HostNameWithLimit is HostName for kinds with a different length limit.
// A limit up to 63 yields a DNS-1123 label; a larger limit yields a DNS-1123
// subdomain (dots allowed, as configmaps and secrets use) of at most
// min(limit, 253) characters. It panics if limit < MinLimit, which is a
// programming error.
func HostNameWithLimit(limit int, virtualCluster, namespace, name string) string {
	if limit < MinLimit {
		panic(fmt.Sprintf("names: limit %d is below the minimum %d", limit, MinLimit))
	}
	allowDots := limit > LabelMaxLength
	limit = min(limit, SubdomainMaxLength)

	parts := []string{name, namespace, virtualCluster}
	if namespace == "" {
		parts = []string{name, virtualCluster}
	}
	joined := strings.Join(parts, separator)
	if len(joined) <= limit && unambiguous(parts) && validDNSName(joined, allowDots) && !looksHashed(joined) {
		return joined
	}
	return withHash(sanitizeDNSName(joined, allowDots), limit, hashOf("host-name", virtualCluster, namespace, name))
}

// HostNamespace returns the default host namespace of virtualCluster,
// "nest-<virtualCluster>", hashed like HostName when that is not a valid label.
func HostNamespace(virtualCluster string) string {
	joined := namespacePrefix + virtualCluster
	if virtualCluster != "" && validDNSName(joined, false) && !looksHashed(joined) {
		return joined
	}
	return withHash(sanitizeDNSName(joined, false), LabelMaxLength, hashOf("host-namespace", virtualCluster))
}

// LabelValue returns s if it is a valid label value, otherwise a valid label
// value made of a readable prefix of s and a hash of s. Use it for every
// value stored in a label, both when writing and when building selectors.
func LabelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 && !looksHashed(s) {
		return s
	}
	return withHash(sanitizeLabelValue(s), validation.LabelValueMaxLength, hashOf("label-value", s))
}

// unambiguous reports whether joining parts with separator can be split back
// into exactly these parts: the separator must occur only where it was
// inserted. A part containing "-x-", starting with "x-", ending with "-x" or
// equal to "x" would create an extra occurrence next to a separator.
func unambiguous(parts []string) bool {
	for _, p := range parts {
		if p == "" || p == "x" || strings.Contains(p, separator) ||
			strings.HasPrefix(p, "x-") || strings.HasSuffix(p, "-x") {
			return false
		}
	}
	return true
}

func validDNSName(s string, allowDots bool) bool {
	if allowDots {
		return len(validation.IsDNS1123Subdomain(s)) == 0
	}
	return len(validation.IsDNS1123Label(s)) == 0
}

// looksHashed reports whether s ends like a hashed name ("-" and hashLength
// lowercase hex digits). Such names are hashed even when valid, which keeps
// plain and hashed names disjoint.
func looksHashed(s string) bool {
	if len(s) < hashLength+1 || s[len(s)-hashLength-1] != '-' {
		return false
	}
	for i := len(s) - hashLength; i < len(s); i++ {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// hashOf hashes parts length-prefixed, so no two different lists of parts
// share an encoding; kind separates the different name spaces.
func hashOf(kind string, parts ...string) string {
	var b strings.Builder
	b.WriteString(kind)
	for _, p := range parts {
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])[:hashLength]
}

// withHash truncates prefix so that prefix + "-" + hash fits in limit, and
// trims what would make the result invalid at the edges.
func withHash(prefix string, limit int, hash string) string {
	prefix = prefix[:min(len(prefix), limit-len(hash)-1)]
	prefix = strings.TrimFunc(prefix, func(r rune) bool { return r > 0x7f || !isAlnum(byte(r)) })
	if prefix == "" {
		prefix = emptyPrefix
	}
	return prefix + "-" + hash
}

// sanitizeDNSName maps s onto DNS-1123 characters, only to keep hashed names
// readable; uniqueness comes from the hash. A dot is kept only between two
// alphanumerics so that no subdomain segment is empty or starts or ends with '-'.
func sanitizeDNSName(s string, allowDots bool) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isLowerAlnum(c) || c == '-':
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '.' && allowDots:
			if len(out) == 0 || !isAlnum(out[len(out)-1]) || i+1 == len(s) || !isAlnum(s[i+1]) {
				c = '-'
			}
		default:
			c = '-'
		}
		out = append(out, c)
	}
	return string(out)
}

// sanitizeLabelValue maps s onto the characters a label value may contain.
func sanitizeLabelValue(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			c = '-'
		}
		out = append(out, c)
	}
	return string(out)
}

func isLowerHex(c byte) bool   { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }
func isLowerAlnum(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' }
func isAlnum(c byte) bool      { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }
