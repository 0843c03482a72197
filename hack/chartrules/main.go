// Command chartrules writes the nest chart's Role rules
// (charts/nest/files/syncer-rules.yaml) from pkg/hostaccess.Rules, the one
// source of what the syncer may do. Run by `go generate ./charts`, from the
// charts directory.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/nestcluster/nest/charts"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chartrules:", err)
		os.Exit(1)
	}
}

func run() error {
	data, err := charts.SyncerRules()
	if err != nil {
		return err
	}
	path := filepath.Join(charts.NestChart, filepath.FromSlash(charts.SyncerRulesFile))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
