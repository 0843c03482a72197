// Package image builds Nest's container image without a container engine:
// one layer holding the static nest binary, CA certificates, a non-root user
// and /tmp, on no base image (nothing is pulled), with fixed timestamps so
// that the same inputs always give the same digest. It writes an OCI layout
// and a tarball that `docker load` and `podman load` accept (docs/image.md).
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Paths and identity inside the image.
const (
	BinaryPath = "/usr/local/bin/nest"
	// UID and GID of the image's user, "nonroot" (distroless' number).
	UID = 65532
	GID = 65532
	// StateDir is the default state directory of `nest controlplane` in a
	// pod (the chart mounts its volume there), owned by the user.
	StateDir = "/var/lib/nest"
)

// DefaultCACerts is where Debian-like build machines keep their CA bundle.
const DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

// Config of one image build.
type Config struct {
	// Binary is the nest executable: linux, statically linked (the image
	// has no C library).
	Binary string
	// CACerts is the CA bundle copied to /etc/ssl/certs/ca-certificates.crt.
	CACerts string
	// Version of nest, in the labels (org.opencontainers.image.version).
	Version string
	// Revision is the source revision (a git commit), in the labels.
	Revision string
	// Source is the repository URL, in the labels.
	Source string
	// Created is the image's timestamp, and every file's: SOURCE_DATE_EPOCH
	// or zero (the Unix epoch) for reproducible builds.
	Created time.Time
	// Architecture is the binary's GOARCH; default runtime.GOARCH.
	Architecture string
}

func (c *Config) validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("binary is required"))
	}
	if c.CACerts == "" {
		c.CACerts = DefaultCACerts
	}
	if c.Version == "" {
		errs = append(errs, errors.New("version is required"))
	}
	if c.Architecture == "" {
		c.Architecture = runtime.GOARCH
	}
	if c.Created.IsZero() {
		c.Created = time.Unix(0, 0)
	}
	c.Created = c.Created.UTC()
	return errors.Join(errs...)
}

// Build returns the image for cfg.
func Build(cfg Config) (v1.Image, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	bin, err := os.ReadFile(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("read nest binary: %w", err)
	}
	if err := checkStatic(cfg.Binary, cfg.Architecture); err != nil {
		return nil, err
	}
	certs, err := os.ReadFile(cfg.CACerts)
	if err != nil {
		return nil, fmt.Errorf("read CA certificates: %w", err)
	}
	tarData, err := rootFS(bin, certs, cfg.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarData)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression))
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	created := v1.Time{Time: cfg.Created}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: created, CreatedBy: "nest image: static nest, CA certificates, user nonroot", Comment: "built without a container engine (pkg/image)",
	}})
	if err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS = "linux"
	cf.Architecture = cfg.Architecture
	cf.Author = "Nest"
	cf.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		User:       fmt.Sprintf("%d:%d", UID, GID),
		WorkingDir: "/",
		Env: []string{
			"PATH=/usr/local/bin:/usr/bin:/bin",
			"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
			"HOME=/home/nonroot",
		},
		Labels: Labels(cfg),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	return img, nil
}

// Labels are the image's OCI annotations (org.opencontainers.image.*).
func Labels(cfg Config) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "nest",
		"org.opencontainers.image.description": "Nest: virtual Kubernetes clusters in namespaces of any host cluster",
		"org.opencontainers.image.version":     cfg.Version,
		"org.opencontainers.image.created":     cfg.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
	if cfg.Revision != "" {
		l["org.opencontainers.image.revision"] = cfg.Revision
	}
	if cfg.Source != "" {
		l["org.opencontainers.image.source"] = cfg.Source
	}
	return l
}

// checkStatic refuses what cannot run on an image without a C library: a
// binary that is not a linux ELF of the architecture, or one that names a
// dynamic loader or shared libraries.
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("nest binary %s is not a linux executable: %w", path, err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if want != elf.EM_NONE && f.Machine != want {
		return fmt.Errorf("nest binary %s is for %s, not %s", path, f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("nest binary %s is dynamically linked (it names a loader): build it statically (make image does)", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("nest binary %s needs shared libraries %v: build it statically (make image does)", path, libs)
	}
	return nil
}

// rootFS is the layer's tar: entries in a fixed order, every time created.
func rootFS(bin, certs []byte, created time.Time) ([]byte, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, GID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	type entry struct {
		name     string
		mode     int64
		uid, gid int
		data     []byte // nil: a directory
	}
	dir := func(name string, mode int64, uid, gid int) entry {
		return entry{name: name, mode: mode, uid: uid, gid: gid}
	}
	entries := []entry{
		dir("etc/", 0o755, 0, 0),
		{name: "etc/group", mode: 0o644, data: []byte(group)},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte(passwd)},
		dir("etc/ssl/", 0o755, 0, 0),
		dir("etc/ssl/certs/", 0o755, 0, 0),
		{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: certs},
		dir("home/", 0o755, 0, 0),
		dir("home/nonroot/", 0o700, UID, GID),
		dir("tmp/", 0o1777, 0, 0),
		dir("usr/", 0o755, 0, 0),
		dir("usr/local/", 0o755, 0, 0),
		dir("usr/local/bin/", 0o755, 0, 0),
		{name: BinaryPath[1:], mode: 0o755, data: bin},
		dir("var/", 0o755, 0, 0),
		dir("var/lib/", 0o755, 0, 0),
		dir(StateDir[1:]+"/", 0o700, UID, GID),
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{
			Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: created,
			Format: tar.FormatPAX, Typeflag: tar.TypeDir,
		}
		if e.data != nil {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image layer: %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("image layer: %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image layer: %w", err)
	}
	return buf.Bytes(), nil
}

// WriteLayout writes img as the only image of a fresh OCI image layout in
// dir (`skopeo copy oci:DIR:TAG`, `crane push --index DIR`), tagged tag.
func WriteLayout(dir string, img v1.Image, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clear OCI layout %s: %w", dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		return fmt.Errorf("write OCI layout %s: %w", dir, err)
	}
	return nil
}

// WriteTarball writes img to path as a tarball that `docker load` accepts,
// named ref (nestcluster/nest:VERSION).
func WriteTarball(path string, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image name %q: %w", ref, err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		return fmt.Errorf("write image tarball %s: %w", path, err)
	}
	return nil
}

// CompressedSize is what a registry stores for img: manifest, config and
// compressed layers.
func CompressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	total := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, nil
}
