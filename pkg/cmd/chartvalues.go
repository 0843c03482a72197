package cmd

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// ReadChartValues reads a YAML file of nest chart values (--chart-values);
// "" is none.
func ReadChartValues(path string) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--chart-values: %w", err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(data, &values); err != nil {
		return nil, fmt.Errorf("--chart-values %s: %w", path, err)
	}
	return values, nil
}
