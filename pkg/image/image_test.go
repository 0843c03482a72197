package image

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fakeBinary builds a tiny static linux program, standing in for nest.
func fakeBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() { println(\"fake nest\") }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "nest")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fake binary: %v\n%s", err, out)
	}
	return bin
}

func certs(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBuildIsReproducible builds the image twice, into a layout and a
// tarball each time, and compares digests and bytes.
func TestBuildIsReproducible(t *testing.T) {
	t.Parallel()
	bin, ca := fakeBinary(t), certs(t)
	type result struct {
		digest  string
		tarball []byte
		index   []byte
	}
	build := func(created time.Time) result {
		img, err := Build(Config{Binary: bin, CACerts: ca, Version: "v0.0.1", Revision: "abc", Created: created})
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := WriteLayout(filepath.Join(dir, "image"), img, "v0.0.1"); err != nil {
			t.Fatal(err)
		}
		if err := WriteTarball(filepath.Join(dir, "nest.tar"), img, "nestcluster/nest:v0.0.1"); err != nil {
			t.Fatal(err)
		}
		tb, err := os.ReadFile(filepath.Join(dir, "nest.tar"))
		if err != nil {
			t.Fatal(err)
		}
		idx, err := os.ReadFile(filepath.Join(dir, "image", "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		return result{d.String(), tb, idx}
	}
	epoch := time.Unix(1700000000, 0)
	a, b := build(epoch), build(epoch)
	if a.digest != b.digest {
		t.Fatalf("two builds gave digests %s and %s", a.digest, b.digest)
	}
	if string(a.tarball) != string(b.tarball) || string(a.index) != string(b.index) {
		t.Errorf("two builds wrote different tarballs or layouts")
	}
	if c := build(epoch.Add(time.Second)); c.digest == a.digest {
		t.Errorf("a different SOURCE_DATE_EPOCH gave the same digest %s", c.digest)
	}
	t.Logf("digest %s (twice)", a.digest)
}

// TestImageContents reads the image back from its OCI layout and from its
// docker tarball: the files, the user, the entrypoint, the labels.
func TestImageContents(t *testing.T) {
	t.Parallel()
	bin, ca := fakeBinary(t), certs(t)
	img, err := Build(Config{Binary: bin, CACerts: ca, Version: "v0.0.2", Source: "https://example.com/nest"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteLayout(filepath.Join(dir, "image"), img, "v0.0.2"); err != nil {
		t.Fatal(err)
	}
	if err := WriteTarball(filepath.Join(dir, "nest.tar"), img, "nestcluster/nest:v0.0.2"); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "image"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "v0.0.2" {
		t.Fatalf("layout index = %+v, want one image named v0.0.2", im.Manifests)
	}
	fromLayout, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("nestcluster/nest:v0.0.2")
	fromTar, err := tarball.ImageFromPath(filepath.Join(dir, "nest.tar"), &tag)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, _ := fromLayout.Digest(); d != want {
		t.Errorf("layout digest %s, want %s", d, want)
	}
	// The docker tarball keeps config and layers (its manifest is docker's own).
	wantCfg, _ := img.ConfigName()
	if c, err := fromTar.ConfigName(); err != nil || c != wantCfg {
		t.Errorf("tarball config %s (%v), want %s", c, err, wantCfg)
	}
	cf, err := fromLayout.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || strings.Join(cf.Config.Entrypoint, " ") != BinaryPath || cf.OS != "linux" {
		t.Errorf("config: user %q entrypoint %v os %s", cf.Config.User, cf.Config.Entrypoint, cf.OS)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.version": "v0.0.2", "org.opencontainers.image.source": "https://example.com/nest",
		"org.opencontainers.image.created": "1970-01-01T00:00:00Z",
	} {
		if cf.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cf.Config.Labels[k], v)
		}
	}
	files := map[string]*tar.Header{}
	rc := mutate.Extract(fromLayout)
	defer rc.Close()
	tr := tar.NewReader(rc)
	binData, _ := os.ReadFile(bin)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		if h.Name == BinaryPath[1:] {
			got, _ := io.ReadAll(tr)
			if string(got) != string(binData) {
				t.Errorf("%s differs from the binary", BinaryPath)
			}
		}
		if h.Name == "etc/passwd" {
			got, _ := io.ReadAll(tr)
			if !strings.Contains(string(got), "nonroot:x:65532:65532") {
				t.Errorf("/etc/passwd lacks nonroot 65532:\n%s", got)
			}
		}
		if !h.ModTime.Equal(time.Unix(0, 0)) {
			t.Errorf("%s dated %s, want the epoch", h.Name, h.ModTime)
		}
	}
	for name, mode := range map[string]int64{
		BinaryPath[1:]: 0o755, "etc/ssl/certs/ca-certificates.crt": 0o644, "etc/group": 0o644, "tmp": 0o1777, "var/lib/nest": 0o700,
	} {
		h, ok := files[name]
		if !ok {
			t.Errorf("image lacks %s", name)
			continue
		}
		if h.Mode != mode {
			t.Errorf("%s mode %o, want %o", name, h.Mode, mode)
		}
	}
	if h := files["var/lib/nest"]; h != nil && (h.Uid != UID || h.Gid != GID) {
		t.Errorf("/var/lib/nest owned by %d:%d, want %d:%d", h.Uid, h.Gid, UID, GID)
	}
}

func TestBuildRejects(t *testing.T) {
	t.Parallel()
	ca := certs(t)
	script := filepath.Join(t.TempDir(), "nest")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho nest\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no binary", Config{CACerts: ca, Version: "v1"}, "binary is required"},
		{"no version", Config{Binary: script, CACerts: ca}, "version is required"},
		{"not an executable", Config{Binary: script, CACerts: ca, Version: "v1"}, "not a linux executable"},
		{"dynamically linked", Config{Binary: "/bin/ls", CACerts: ca, Version: "v1"}, "dynamically linked"},
		{"missing CA bundle", Config{Binary: "/bin/ls", CACerts: "/nonexistent", Version: "v1", Architecture: "amd64"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Build(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Build() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
