package secrets_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/secrets"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, secrets.KeySize)
	box, err := secrets.New(key)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("apiVersion: v1\nkind: Config\n")
	a, err := box.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := box.Encrypt(plain)
	if a == b {
		t.Fatal("two encryptions of one value are equal: the nonce is not random")
	}
	if strings.Contains(a, "Config") {
		t.Fatalf("ciphertext shows the plaintext: %s", a)
	}
	got, err := box.Decrypt(a)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("decrypt: %q, %v", got, err)
	}
	other, _ := secrets.New(bytes.Repeat([]byte{8}, secrets.KeySize))
	tests := []struct {
		name  string
		box   *secrets.Box
		value string
	}{
		{"other key", other, a},
		{"tampered", box, a[:len(a)-4] + "AAAA"},
		{"not encrypted", box, "plain"},
		{"too short", box, "enc:v1:AAAA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.box.Decrypt(tc.value); !errors.Is(err, secrets.ErrDecrypt) {
				t.Fatalf("got %v, want ErrDecrypt", err)
			}
		})
	}
	if _, err := secrets.New([]byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
}

func TestLoadKey(t *testing.T) {
	t.Parallel()
	hexKey := hex.EncodeToString(bytes.Repeat([]byte{1}, 32))
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte(hexKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		file, env  string
		wantSource secrets.Source
		wantErr    string
	}{
		{name: "file", file: file, wantSource: secrets.FromFile},
		{name: "env", env: hexKey, wantSource: secrets.FromEnv},
		{name: "both", file: file, env: hexKey, wantErr: "not both"},
		{name: "bad file", file: bad, wantErr: "32 bytes"},
		{name: "bad env", env: "xyz", wantErr: secrets.KeyEnv},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: "--encryption-key-file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, src, _, err := secrets.LoadKey(tc.file, tc.env, t.TempDir())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || src != tc.wantSource || hex.EncodeToString(key) != hexKey {
				t.Fatalf("got %x %s %v", key, src, err)
			}
		})
	}
	t.Run("generated once, then reused", func(t *testing.T) {
		data := t.TempDir()
		k1, src, path, err := secrets.LoadKey("", "", data)
		if err != nil || src != secrets.FromGenerated {
			t.Fatalf("first: %s %v", src, err)
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file %s: %v %v", path, fi.Mode(), err)
		}
		k2, src, _, err := secrets.LoadKey("", "", data)
		if err != nil || src != secrets.FromDataDir || !bytes.Equal(k1, k2) {
			t.Fatalf("second: %s %v", src, err)
		}
	})
}
