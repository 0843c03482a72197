package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/exec"
)

// TestBinaryVersionIsRemembered: a nest binary is asked its version once;
// the answer is kept while its file is unchanged, and asked again when the
// file is replaced or rewritten.
func TestBinaryVersionIsRemembered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	bin := filepath.Join(dir, "nest")
	// fakeNest writes a script that counts its calls and answers version v.
	fakeNest := func(path, v string) {
		t.Helper()
		script := "#!/bin/sh\necho x >> " + calls + "\necho 'nest " + v + "'\necho 'kubernetes v1.34.4'\n"
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	callCount := func() int {
		data, err := os.ReadFile(calls)
		if os.IsNotExist(err) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(data), "x")
	}
	p := &Provider{runner: exec.Local{}, builds: &buildCache{}}
	ctx := context.Background()
	fakeNest(bin, "v1")

	steps := []struct {
		name      string
		change    func()
		want      string
		wantCalls int
	}{
		{name: "first ask runs it", want: "v1", wantCalls: 1},
		{name: "second ask is remembered", want: "v1", wantCalls: 1},
		{name: "replaced binary is asked again", change: func() { fakeNest(bin, "v2") }, want: "v2", wantCalls: 2},
		{name: "and remembered again", want: "v2", wantCalls: 2},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		got, err := p.binaryVersion(ctx, bin)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got.Nest != s.want || got.Kubernetes != "v1.34.4" {
			t.Errorf("%s: got %+v, want nest %s", s.name, got, s.want)
		}
		if n := callCount(); n != s.wantCalls {
			t.Errorf("%s: binary ran %d times, want %d", s.name, n, s.wantCalls)
		}
	}

	t.Run("a failing binary is not remembered", func(t *testing.T) {
		bad := filepath.Join(dir, "bad")
		if err := os.WriteFile(bad, []byte("#!/bin/sh\necho x >> "+calls+"\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		before := callCount()
		for range 2 {
			if _, err := p.binaryVersion(ctx, bad); err == nil {
				t.Fatal("want an error")
			}
		}
		if n := callCount() - before; n != 2 {
			t.Errorf("failing binary ran %d times, want 2", n)
		}
	})
}
