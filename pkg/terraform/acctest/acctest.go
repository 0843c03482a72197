// Package acctest prepares the provider's acceptance tests: the real
// terraform binary, offline, talking to a given hub. Both test packages of
// the provider (with and without a local host) call Configure from their
// TestMain.
package acctest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nestcluster/nest/pkg/hub/hubtest"
	"github.com/nestcluster/nest/pkg/terraform/provider"
)

// DefaultTerraform is where the project's machines keep terraform;
// TF_ACC_TERRAFORM_PATH overrides it.
const DefaultTerraform = "/usr/local/bin/terraform"

// Configure sets the environment terraform-plugin-testing reads: TF_ACC,
// the terraform binary, no checkpoint calls, an empty CLI configuration in
// dir (the developer's ~/.terraformrc with its mirrors, dev_overrides and
// credentials has no say), and the provider's hub settings for h. It
// returns why the acceptance tests must skip ("" when terraform is there).
func Configure(dir string, h *hubtest.Hub) (skip string, err error) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		tf = DefaultTerraform
	}
	if _, err := os.Stat(tf); err != nil {
		skip = fmt.Sprintf("no terraform binary at %s (set TF_ACC_TERRAFORM_PATH): %v", tf, err)
	}
	cliConfig := filepath.Join(dir, "terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		return "", err
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
			return "", err
		}
	}
	return skip, nil
}
