// Command chartrules writes the nest chart's Role rules
// (charts/nest/files/syncer-rules.yaml) from pkg/hostaccess.Rules, the one
// source of what the syncer may do, and its ClusterRole rules by sync
// setting (files/syncer-cluster-rules.yaml, pkg/hostaccess.ClusterRulesBySetting). Run by `go generate ./charts`, from the
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
	for file, generate := range map[string]func() ([]byte, error){
		charts.SyncerRulesFile:        charts.SyncerRules,
		charts.SyncerClusterRulesFile: charts.SyncerClusterRules,
	} {
		data, err := generate()
		if err != nil {
			return err
		}
		path := filepath.Join(charts.NestChart, filepath.FromSlash(file))
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
