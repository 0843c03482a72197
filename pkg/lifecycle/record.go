package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nestcluster/nest/pkg/fsutil"
	"os"
	"path/filepath"
	"time"
)

// Runtimes of a virtual cluster.
const (
	// RuntimeProcess runs the control plane as a local process.
	RuntimeProcess = "process"
	// RuntimePod runs it as the nest chart's StatefulSet on the host.
	RuntimePod = "pod"
)

// record is what Nest remembers of a virtual cluster, in cluster.json of its
// state directory.
type record struct {
	Name              string    `json:"name"`
	Runtime           string    `json:"runtime"`
	HostKubeconfig    string    `json:"hostKubeconfig"`
	HostNamespace     string    `json:"hostNamespace"`
	Port              int       `json:"port"`
	KubernetesVersion string    `json:"kubernetesVersion"`
	Created           time.Time `json:"created"`
	// NestBinary runs the control plane, and NestVersion is its version;
	// set at create and by Upgrade. Empty in records of older Nest
	// versions: the provider's binary runs them.
	NestBinary  string `json:"nestBinary,omitempty"`
	NestVersion string `json:"nestVersion,omitempty"`
}

const recordFile = "cluster.json"

func (p *Provider) recordPath(name string) string {
	return filepath.Join(p.home.ClusterDir(name), recordFile)
}

// loadRecord returns ErrNotFound when the cluster does not exist.
func (p *Provider) loadRecord(name string) (*record, error) {
	data, err := os.ReadFile(p.recordPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("virtual cluster %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read virtual cluster %q: %w", name, err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("virtual cluster record %s is corrupt: %w", p.recordPath(name), err)
	}
	if r.Name != name {
		return nil, fmt.Errorf("virtual cluster record %s names %q, not %q", p.recordPath(name), r.Name, name)
	}
	return &r, nil
}

func (p *Provider) saveRecord(r *record) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(p.recordPath(r.Name), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write virtual cluster record: %w", err)
	}
	return nil
}

// names lists the virtual clusters in the home, sorted.
func (p *Provider) names() ([]string, error) {
	entries, err := os.ReadDir(p.home.ClustersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list virtual clusters: %w", err)
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(p.home.ClustersDir(), e.Name(), recordFile)); err == nil {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
