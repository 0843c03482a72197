// Command chartrules writes the nest chart's Role rules
// (charts/nest/files/syncer-rules.yaml) from pkg/hostaccess.Rules, the one
// source of what the syncer may do, and its ClusterRole rules by sync
// setting (files/syncer-cluster-rules.yaml, pkg/hostaccess.ClusterRulesBySetting; the
// nest-operator chart gets a copy, for its clusterGrants). Run by `go generate ./charts`, from the
// charts directory.
package main

import (
	"fmt"
	"os"
	"path"
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
		path.Join(charts.NestChart, charts.SyncerRulesFile):        charts.SyncerRules,
		path.Join(charts.NestChart, charts.SyncerClusterRulesFile): charts.SyncerClusterRules,
		// The nest-operator chart grants the same rules (clusterGrants).
		path.Join(charts.NestOperatorChart, charts.SyncerClusterRulesFile): charts.SyncerClusterRules,
	} {
		data, err := generate()
		if err != nil {
			return err
		}
		out := filepath.FromSlash(file)
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
	}
	return nil
}
