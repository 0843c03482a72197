package fleettest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/hubtest"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/terraform/acctest"
	"github.com/nestcluster/nest/pkg/terraform/provider"
)

var (
	theHub           *hubtest.Hub
	terraformMissing string
)

var factories = map[string]func() (tfprotov6.ProviderServer, error){
	provider.TypeName: providerserver.NewProtocol6WithError(provider.New("test")()),
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "nest-terraform-fleet-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := testenv.NestBinary()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// A hub whose reconciler looks often (the tests wait on it) and runs
	// control planes with bin/nest, not with this test binary.
	h, stop, err := hubtest.Start(filepath.Join(dir, "hub"), func(c *server.Config) {
		c.Reconciler = reconciler.Config{Resync: 2 * time.Second, HealthInterval: 2 * time.Second, NestBinary: bin}
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "start a hub: %v\n", err)
		return 1
	}
	defer func() {
		if err := stop(); err != nil {
			fmt.Fprintf(os.Stderr, "the hub stopped with: %v\n", err)
		}
	}()
	theHub = h

	if terraformMissing, err = acctest.Configure(dir, h); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The shared local host: started once, stopped after the tests.
	return testenv.Main(m)
}

func preCheck(t *testing.T) {
	t.Helper()
	if terraformMissing != "" {
		t.Skip(terraformMissing)
	}
}
