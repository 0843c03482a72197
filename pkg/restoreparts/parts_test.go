package restoreparts

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

func testData(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}

func TestSplitJoin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		size      int
		partSize  int
		wantParts int
	}{
		{"one byte", 1, 4, 1},
		{"exactly one part", 4, 4, 1},
		{"one byte more than a part", 5, 4, 2},
		{"three parts and a bit", 13, 4, 4},
		{"real part size, three parts", 3 * PartSize, PartSize, 3},
		{"real part size, the issue's 2.7 MiB", 2831155, PartSize, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := testData(tt.size)
			m, chunks, err := Split(data, "dev-nest-restore", "dev", "id1", tt.partSize)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Parts) != tt.wantParts || len(chunks) != tt.wantParts {
				t.Fatalf("%d parts, %d chunks; want %d", len(m.Parts), len(chunks), tt.wantParts)
			}
			for i, p := range m.Parts {
				if p.Name != PartName("dev-nest-restore", i) || p.Size > int64(tt.partSize) {
					t.Errorf("part %d: %+v", i, p)
				}
			}
			var out bytes.Buffer
			if err := Join(m, store(m, chunks), &out); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), data) {
				t.Error("joined parts differ from the file")
			}
		})
	}
}

// store serves the parts of m as their Secrets would.
func store(m Manifest, chunks [][]byte) func(string) (PartData, error) {
	parts := map[string]PartData{}
	for i, c := range chunks {
		parts[m.Parts[i].Name] = PartSecretData(m, i, c)
	}
	return func(name string) (PartData, error) { return parts[name], nil }
}

func TestJoinRefuses(t *testing.T) {
	t.Parallel()
	data := testData(10)
	tests := []struct {
		name   string
		change func(m *Manifest, parts map[string]PartData)
		want   string
	}{
		{"a missing part", func(m *Manifest, p map[string]PartData) { delete(p, m.Parts[1].Name) }, "part 2 of 3 (Secret r-0001) is missing"},
		{"the last part missing", func(m *Manifest, p map[string]PartData) { delete(p, m.Parts[2].Name) }, "part 3 of 3 (Secret r-0002) is missing"},
		{"two parts swapped", func(m *Manifest, p map[string]PartData) {
			a, b := m.Parts[0].Name, m.Parts[1].Name
			p[a], p[b] = p[b], p[a]
		}, "part 1 of 3 (Secret r-0000) says it is part 1: parts out of order"},
		{"a part of another restore", func(m *Manifest, p map[string]PartData) { p[m.Parts[2].Name][IDKey] = []byte("old") }, `belongs to restore "old", not "id1"`},
		{"a damaged part", func(m *Manifest, p map[string]PartData) { p[m.Parts[1].Name][PartKey][0] ^= 1 }, "part 2 of 3 (Secret r-0001) is damaged"},
		{"a truncated part", func(m *Manifest, p map[string]PartData) {
			d := p[m.Parts[1].Name]
			d[PartKey] = d[PartKey][:2]
		}, "part 2 of 3 (Secret r-0001) is damaged: 2 bytes"},
		{"a manifest whose whole checksum is wrong", func(m *Manifest, _ map[string]PartData) { m.SHA256 = strings.Repeat("0", 64) }, "the joined parts have checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, chunks, err := Split(data, "r", "dev", "id1", 4)
			if err != nil {
				t.Fatal(err)
			}
			parts := map[string]PartData{}
			for i, c := range chunks {
				parts[m.Parts[i].Name] = PartSecretData(m, i, bytes.Clone(c))
			}
			tt.change(&m, parts)
			var out bytes.Buffer
			err = Join(m, func(name string) (PartData, error) { return parts[name], nil }, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Join: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestJoinPassesReadErrors(t *testing.T) {
	t.Parallel()
	m, _, err := Split(testData(3), "r", "dev", "id1", 4)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("forbidden")
	err = Join(m, func(string) (PartData, error) { return nil, boom }, &bytes.Buffer{})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "part 1 of 1") {
		t.Fatalf("Join: %v", err)
	}
}

func TestCheckSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		size int64
		want string
	}{
		{"empty", 0, "empty"},
		{"largest", MaxSize, ""},
		{"one byte too many", MaxSize + 1, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckSize(tt.size)
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("CheckSize(%d): %v, want %q", tt.size, err, tt.want)
			}
			if tt.want == "too large" && !errors.Is(err, ErrTooLarge) {
				t.Errorf("not ErrTooLarge: %v", err)
			}
		})
	}
}

func TestParseManifestRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want string
	}{
		{"not JSON", "{", "restore manifest"},
		{"no id", `{"parts":[{"name":"a","size":1,"sha256":"` + strings.Repeat("0", 64) + `"}],"size":1,"sha256":"` + strings.Repeat("0", 64) + `"}`, "no id"},
		{"no parts", `{"id":"x","size":1,"sha256":"` + strings.Repeat("0", 64) + `"}`, "no parts"},
		{"parts not adding up", `{"id":"x","parts":[{"name":"a","size":1,"sha256":"` + strings.Repeat("0", 64) + `"}],"size":2,"sha256":"` + strings.Repeat("0", 64) + `"}`, "add up to 1 bytes, the file is 2"},
		{"a part too large", `{"id":"x","parts":[{"name":"a","size":999999999,"sha256":"` + strings.Repeat("0", 64) + `"}],"size":999999999,"sha256":"` + strings.Repeat("0", 64) + `"}`, "part 1 of 1 is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ParseManifest([]byte(tt.json)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseManifest: %v, want %q", err, tt.want)
			}
		})
	}
}
