// Package snapshot reads and writes Nest's snapshot files, and takes and
// loads them through the etcd v3 API that every datastore of a virtual
// cluster speaks (kine serves it for SQLite and Postgres).
//
// A snapshot file (format version 1) is:
//
//	"NESTSNAP"           8 bytes, magic
//	version              uint16, big-endian (1)
//	gzip stream of:
//	  header             uvarint length, then JSON (Header)
//	  records            uvarint len(key) > 0, key, uvarint len(value), value
//	  end                uvarint 0
//	  record count       uvarint
//	checksum             32 bytes, SHA-256 of every byte before it
//
// Keys are stored relative to the cluster's key prefix ("/registry" on
// SQLite and Postgres, "/nest/NAME/registry" on a shared etcd), so a
// snapshot can be loaded under another prefix. Readers check the magic,
// the version and the checksum before they return a single record.
package snapshot

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"
)

// FormatVersion is the version of the file format this package writes and
// reads.
const FormatVersion = 1

const (
	magic        = "NESTSNAP"
	preambleSize = len(magic) + 2
	checksumSize = sha256.Size
	// Bounds a reader accepts, so a damaged length cannot make it allocate
	// without limit. etcd refuses requests over 1.5 MiB by default.
	maxHeaderSize = 1 << 20
	maxKeySize    = 64 << 10
	maxValueSize  = 64 << 20
)

// Errors a reader returns; check them with errors.Is.
var (
	ErrNotSnapshot = errors.New("not a Nest snapshot file")
	ErrVersion     = errors.New("unsupported snapshot format version")
	ErrChecksum    = errors.New("snapshot checksum mismatch: the file is damaged or truncated")
	ErrCorrupt     = errors.New("snapshot is corrupt")
)

// Header describes a snapshot.
type Header struct {
	// FormatVersion of the file; set by readers.
	FormatVersion int `json:"-"`
	// Cluster is the name of the virtual cluster the snapshot was taken of.
	Cluster string `json:"cluster"`
	// KubernetesVersion of that cluster.
	KubernetesVersion string `json:"kubernetesVersion"`
	// Datastore is the kind of its datastore: sqlite, etcd or postgres.
	Datastore string `json:"datastore"`
	// Prefix is the key prefix the keys were read under; records hold keys
	// relative to it.
	Prefix string `json:"prefix"`
	// Revision of the datastore the snapshot is consistent at.
	Revision int64 `json:"revision"`
	// Created is when the snapshot was taken.
	Created time.Time `json:"created"`
	// ServiceAccountKey is the SHA-256 (hex) of the public key that signed
	// the service-account tokens in the snapshot's secrets, so that a
	// restore into a cluster with another key knows to issue them again.
	ServiceAccountKey string `json:"serviceAccountKey,omitempty"`
	// Keys is the number of records; set by Writer.Close and by readers
	// once they have checked it.
	Keys int `json:"-"`
}

// KV is one record: a key relative to the prefix, and its value.
type KV struct {
	Key   []byte
	Value []byte
}

// Writer writes a snapshot file.
type Writer struct {
	out  io.Writer
	hash hash.Hash
	gz   *gzip.Writer
	buf  []byte
	keys int
	err  error
}

// NewWriter writes the preamble and h to w; Add the records, then Close.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	sum := sha256.New()
	out := io.MultiWriter(w, sum)
	pre := append([]byte(magic), 0, 0)
	binary.BigEndian.PutUint16(pre[len(magic):], FormatVersion)
	if _, err := out.Write(pre); err != nil {
		return nil, fmt.Errorf("write snapshot: %w", err)
	}
	header, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot header: %w", err)
	}
	sw := &Writer{out: w, hash: sum, gz: gzip.NewWriter(out)}
	sw.bytes(header)
	return sw, sw.err
}

// Add appends one record; key must not be empty.
func (w *Writer) Add(key, value []byte) error {
	if len(key) == 0 {
		return errors.New("snapshot record with an empty key")
	}
	w.bytes(key)
	w.bytes(value)
	w.keys++
	return w.err
}

// Close ends the records, writes the count and the checksum; it does not
// close the underlying writer. It returns the number of records.
func (w *Writer) Close() (int, error) {
	w.uvarint(0)
	w.uvarint(uint64(w.keys))
	if w.err == nil {
		w.err = w.gz.Close()
	}
	if w.err == nil {
		_, w.err = w.out.Write(w.hash.Sum(nil))
	}
	if w.err != nil {
		return 0, fmt.Errorf("write snapshot: %w", w.err)
	}
	return w.keys, nil
}

