package controlplane

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nestcluster/nest/internal/testetcd"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/restoreparts"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// memSource is a restore source in memory: the manifest is there while
// found, read returns data (or readErr).
type memSource struct {
	m        restoreparts.Manifest
	found    bool
	data     []byte
	readErr  error
	reported error
}

func (s *memSource) manifest(context.Context) (restoreparts.Manifest, bool, error) {
	return s.m, s.found, nil
}

func (s *memSource) read(_ context.Context, _ restoreparts.Manifest, w io.Writer) error {
	if s.readErr != nil {
		return s.readErr
	}
	_, err := w.Write(s.data)
	return err
}

func (s *memSource) report(_ context.Context, reason error) error { s.reported = reason; return nil }

func (s *memSource) remove(context.Context) (int, error) {
	if !s.found {
		return 0, nil
	}
	s.found = false
	return 1, nil
}

func (s *memSource) String() string { return "the test's source" }

// snapshotFile is a snapshot holding one config map per name.
func snapshotFile(t *testing.T, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := snapshot.NewWriter(&buf, snapshot.Header{Cluster: "origin", Prefix: "/registry"})
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
	return buf.Bytes()
}

// configMaps lists the config maps under /registry.
func configMaps(t *testing.T, c *clientv3.Client) []string {
	t.Helper()
	resp, err := c.Get(context.Background(), "/registry/configmaps/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, strings.TrimPrefix(string(kv.Key), "/registry/configmaps/default/"))
	}
	slices.Sort(out)
	return out
}

// TestHostRestoreSteps walks a pod's starts through restores from Secrets,
// crashes between steps and a given-up restore, on a real etcd: each step
// is one start (apply) or the apiserver becoming ready (confirm), and the
// objects and the saved previous objects are checked after it.
func TestHostRestoreSteps(t *testing.T) {
	t.Parallel()
	endpoint := testetcd.Start(t, nil)
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { etcd.Close() })
	ctx := context.Background()
	for _, n := range []string{"b1", "b2"} { // the cluster's own objects
		if _, err := etcd.Put(ctx, "/registry/configmaps/default/"+n, n); err != nil {
			t.Fatal(err)
		}
	}
	snapA := snapshotFile(t, "a1", "a2", "a3")
	src := &memSource{}
	manifest := func(id string) {
		src.m, src.found, src.data, src.readErr = restoreparts.Manifest{ID: id}, true, snapA, nil
	}
	layout := Layout{Dir: t.TempDir()}
	hr := &hostRestore{src: src, cluster: "dev", datastore: &config.Config{}, layout: layout, log: slog.New(slog.DiscardHandler)}

	steps := []struct {
		name  string
		setup func()
		// confirm: the apiserver is ready; otherwise a start (apply).
		confirm      bool
		wantRestored bool
		wantErr      string
		want         []string // config maps after the step
		wantPre      []string // the saved previous objects; nil: no file
	}{
		{name: "no manifest, nothing saved: nothing to do", want: []string{"b1", "b2"}},
		{name: "a damaged part: refused before the datastore is touched", setup: func() {
			manifest("r1")
			src.readErr = errors.New("part 2 of 3 (Secret dev-nest-restore-0001) is damaged")
		}, wantErr: "is damaged", want: []string{"b1", "b2"}},
		{name: "the same restore complete: loaded, the previous objects saved", setup: func() { src.readErr = nil },
			wantRestored: true, want: []string{"a1", "a2", "a3"}, wantPre: []string{"b1", "b2"}},
		{name: "a crash before ready, started again: loaded again over the same saved objects",
			wantRestored: true, want: []string{"a1", "a2", "a3"}, wantPre: []string{"b1", "b2"}},
		{name: "given up (its Secrets deleted) before ready: the previous objects back", setup: func() { src.found = false },
			want: []string{"b1", "b2"}},
		{name: "a new restore: loaded", setup: func() { manifest("r2") },
			wantRestored: true, want: []string{"a1", "a2", "a3"}, wantPre: []string{"b1", "b2"}},
		{name: "ready: the saved objects and the Secrets go", confirm: true, want: []string{"a1", "a2", "a3"}},
		{name: "the Secrets back as if their deletion had crashed, an object made since: not loaded again", setup: func() {
			manifest("r2")
			if _, err := etcd.Put(ctx, "/registry/configmaps/default/later", "x"); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"a1", "a2", "a3", "later"}},
		{name: "ready: the Secrets go", confirm: true, want: []string{"a1", "a2", "a3", "later"}},
		{name: "no manifest, nothing saved: nothing to do again", want: []string{"a1", "a2", "a3", "later"}},
	}
	for _, st := range steps {
		if st.setup != nil {
			st.setup()
		}
		src.reported = nil
		if st.confirm {
			hr.confirm(ctx)
			if src.found {
				t.Errorf("%s: the Secrets were not deleted", st.name)
			}
		} else {
			restored, _, err := hr.apply(ctx, endpoint, "/registry")
			if st.wantErr == "" && err != nil || st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)) {
				t.Fatalf("%s: apply: %v, want error %q", st.name, err, st.wantErr)
			}
			if st.wantErr != "" && !errors.Is(src.reported, src.readErr) {
				t.Errorf("%s: reported %v, want the read error", st.name, src.reported)
			}
			if restored != st.wantRestored {
				t.Errorf("%s: restored %v, want %v", st.name, restored, st.wantRestored)
			}
		}
		if got := configMaps(t, etcd); !slices.Equal(got, st.want) {
			t.Errorf("%s: config maps %v, want %v", st.name, got, st.want)
		}
		pre, err := snapshot.Open(preRestorePath(layout))
		switch {
		case errors.Is(err, os.ErrNotExist):
			if st.wantPre != nil {
				t.Errorf("%s: no saved previous objects, want %v", st.name, st.wantPre)
			}
		case err != nil:
			t.Fatalf("%s: %v", st.name, err)
		default:
			kvs, err := pre.ReadAll()
			pre.Close()
			if err != nil {
				t.Fatal(err)
			}
			var saved []string
			for _, kv := range kvs {
				if name, ok := strings.CutPrefix(string(kv.Key), "/configmaps/default/"); ok {
					saved = append(saved, name)
				}
			}
			slices.Sort(saved)
			if !slices.Equal(saved, st.wantPre) {
				t.Errorf("%s: saved previous objects %v, want %v", st.name, saved, st.wantPre)
			}
		}
	}
}
