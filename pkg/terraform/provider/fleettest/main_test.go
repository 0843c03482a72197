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
	"github.com/nestcluster/nest/pkg/terraform/provider"
)

// defaultTerraform is where the project's machines keep terraform;
// TF_ACC_TERRAFORM_PATH overrides it.
const defaultTerraform = "/usr/local/bin/terraform"

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

	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		tf = defaultTerraform
	}
	if _, err := os.Stat(tf); err != nil {
		terraformMissing = fmt.Sprintf("no terraform binary at %s (set TF_ACC_TERRAFORM_PATH): %v", tf, err)
	}
	cliConfig := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for k, v := range map[string]string{
		"TF_ACC":                    "1",
		"TF_ACC_TERRAFORM_PATH":     tf,
		"TF_ACC_PROVIDER_NAMESPACE": "nestcluster",
		"CHECKPOINT_DISABLE":        "1",
		"TF_IN_AUTOMATION":          "1",
		"TF_CLI_CONFIG_FILE":        cliConfig,
		"TF_PLUGIN_CACHE_DIR":       "",
		provider.EnvHubURL:          h.URL,
		provider.EnvAPIKey:          h.AdminKey,
		provider.EnvCACert:          string(h.CACert),
	} {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
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
