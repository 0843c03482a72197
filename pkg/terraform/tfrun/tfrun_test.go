package tfrun

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestVarArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want []string
	}{
		{"none", nil, nil},
		{"sorted by name", map[string]string{"b": "2", "a": "x=y"}, []string{"-var", "a=x=y", "-var", "b=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := varArgs(tc.vars); !slices.Equal(got, tc.want) {
				t.Fatalf("varArgs(%v) = %q, want %q", tc.vars, got, tc.want)
			}
		})
	}
}

// TestCopyTree copies a configuration without terraform's own files.
func TestCopyTree(t *testing.T) {
	t.Parallel()
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "work")
	for name, data := range map[string]string{
		"main.tf":                      "# main",
		"profile/crds/a.yaml":          "kind: A",
		"terraform.tfstate":            "{}",
		"terraform.tfstate.backup":     "{}",
		".terraform.lock.hcl":          "#",
		".terraform/providers/x/y.bin": "x",
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dst, p)
			got = append(got, rel)
		}
		return err
	})
	slices.Sort(got)
	if want := []string{"main.tf", "profile/crds/a.yaml"}; !slices.Equal(got, want) {
		t.Fatalf("copied %q, want %q", got, want)
	}
}
