package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"
)

func testHeader() Header {
	return Header{
		Cluster: "dev", KubernetesVersion: "v1.34.4", Datastore: "sqlite",
		Prefix: "/registry", Revision: 42, Created: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
	}
}

func testRecords(n int) []KV {
	kvs := make([]KV, n)
	for i := range kvs {
		kvs[i] = KV{Key: fmt.Appendf(nil, "/configmaps/default/cm-%04d", i), Value: bytes.Repeat([]byte{byte(i)}, i%300)}
	}
	return kvs
}

func encode(t testing.TB, h Header, kvs []KV) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		if err := w.Add(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := w.Close(); err != nil || n != len(kvs) {
		t.Fatalf("Close = %d, %v; want %d", n, err, len(kvs))
	}
	return buf.Bytes()
}

func decode(data []byte) (Header, []KV, error) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return Header{}, nil, err
	}
	kvs, err := r.ReadAll()
	return r.Header, kvs, err
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 1000} {
		t.Run(fmt.Sprint(n, " records"), func(t *testing.T) {
			t.Parallel()
			want := testRecords(n)
			h, got, err := decode(encode(t, testHeader(), want))
			if err != nil {
				t.Fatal(err)
			}
			wantHeader := testHeader()
			wantHeader.FormatVersion, wantHeader.Keys = FormatVersion, n
			if h != wantHeader {
				t.Fatalf("header = %+v, want %+v", h, wantHeader)
			}
			if len(got) != n || (n > 0 && !reflect.DeepEqual(normalize(got), normalize(want))) {
				t.Fatalf("got %d records, want %d equal ones", len(got), n)
			}
		})
	}
}

// normalize makes empty and nil values compare equal.
func normalize(kvs []KV) []KV {
	out := make([]KV, len(kvs))
	for i, kv := range kvs {
		out[i] = KV{Key: kv.Key, Value: append([]byte{}, kv.Value...)}
	}
	return out
}

// reseal recomputes the checksum of a file whose body was altered, so that
// the reader's checks behind the checksum are exercised.
func reseal(data []byte) []byte {
	body := data[:len(data)-checksumSize]
	sum := sha256.Sum256(body)
	return append(bytes.Clone(body), sum[:]...)
}

func TestReaderRejectsBadFiles(t *testing.T) {
	t.Parallel()
	good := encode(t, testHeader(), testRecords(50))
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{name: "empty file", mutate: func([]byte) []byte { return nil }, want: ErrNotSnapshot},
		{name: "other file", mutate: func([]byte) []byte { return []byte("apiVersion: v1\nkind: Config\n") }, want: ErrNotSnapshot},
		{name: "future version", mutate: func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[len(magic):], FormatVersion+1)
			return b
		}, want: ErrVersion},
		{name: "flipped byte in the records", mutate: func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, want: ErrChecksum},
		{name: "flipped byte in the checksum", mutate: func(b []byte) []byte { b[len(b)-1] ^= 0x01; return b }, want: ErrChecksum},
		{name: "truncated in the middle", mutate: func(b []byte) []byte { return b[:len(b)/2] }, want: ErrChecksum},
		{name: "truncated checksum", mutate: func(b []byte) []byte { return b[:len(b)-10] }, want: ErrChecksum},
		{name: "only the preamble", mutate: func(b []byte) []byte { return b[:preambleSize] }, want: ErrChecksum},
		{name: "appended bytes", mutate: func(b []byte) []byte { return append(b, 0) }, want: ErrChecksum},
		{name: "valid checksum over a damaged body", mutate: func(b []byte) []byte {
			b[preambleSize+20] ^= 0xff
			return reseal(b)
		}, want: ErrCorrupt},
		{name: "valid checksum over a truncated body", mutate: func(b []byte) []byte {
			return reseal(append(b[:len(b)/2:len(b)/2], make([]byte, checksumSize)...))
		}, want: ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.mutate(bytes.Clone(good))
			_, _, err := decode(data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRecordCountIsChecked(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add([]byte("/a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	w.keys = 2 // claim one record more than written
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := decode(buf.Bytes()); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
}

func TestWriterRejectsEmptyKey(t *testing.T) {
	t.Parallel()
	w, err := NewWriter(io.Discard, testHeader())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(nil, []byte("x")); err == nil {
		t.Fatal("Add with an empty key succeeded")
	}
}

func FuzzReader(f *testing.F) {
	f.Add(encode(f, testHeader(), nil))
	f.Add(encode(f, testHeader(), testRecords(3)))
	f.Add([]byte(magic))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, kvs, err := decode(data)
		if err != nil {
			return
		}
		// Whatever the reader accepts must survive a round trip.
		h2, kvs2, err := decode(encode(t, h, kvs))
		if err != nil {
			t.Fatalf("re-encoded snapshot unreadable: %v", err)
		}
		if !h2.Created.Equal(h.Created) || len(kvs2) != len(kvs) {
			t.Fatalf("round trip changed the snapshot: %+v (%d) != %+v (%d)", h2, len(kvs2), h, len(kvs))
		}
		h2.Created, h.Created = time.Time{}, time.Time{}
		if h2 != h {
			t.Fatalf("round trip changed the snapshot: %+v (%d) != %+v (%d)", h2, len(kvs2), h, len(kvs))
		}
	})
}
