package provider_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/nestcluster/nest/pkg/hub/hubtest"
	"github.com/nestcluster/nest/pkg/terraform/acctest"
	"github.com/nestcluster/nest/pkg/terraform/provider"
)

// The acceptance tests run the real terraform binary against a real hub
// started here, with the provider served in-process (terraform reattaches
// to it: nothing is downloaded, nothing leaves the machine).

var (
	theHub *hubtest.Hub
	// terraformMissing says why the acceptance tests skip, or "".
	terraformMissing string
)

// factories serve the provider in-process under the name "nest".
var factories = map[string]func() (tfprotov6.ProviderServer, error){
	provider.TypeName: providerserver.NewProtocol6WithError(provider.New("test")()),
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "nest-terraform-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	h, stop, err := hubtest.Start(filepath.Join(dir, "hub"))
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
	return m.Run()
}

// preCheck skips an acceptance test, saying why, when terraform is missing.
func preCheck(t *testing.T) {
	t.Helper()
	if terraformMissing != "" {
		t.Skip(terraformMissing)
	}
}