func (w *Writer) uvarint(n uint64) {
	if w.err == nil {
		w.buf = binary.AppendUvarint(w.buf[:0], n)
		_, w.err = w.gz.Write(w.buf)
	}
}

func (w *Writer) bytes(b []byte) {
	w.uvarint(uint64(len(b)))
	if w.err == nil {
		_, w.err = w.gz.Write(b)
	}
}

// Reader reads the records of a snapshot whose checksum it has verified.
type Reader struct {
	Header Header
	gz     *gzip.Reader
	r      *bufio.Reader
	keys   int
	done   bool
	closer io.Closer
}

// Open opens the snapshot file at path with NewReader; Close it.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	r, err := NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("snapshot %s: %w", path, err)
	}
	r.closer = f
	return r, nil
}

// Close closes the file Open opened.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	return r.closer.Close()
}

// NewReader checks the magic, the format version and the checksum of the
// snapshot in r, then reads its header. r is read twice: once for the
// checksum, once for the records.
func NewReader(r io.ReadSeeker) (*Reader, error) {
	pre := make([]byte, preambleSize)
	if _, err := io.ReadFull(r, pre); err != nil || string(pre[:len(magic)]) != magic {
		return nil, ErrNotSnapshot
	}
	if v := binary.BigEndian.Uint16(pre[len(magic):]); v != FormatVersion {
		return nil, fmt.Errorf("%w %d: this nest reads version %d", ErrVersion, v, FormatVersion)
	}
	size, err := verifyChecksum(r, pre)
	if err != nil {
		return nil, err
	}
	if _, err := r.Seek(int64(preambleSize), io.SeekStart); err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	body := bufio.NewReader(io.LimitReader(r, size-int64(preambleSize)-checksumSize))
	gz, err := gzip.NewReader(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	gz.Multistream(false)
	sr := &Reader{gz: gz, r: bufio.NewReader(gz), Header: Header{FormatVersion: FormatVersion}}
	header, err := sr.bytes(maxHeaderSize)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	if err := json.Unmarshal(header, &sr.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrCorrupt, err)
	}
	return sr, nil
}

// verifyChecksum hashes r from its current offset (pre already read) to 32
// bytes before its end and compares the result with those 32 bytes. It
// returns the size of the file.
func verifyChecksum(r io.Reader, pre []byte) (int64, error) {
	sum := sha256.New()
	sum.Write(pre)
	size := int64(len(pre))
	var tail []byte // the last checksumSize bytes seen, not yet hashed
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			size += int64(n)
			data := append(tail, buf[:n]...)
			if cut := len(data) - checksumSize; cut > 0 {
				sum.Write(data[:cut])
				data = data[cut:]
			}
			tail = append([]byte(nil), data...)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read snapshot: %w", err)
		}
	}
	if len(tail) < checksumSize || !bytes.Equal(sum.Sum(nil), tail) {
		return 0, ErrChecksum
	}
	return size, nil
}

// Next returns the next record, or io.EOF after the last one, once the
// record count and the end of the stream are checked.
func (r *Reader) Next() (KV, error) {
	if r.done {
		return KV{}, io.EOF
	}
	key, err := r.bytes(maxKeySize)
	if err != nil {
		return KV{}, fmt.Errorf("%w: record %d: %v", ErrCorrupt, r.keys+1, err)
	}
	if len(key) == 0 {
		return KV{}, r.end()
	}
	value, err := r.bytes(maxValueSize)
	if err != nil {
		return KV{}, fmt.Errorf("%w: record %d (%s): %v", ErrCorrupt, r.keys+1, key, err)
	}
	r.keys++
	return KV{Key: key, Value: value}, nil
}

// end checks the record count and that nothing follows it.
func (r *Reader) end() error {
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return fmt.Errorf("%w: record count: %v", ErrCorrupt, err)
	}
	if n != uint64(r.keys) {
		return fmt.Errorf("%w: %d records, the file says %d", ErrCorrupt, r.keys, n)
	}
	if _, err := r.r.ReadByte(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: data after the last record", ErrCorrupt)
	}
	r.done = true
	r.Header.Keys = r.keys
	return io.EOF
}

func (r *Reader) bytes(limit uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("length %d over the limit %d", n, limit)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadAll reads every record, checking the count and the end of the file.
func (r *Reader) ReadAll() ([]KV, error) {
	var kvs []KV
	for {
		kv, err := r.Next()
		if errors.Is(err, io.EOF) {
			return kvs, nil
		}
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, kv)
	}
}
