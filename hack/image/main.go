// Command image builds Nest's container image from a static nest binary,
// with no container engine (pkg/image); `make image` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nestcluster/nest/pkg/image"
	nestlog "github.com/nestcluster/nest/pkg/log"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	cfg := image.Config{}
	var repo, layoutDir, tarPath string
	fs.StringVar(&cfg.Binary, "binary", "", "static linux nest binary")
	fs.StringVar(&cfg.CACerts, "ca-certs", image.DefaultCACerts, "CA bundle to copy into the image")
	fs.StringVar(&cfg.Version, "version", "", "nest version: the image tag")
	fs.StringVar(&cfg.Revision, "revision", "", "source revision (git commit)")
	fs.StringVar(&cfg.Source, "source", "https://github.com/nestcluster/nest", "source repository URL")
	fs.StringVar(&cfg.Architecture, "arch", "", "architecture of the binary (default: this machine's)")
	fs.StringVar(&repo, "repository", "nestcluster/nest", "image repository")
	fs.StringVar(&layoutDir, "layout", "bin/image", "OCI layout directory to write")
	fs.StringVar(&tarPath, "tar", "bin/nest-image.tar", "docker-loadable tarball to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// SOURCE_DATE_EPOCH (reproducible-builds.org) dates the image; without
	// it, the Unix epoch.
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		cfg.Created = time.Unix(sec, 0)
	}
	log := nestlog.New(os.Stderr, 0)
	img, err := image.Build(cfg)
	if err != nil {
		return err
	}
	ref := repo + ":" + cfg.Version
	if err := image.WriteLayout(layoutDir, img, cfg.Version); err != nil {
		return err
	}
	if err := image.WriteTarball(tarPath, img, ref); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := image.CompressedSize(img)
	if err != nil {
		return err
	}
	log.Info("Image is built", "ref", ref, "digest", digest.String(), "compressedBytes", size, "layout", layoutDir, "tarball", tarPath)
	return nil
}
