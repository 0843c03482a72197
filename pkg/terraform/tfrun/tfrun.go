// Package tfrun runs the terraform CLI on a configuration with Nest's
// provider served in this process: terraform reattaches to it, so no
// provider binary is built or downloaded and terraform works offline.
// The end-to-end test of examples/ci-cd and the terraform benchmark use
// it; terraform runs through pkg/exec.
package tfrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	testing "github.com/mitchellh/go-testing-interface"

	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/terraform/provider"
)

// DefaultTerraform is where the project's machines keep terraform;
// TF_ACC_TERRAFORM_PATH overrides it.
const DefaultTerraform = "/usr/local/bin/terraform"

// Terraform returns the terraform binary to run: $TF_ACC_TERRAFORM_PATH,
// else DefaultTerraform; an error when it is not there.
func Terraform() (string, error) {
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		tf = DefaultTerraform
	}
	if _, err := os.Stat(tf); err != nil {
		return "", fmt.Errorf("no terraform binary at %s (set TF_ACC_TERRAFORM_PATH): %w", tf, err)
	}
	return tf, nil
}

// Config says what to run terraform on.
type Config struct {
	// Terraform is the binary (default: Terraform()).
	Terraform string
	// Source is the configuration directory; it is copied into Dir, so
	// terraform's files (.terraform, the state) never land in it.
	Source string
	// Dir is the working directory, created if missing.
	Dir string
	// Env is the environment of terraform beyond this process's, and the
	// provider's settings (NEST_HUB_URL, NEST_API_KEY, NEST_HUB_CA_CERT):
	// the provider, served in this process, reads them here.
	Env map[string]string
}

// Workspace is a configuration copied into a working directory, with the
// provider served for terraform to reattach to.
type Workspace struct {
	tf, dir string
	env     []string
	stop    func()
}

// Start copies the configuration, serves the provider and runs terraform
// init. Close stops the provider.
func Start(ctx context.Context, cfg Config) (*Workspace, error) {
	tf := cfg.Terraform
	if tf == "" {
		var err error
		if tf, err = Terraform(); err != nil {
			return nil, err
		}
	}
	if err := copyTree(cfg.Source, cfg.Dir); err != nil {
		return nil, fmt.Errorf("copy the configuration %s: %w", cfg.Source, err)
	}
	// The provider, in this process, reads its settings from cfg.Env
	// (this process's environment stays as it is).
	getenv := func(k string) string {
		if v, ok := cfg.Env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
	reattach, stop, err := serve(ctx, getenv)
	if err != nil {
		return nil, err
	}
	cliConfig := filepath.Join(cfg.Dir, ".terraformrc")
	if err := os.WriteFile(cliConfig, nil, 0o600); err != nil {
		stop()
		return nil, err
	}
	env := []string{
		"TF_REATTACH_PROVIDERS=" + reattach,
		"TF_CLI_CONFIG_FILE=" + cliConfig, // the user's ~/.terraformrc has no say
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		"TF_PLUGIN_CACHE_DIR=",
	}
	for k, v := range cfg.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	w := &Workspace{tf: tf, dir: cfg.Dir, env: env, stop: stop}
	if err := w.run(ctx, "init", "-input=false", "-no-color"); err != nil {
		stop()
		return nil, err
	}
	return w, nil
}

// Close stops the provider.
func (w *Workspace) Close() { w.stop() }

// Dir is the working directory.
func (w *Workspace) Dir() string { return w.dir }

func varArgs(vars map[string]string) []string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var args []string
	for _, k := range keys {
		args = append(args, "-var", k+"="+vars[k])
	}
	return args
}

// Apply runs terraform apply -auto-approve with the variables.
func (w *Workspace) Apply(ctx context.Context, vars map[string]string) error {
	return w.run(ctx, append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, varArgs(vars)...)...)
}

// Plan runs terraform plan -detailed-exitcode and tells whether it plans
// changes.
func (w *Workspace) Plan(ctx context.Context, vars map[string]string) (changes bool, err error) {
	err = w.run(ctx, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, varArgs(vars)...)...)
	var re *exec.RunError
	if errors.As(err, &re) && strings.Contains(re.Err.Error(), "exit status 2") {
		return true, nil
	}
	return false, err
}

// Destroy runs terraform destroy -auto-approve with the variables.
func (w *Workspace) Destroy(ctx context.Context, vars map[string]string) error {
	return w.run(ctx, append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, varArgs(vars)...)...)
}

// Output returns an output's value as terraform output -raw prints it
// (sensitive outputs too).
func (w *Workspace) Output(ctx context.Context, name string) (string, error) {
	out, err := exec.Output(ctx, w.command("output", "-raw", "-no-color", name))
	if err != nil {
		return "", fmt.Errorf("terraform output %s: %w", name, err)
	}
	return string(out), nil
}

func (w *Workspace) command(args ...string) exec.Command {
	return exec.Command{Path: w.tf, Args: args, Env: w.env, Dir: w.dir}
}

func (w *Workspace) run(ctx context.Context, args ...string) error {
	if err := (exec.Local{}).Run(ctx, w.command(args...)); err != nil {
		return fmt.Errorf("terraform %s: %w", args[0], err)
	}
	return nil
}

// serve serves the provider in this process in go-plugin's test mode and
// returns the TF_REATTACH_PROVIDERS value that points terraform at it.
func serve(ctx context.Context, getenv func(string) string) (reattach string, stop func(), err error) {
	sctx, cancel := context.WithCancel(ctx)
	configCh := make(chan *plugin.ReattachConfig, 1)
	closeCh := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		served <- tf6server.Serve(provider.Address, providerserver.NewProtocol6(provider.NewWithEnv("tfrun", getenv)()),
			tf6server.WithDebug(sctx, configCh, closeCh),
			tf6server.WithGoPluginLogger(hclog.NewNullLogger()),
			// The SDK's logs go through the sink that filters them by
			// TF_LOG, as terraform does for providers it starts (without
			// it they would all go to stderr, at trace level).
			tf6server.WithLoggingSink(logName{}))
	}()
	var rc *plugin.ReattachConfig
	select {
	case rc = <-configCh:
	case err := <-served:
		cancel()
		return "", nil, fmt.Errorf("serve the provider: %w", err)
	case <-ctx.Done():
		cancel()
		return "", nil, ctx.Err()
	}
	type addr struct{ Network, String string }
	type config struct {
		Protocol        string
		ProtocolVersion int
		Pid             int
		Test            bool
		Addr            addr
	}
	data, err := json.Marshal(map[string]config{provider.Address: {Protocol: string(rc.Protocol), ProtocolVersion: rc.ProtocolVersion,
		Pid: rc.Pid, Test: rc.Test, Addr: addr{Network: rc.Addr.Network(), String: rc.Addr.String()}}})
	if err != nil {
		cancel()
		return "", nil, err
	}
	return string(data), func() { cancel(); <-closeCh }, nil
}

// logName is what the logging sink needs of a test: a name.
type logName struct{ testing.T }

func (logName) Name() string { return "terraform-provider-nest" }

// copyTree copies the files of src into dst (terraform's own files left
// out).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform") {
			return filepath.SkipDir
		}
		if strings.HasPrefix(d.Name(), "terraform.tfstate") || d.Name() == ".terraform.lock.hcl" {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}
