package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/nesthome"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// nestBinary is the nest binary that runs kine for the lifecycle: $NEST_BINARY
// or bin/nest of the repository (`make build`).
func nestBinary(t *testing.T) string {
	t.Helper()
	p := os.Getenv("NEST_BINARY")
	if p == "" {
		p = filepath.Join("..", "..", "bin", "nest")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("nest binary %s not found: run `make build` first (or set NEST_BINARY)", abs)
	}
	return abs
}

// snapshotOf returns a reader of a snapshot holding one config map per name.
func snapshotOf(t *testing.T, names ...string) *snapshot.Reader {
	t.Helper()
	var buf bytes.Buffer
	w, err := snapshot.NewWriter(&buf, snapshot.Header{Cluster: "test", Prefix: "/registry"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := w.Add([]byte("/configmaps/default/"+n), []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := snapshot.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// stoppedCluster records a virtual cluster with settings cfg that has never
// run, and returns a provider of its home.
func stoppedCluster(t *testing.T, name string, cfg *config.Config) *Provider {
	t.Helper()
	home, err := nesthome.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProvider(home, WithNestBinary(nestBinary(t)))
	if err != nil {
		t.Fatal(err)
	}
	layout := p.layout(name)
	if err := os.MkdirAll(layout.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(layout.ConfigPath(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.saveRecord(&record{Name: name, Runtime: RuntimeProcess, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return p
}

// configMaps snapshots a stopped cluster (through a kine started for it)
// and returns the values of its keys, in key order.
func configMaps(t *testing.T, p *Provider, name string) []string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := p.SnapshotTo(context.Background(), name, &buf); err != nil {
		t.Fatal(err)
	}
	r, err := snapshot.NewReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	kvs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, kv := range kvs {
		names = append(names, string(kv.Value))
	}
	return names
}

// TestReplaceSQLite checks the swap of a stopped cluster's SQLite file: the
// previous database (with its write-ahead log) is kept until commit, comes
// back whole on rollback, and a new cluster never takes over a file.
func TestReplaceSQLite(t *testing.T) {
	t.Parallel()
	const name = "swap"
	p := stoppedCluster(t, name, config.Default())
	layout := p.layout(name)
	ctx := context.Background()
	expect := func(step string, want ...string) {
		t.Helper()
		if got := configMaps(t, p, name); !equal(got, want) {
			t.Fatalf("%s: config maps %v, want %v", step, got, want)
		}
	}
	replace := func(created bool, names ...string) (*swap, error) {
		return p.replaceData(ctx, name, snapshotOf(t, names...), created)
	}

	s, err := replace(false, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	s.commit()
	expect("first restore", "a", "b")
	// configMaps ran kine on the file: it is in WAL mode now, as a stopped
	// control plane leaves it.
	s, err = replace(false, "c")
	if err != nil {
		t.Fatal(err)
	}
	backup := layout.SQLitePath() + ".pre-restore"
	if _, err := os.Stat(backup); err != nil {
		t.Fatalf("previous database not kept before commit: %v", err)
	}
	expect("second restore", "c")
	if err := s.rollback(); err != nil {
		t.Fatal(err)
	}
	expect("rollback", "a", "b")
	if _, err := os.Stat(backup); !os.IsNotExist(err) {
		t.Fatalf("backup left after rollback: %v", err)
	}
	s, err = replace(false, "d")
	if err != nil {
		t.Fatal(err)
	}
	s.commit()
	expect("third restore", "d")
	if leftovers, _ := filepath.Glob(layout.SQLitePath() + ".*"); len(leftovers) > 0 {
		t.Fatalf("files left after commit: %v", leftovers)
	}
	if _, err := replace(true, "e"); !errors.Is(err, snapshot.ErrNotEmpty) {
		t.Fatalf("restore of a new cluster onto an existing file: err = %v, want ErrNotEmpty", err)
	}
	expect("refused restore", "d")
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSnapshotPagesThroughKine takes a snapshot bigger than one page from
// kine: every page must be read at the first page's revision, in order.
func TestSnapshotPagesThroughKine(t *testing.T) {
	t.Parallel()
	const name = "pages"
	p := stoppedCluster(t, name, config.Default())
	var want []string
	for i := range 1203 {
		want = append(want, fmt.Sprintf("cm-%05d", i))
	}
	s, err := p.replaceData(context.Background(), name, snapshotOf(t, want...), false)
	if err != nil {
		t.Fatal(err)
	}
	s.commit()
	if got := configMaps(t, p, name); !equal(got, want) {
		t.Fatalf("snapshot holds %d config maps, want %d in order", len(got), len(want))
	}
}
