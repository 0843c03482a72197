package localhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nestcluster/nest/pkg/fsutil"
	"github.com/nestcluster/nest/pkg/ports"
	"os"
	"path/filepath"
	"time"
)

// Datastore kinds of the local host.
const (
	DatastoreEtcd = "etcd" // embedded etcd
	DatastoreKine = "kine" // kine on SQLite
	// DefaultDatastore of a new local host: etcd, like real clusters; the two
	// measure equal (docs/localhost.md).
	DefaultDatastore = DatastoreEtcd
)

// state is what `up` decides once and later commands read: the chosen
// ports and options. It lives in state.json in the host directory.
type state struct {
	Datastore string    `json:"datastore"`
	Nodes     int       `json:"nodes"`
	Ports     portSet   `json:"ports"`
	Created   time.Time `json:"created"`
	// SimulateExec: kwok runs exec commands on this machine (see
	// Options.SimulateExec). Once on, it stays on.
	SimulateExec bool `json:"simulateExec,omitempty"`
	// SimulatePortForward: kwok reads PortForward objects (see
	// Options.SimulatePortForward). Once on, it stays on.
	SimulatePortForward bool `json:"simulatePortForward,omitempty"`
}

type portSet struct {
	APIServer         int `json:"apiServer"`
	Etcd              int `json:"etcd,omitempty"`
	EtcdPeer          int `json:"etcdPeer,omitempty"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
	Kwok              int `json:"kwok"`
	// Metrics is the simulated metrics API's (pkg/simmetrics); 0 in the
	// state of a host made before it, which gets one at its next start.
	Metrics int `json:"metrics,omitempty"`
}

func (h *Host) statePath() string { return filepath.Join(h.dir, "state.json") }

// loadState returns nil, nil when the host was never brought up.
func (h *Host) loadState() (*state, error) {
	data, err := os.ReadFile(h.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read local host state: %w", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("local host state %s is corrupt (%v): run `nest host down --purge` to start afresh", h.statePath(), err)
	}
	if s.Ports.APIServer == 0 || (s.Datastore != DatastoreKine && s.Datastore != DatastoreEtcd) {
		return nil, fmt.Errorf("local host state %s is incomplete: run `nest host down --purge` to start afresh", h.statePath())
	}
	return &s, nil
}

func (h *Host) saveState(s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(h.statePath(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write local host state: %w", err)
	}
	return nil
}

func newState(datastore string, nodes int) (*state, error) {
	s := &state{Datastore: datastore, Nodes: nodes, Created: time.Now().UTC()}
	targets := []*int{&s.Ports.APIServer, &s.Ports.ControllerManager, &s.Ports.Scheduler, &s.Ports.Kwok, &s.Ports.Metrics}
	if datastore == DatastoreEtcd {
		targets = append(targets, &s.Ports.Etcd, &s.Ports.EtcdPeer)
	}
	seen := map[int]bool{}
	for _, t := range targets {
		for *t == 0 {
			p, err := ports.Free()
			if err != nil {
				return nil, err
			}
			if !seen[p] {
				seen[p] = true
				*t = p
			}
		}
	}
	return s, nil
}
