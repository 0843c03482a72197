//go:build conformance

// Package suite names the upstream e2e suite that `make conformance`
// builds (go test -c k8s.io/kubernetes/test/e2e), so that `go mod tidy`
// keeps the go.sum entries it needs. The build tag keeps it out of every
// other build: nothing compiles it.
package suite

import (
	_ "k8s.io/kubernetes/test/e2e"
)
