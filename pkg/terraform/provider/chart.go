package provider

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// Helm charts of nest_cluster_profile layers: a chart directory is
// packaged by the provider, the same files always into the same bytes, so
// that the archive's digest says whether the hub holds the chart on disk;
// a packaged chart (.tgz) is sent as it is.

// chartArchive returns the archive to upload for the chart at p: the file
// itself when it is a packaged chart, else the packaged directory.
func chartArchive(p string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", p, err)
	}
	if !st.IsDir() {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("chart %s: %w", p, err)
		}
		if _, err := loader.LoadArchive(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("chart %s is neither a chart directory nor a packaged chart (.tgz): %w", p, err)
		}
		return data, nil
	}
	return packageChart(p)
}

// packageChart packages a chart directory reproducibly: the files Helm
// loads (.helmignore applies) in name order, under the chart's name, with
// no times or owners, gzip without a timestamp.
func packageChart(dir string) ([]byte, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load chart directory %s: %w", dir, err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fmt.Errorf("chart directory %s: %w", dir, err)
	}
	files := slices.Clone(ch.Raw)
	slices.SortFunc(files, func(a, b *chart.File) int { return strings.Compare(a.Name, b.Name) })
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range files {
		hdr := &tar.Header{Name: path.Join(ch.Name(), f.Name), Mode: 0o644, Size: int64(len(f.Data)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("package chart %s: %w", dir, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("package chart %s: %w", dir, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("package chart %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("package chart %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}

// digest is the SHA-256 of an archive, in hex.
func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
