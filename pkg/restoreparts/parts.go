// Package restoreparts carries a snapshot file (pkg/snapshot) to a
// pod-runtime control plane in Secrets of its host namespace: a Secret
// holds 1 MiB at most, a snapshot of a real cluster more, so the file is
// split into parts of PartSize, one Secret each, and a manifest Secret,
// written last, lists them with their sizes and checksums. The control
// plane reads the manifest, then every part in order, checks each and the
// whole, and refuses a missing, damaged, reordered or foreign part before
// it touches its datastore.
//
// Every Secret is labelled LabelRestoreOf (the cluster's name, through
// names.LabelValue) and has a type of its own, so cleaning up deletes only
// what a restore made: never a Secret of the user's or of the syncer.
package restoreparts

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

const (
	// PartSize is the most a part carries: well under the 1 MiB the
	// apiserver takes in one Secret's data, and under etcd's 1.5 MiB
	// request limit once encoded.
	PartSize = 768 << 10
	// MaxSize is the largest snapshot carried: 512 MiB (683 parts), a
	// quarter of etcd's default 2 GiB backend quota, so that a restore
	// cannot fill the host's etcd. A larger file is refused before any
	// Secret is made.
	MaxSize = 512 << 20
)

// Manifest lists a snapshot's parts in order. It travels in the manifest
// Secret (key ManifestKey), which is written once every part is.
type Manifest struct {
	// ID names one restore: parts carry it, and the control plane records
	// the last one it applied, so that a restarted pod does not apply it
	// twice.
	ID string `json:"id"`
	// Cluster is the virtual cluster restored into.
	Cluster string `json:"cluster"`
	// Size and SHA256 (hex) are those of the whole file.
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Parts  []Part `json:"parts"`
}

// Part is one Secret of a snapshot.
type Part struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Keys of the Secrets' data.
const (
	ManifestKey = "manifest"
	PartKey     = "part"
	// IndexKey and IDKey of a part say which part of which restore it is,
	// so that a part swapped for another, or left over from another
	// restore, is refused by name.
	IndexKey = "index"
	IDKey    = "id"
)

// ErrTooLarge is returned for a snapshot over MaxSize.
var ErrTooLarge = errors.New("snapshot too large for a pod-runtime restore")

// CheckSize refuses a snapshot of size bytes that cannot be carried.
func CheckSize(size int64) error {
	if size > MaxSize {
		return fmt.Errorf("%w: %d bytes, at most %d (%d MiB in %d Secrets of %d KiB) are carried", ErrTooLarge, size, int64(MaxSize), MaxSize>>20, MaxSize/PartSize+1, PartSize>>10)
	}
	if size == 0 {
		return errors.New("the snapshot is empty")
	}
	return nil
}

// NewID returns a new restore ID.
func NewID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PartName is the name of part i (from 0) of the restore whose manifest
// Secret is base.
func PartName(base string, i int) string { return fmt.Sprintf("%s-%04d", base, i) }

// Split cuts data into parts of at most partSize bytes and returns the
// manifest of restore id into cluster, the parts named after base.
func Split(data []byte, base, cluster, id string, partSize int) (Manifest, [][]byte, error) {
	if err := CheckSize(int64(len(data))); err != nil {
		return Manifest{}, nil, err
	}
	if partSize <= 0 {
		return Manifest{}, nil, fmt.Errorf("part size %d is not positive", partSize)
	}
	sum := sha256.Sum256(data)
	m := Manifest{ID: id, Cluster: cluster, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
	var chunks [][]byte
	for i := 0; len(data) > 0; i++ {
		n := min(partSize, len(data))
		chunk := data[:n]
		data = data[n:]
		s := sha256.Sum256(chunk)
		m.Parts = append(m.Parts, Part{Name: PartName(base, i), Size: int64(n), SHA256: hex.EncodeToString(s[:])})
		chunks = append(chunks, chunk)
	}
	return m, chunks, nil
}

// ParseManifest decodes and checks a manifest.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("restore manifest: %w", err)
	}
	var total int64
	switch {
	case m.ID == "":
		return m, errors.New("restore manifest: no id")
	case len(m.Parts) == 0:
		return m, errors.New("restore manifest: no parts")
	case len(m.SHA256) != sha256.Size*2:
		return m, errors.New("restore manifest: no sha256 of the whole file")
	}
	for i, p := range m.Parts {
		if p.Name == "" || p.Size <= 0 || p.Size > PartSize || len(p.SHA256) != sha256.Size*2 {
			return m, fmt.Errorf("restore manifest: part %d of %d is malformed (name %q, size %d)", i+1, len(m.Parts), p.Name, p.Size)
		}
		total += p.Size
	}
	if total != m.Size {
		return m, fmt.Errorf("restore manifest: its parts add up to %d bytes, the file is %d", total, m.Size)
	}
	return m, CheckSize(m.Size)
}

// PartData is what a part's Secret holds (its Data).
type PartData map[string][]byte

// PartSecretData is the Data of part i of m.
func PartSecretData(m Manifest, i int, chunk []byte) PartData {
	return PartData{PartKey: chunk, IndexKey: []byte(strconv.Itoa(i)), IDKey: []byte(m.ID)}
}

// Join reads m's parts in order through get (nil data and no error: the
// part is missing), checks each (its restore, its place, its size and
// checksum) and the whole, and writes the file to w. It writes nothing
// more once a check fails, and says which part failed and why; the caller
// discards what w got.
func Join(m Manifest, get func(name string) (PartData, error), w io.Writer) error {
	whole := sha256.New()
	for i, p := range m.Parts {
		which := fmt.Sprintf("part %d of %d (Secret %s)", i+1, len(m.Parts), p.Name)
		d, err := get(p.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", which, err)
		}
		if d == nil {
			return fmt.Errorf("%s is missing: the restore is incomplete", which)
		}
		if id := string(d[IDKey]); id != m.ID {
			return fmt.Errorf("%s belongs to restore %q, not %q: left over from another restore", which, id, m.ID)
		}
		if idx := string(d[IndexKey]); idx != strconv.Itoa(i) {
			return fmt.Errorf("%s says it is part %s: parts out of order", which, idx)
		}
		chunk := d[PartKey]
		sum := sha256.Sum256(chunk)
		if int64(len(chunk)) != p.Size || hex.EncodeToString(sum[:]) != p.SHA256 {
			return fmt.Errorf("%s is damaged: %d bytes, checksum %x; the manifest says %d bytes, %s", which, len(chunk), sum[:6], p.Size, p.SHA256[:12])
		}
		whole.Write(chunk)
		if _, err := io.Copy(w, bytes.NewReader(chunk)); err != nil {
			return fmt.Errorf("%s: %w", which, err)
		}
	}
	if got := hex.EncodeToString(whole.Sum(nil)); got != m.SHA256 {
		return fmt.Errorf("the joined parts have checksum %s, the manifest says %s", got[:12], m.SHA256[:12])
	}
	return nil
}
