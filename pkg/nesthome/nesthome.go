// Package nesthome owns the layout of $NEST_HOME (default ~/.nest), where
// Nest keeps the local host cluster and every virtual cluster's state.
//
// A home carries a marker file so that Nest never writes into, or deletes
// from, a directory that belongs to something else.
package nesthome

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvVar names the environment variable that overrides the default home.
const EnvVar = "NEST_HOME"

// markerName is the file that marks a directory as a Nest home.
const markerName = "nest-home.json"

// formatVersion is bumped when the layout changes incompatibly.
const formatVersion = 1

type marker struct {
	Format int `json:"format"`
}

// Home is an opened Nest home directory.
type Home struct {
	dir string
}

// DefaultDir returns $NEST_HOME, or ~/.nest.
func DefaultDir() (string, error) {
	if d := os.Getenv(EnvVar); d != "" {
		return filepath.Abs(d)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory (set %s): %w", EnvVar, err)
	}
	return filepath.Join(home, ".nest"), nil
}

// Open opens the home at dir, creating it (and its marker) when it does not
// exist or is empty. A non-empty directory without the marker, or with a
// marker this version cannot read, is refused and left untouched.
func Open(dir string) (*Home, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	markerPath := filepath.Join(dir, markerName)
	data, err := os.ReadFile(markerPath)
	switch {
	case err == nil:
		var m marker
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s is corrupt (%v): fix or remove it, or point %s elsewhere", markerPath, err, EnvVar)
		}
		if m.Format != formatVersion {
			return nil, fmt.Errorf("%s has layout format %d, this nest understands %d: use a matching nest or another %s", dir, m.Format, formatVersion, EnvVar)
		}
		return &Home{dir: dir}, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", markerPath, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty and is not a Nest home (no %s): set %s to another directory", dir, markerName, EnvVar)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create Nest home %s: %w", dir, err)
	}
	data, _ = json.Marshal(marker{Format: formatVersion})
	if err := os.WriteFile(markerPath, append(data, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", markerPath, err)
	}
	return &Home{dir: dir}, nil
}

// OpenDefault opens DefaultDir.
func OpenDefault() (*Home, error) {
	dir, err := DefaultDir()
	if err != nil {
		return nil, err
	}
	return Open(dir)
}

// Dir is the home's root.
func (h *Home) Dir() string { return h.dir }

// HubDir holds the hub's default database and TLS certificate.
func (h *Home) HubDir() string { return filepath.Join(h.dir, "hub") }

// HostDir holds the local host cluster.
func (h *Home) HostDir() string { return filepath.Join(h.dir, "host") }

// ClustersDir holds one directory per virtual cluster.
func (h *Home) ClustersDir() string { return filepath.Join(h.dir, "clusters") }

// ClusterDir is the state directory of the virtual cluster name.
func (h *Home) ClusterDir(name string) string { return filepath.Join(h.ClustersDir(), name) }
