package lifecycle

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/exec"
	"github.com/nestcluster/nest/pkg/version"
)

// NestBuild is what a nest binary is: its own version and the one
// Kubernetes version it embeds.
type NestBuild struct {
	Nest       string `json:"nest"`
	Kubernetes string `json:"kubernetes"`
}

// binaryVersion asks a nest binary what it is (`nest version`); the
// running binary answers without a process, and a binary asked before
// answers from the provider's memory while its file is unchanged (same
// size, modification time and inode): starting a nest process only to ask
// costs a tenth of a second and more.
func (p *Provider) binaryVersion(ctx context.Context, path string) (NestBuild, error) {
	if self, err := os.Executable(); err == nil && samePath(self, path) {
		return NestBuild{Nest: version.Version, Kubernetes: config.SupportedKubernetesVersion}, nil
	}
	if _, dry := p.runner.(exec.DryRun); dry {
		return NestBuild{Nest: "unknown", Kubernetes: config.SupportedKubernetesVersion}, nil
	}
	key, keyErr := buildKeyOf(path)
	if keyErr == nil {
		if b, ok := p.builds.get(key); ok {
			return b, nil
		}
	}
	b, err := askVersion(ctx, path)
	if err == nil && keyErr == nil {
		p.builds.put(key, b)
	}
	return b, err
}

// buildKey identifies one file's content well enough to remember what a
// binary answered: replacing or rebuilding it changes one of these.
type buildKey struct {
	path  string
	size  int64
	mtime time.Time
	ino   uint64
}

func buildKeyOf(path string) (buildKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return buildKey{}, err
	}
	k := buildKey{path: path, size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ino = st.Ino
	}
	return k, nil
}

// buildCache remembers the answers of binaryVersion.
type buildCache struct {
	mu sync.Mutex
	m  map[buildKey]NestBuild
}

func (c *buildCache) get(k buildKey) (NestBuild, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	return b, ok
}

func (c *buildCache) put(k buildKey, b NestBuild) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[buildKey]NestBuild{}
	}
	c.m[k] = b
}

// askVersion runs `PATH version`.
func askVersion(ctx context.Context, path string) (NestBuild, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := osexec.CommandContext(ctx, path, "version")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return NestBuild{}, fmt.Errorf("nest binary %s: `version` failed: %w: %s", path, err, strings.TrimSpace(errOut.String()))
	}
	return parseVersion(path, out.String())
}

// parseVersion reads the output of `nest version`: "nest V\nkubernetes K".
func parseVersion(path, out string) (NestBuild, error) {
	var b NestBuild
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		switch f := strings.Fields(sc.Text()); {
		case len(f) == 2 && f[0] == "nest":
			b.Nest = f[1]
		case len(f) == 2 && f[0] == "kubernetes":
			b.Kubernetes = f[1]
		}
	}
	if b.Nest == "" || b.Kubernetes == "" {
		return NestBuild{}, fmt.Errorf("nest binary %s: `version` printed %q, not a nest version", path, out)
	}
	return b, nil
}

// binaryOf is the nest binary that runs r's control plane: the one
// recorded at create or upgrade, or the provider's for older records or
// when the recorded one is gone.
func (p *Provider) binaryOf(r *record) string {
	if r.NestBinary != "" {
		if _, err := os.Stat(r.NestBinary); err == nil {
			return r.NestBinary
		}
		p.logger.Warn("The nest binary recorded for the cluster is gone, using this one", "name", r.Name, "recorded", r.NestBinary, "using", p.nestPath)
	}
	return p.nestPath
}

func samePath(a, b string) bool {
	ra, errA := filepath.EvalSymlinks(a)
	rb, errB := filepath.EvalSymlinks(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return ra == rb
}
