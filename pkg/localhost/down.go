package localhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/nestcluster/nest/pkg/exec"
)

// stopGrace is how long a component gets to exit after SIGTERM.
const stopGrace = 15 * time.Second

// Down stops every component of the local host, in reverse start order, and
// returns the names of those that were running. With purge it also deletes
// the host's state (data, certificates, kubeconfigs, logs).
func (h *Host) Down(ctx context.Context, purge bool) ([]string, error) {
	var stopped []string
	names := slices.Clone(componentNames)
	slices.Reverse(names)
	for _, name := range names {
		pid, err := exec.ReadPIDFile(h.pidPath(name))
		if err != nil {
			return stopped, err
		}
		if pid == 0 {
			continue
		}
		err = exec.Terminate(pid, h.dir, stopGrace)
		switch {
		case err == nil:
			h.logger.Info("Stopped component", "component", name, "pid", pid)
			stopped = append(stopped, name)
		case !errors.Is(err, exec.ErrNotRunning):
			return stopped, fmt.Errorf("stop %s (pid %d): %w", name, pid, err)
		}
		if err := os.Remove(h.pidPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return stopped, err
		}
		if ctx.Err() != nil {
			return stopped, ctx.Err()
		}
	}
	if purge {
		if err := os.RemoveAll(h.dir); err != nil {
			return stopped, fmt.Errorf("purge %s: %w", h.dir, err)
		}
		h.logger.Info("Deleted the local host's state", "dir", h.dir)
	}
	return stopped, nil
}
