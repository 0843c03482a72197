// Package e2e tests Nest end to end: the nest binary, a real local host
// cluster and real virtual clusters, as a user drives them.
package e2e

import (
	"os"
	"testing"

	"github.com/nestcluster/nest/internal/testenv"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m))
}
