package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/pki"
)

// TestClusterWithRSAKeys: a new cluster's keys are ECDSA P-256 and its
// service-account tokens ES256. A cluster whose keys are RSA (the
// service-account key of an older Nest, serving and admin keys put there
// by hand) keeps working through every path that reads them: it starts
// with them (RS256 tokens, RSA serving and client certificates), its
// certificates rotate keeping every key, an upgrade to another binary
// keeps them, and a snapshot of it restores both over itself (keys kept)
// and into a new cluster (a PKI of its own, ECDSA, tokens re-issued).
func TestClusterWithRSAKeys(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	const name = "rsa-keys"
	vc, client := env.VirtualCluster(t, name, lifecycle.CreateOptions{})
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bundle := pki.Bundle{Dir: filepath.Join(env.Home.ClusterDir(name), "pki")}

	if got := keyTypeOf(t, bundle.ServiceAccountKey()); got != "ECDSA" {
		t.Errorf("new cluster's service-account key is %s, want ECDSA", got)
	}
	if alg := tokenAlg(t, requestToken(ctx, t, client)); alg != "ES256" {
		t.Errorf("new cluster's token is signed %s, want ES256", alg)
	}

	// An older Nest's service-account key, and RSA serving and admin keys.
	if err := p.Stop(ctx, name); err != nil {
		t.Fatal(err)
	}
	writeRSAKey(t, bundle.ServiceAccountKey(), "RSA PRIVATE KEY")
	writeRSAKey(t, bundle.APIServerKey(), "RSA PRIVATE KEY")
	writeRSAKey(t, bundle.AdminKey(), "PRIVATE KEY")
	for _, f := range []string{bundle.ServiceAccountPub(), bundle.APIServerCert(), bundle.AdminCert()} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Start(ctx, name, 0); err != nil {
		t.Fatalf("start with RSA keys: %v", err)
	}
	keys := readFiles(t, bundle.ServiceAccountKey(), bundle.APIServerKey(), bundle.AdminKey())
	client = clientOf(t, vc.Kubeconfig)
	if _, err := client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("as the RSA admin: %v", err)
	}
	for _, f := range []string{bundle.ServiceAccountKey(), bundle.APIServerKey(), bundle.AdminKey()} {
		if got := keyTypeOf(t, f); got != "RSA" {
			t.Errorf("%s is %s after the start, want RSA", f, got)
		}
	}
	rsaToken := requestToken(ctx, t, client)
	if alg := tokenAlg(t, rsaToken); alg != "RS256" {
		t.Errorf("token signed %s, want RS256", alg)
	}
	if err := tokenValid(ctx, client, rsaToken); err != nil {
		t.Fatalf("RS256 token: %v", err)
	}

	t.Run("rotation keeps the RSA keys", func(t *testing.T) {
		before := certSerial(t, bundle.AdminCert())
		if _, err := p.RotateCertificates(ctx, name); err != nil {
			t.Fatal(err)
		}
		if certSerial(t, bundle.AdminCert()) == before {
			t.Error("admin certificate not re-issued")
		}
		checkKeysKept(t, keys)
		client = clientOf(t, vc.Kubeconfig)
		if err := tokenValid(ctx, client, rsaToken); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
	})

	t.Run("upgrade keeps the RSA keys", func(t *testing.T) {
		// Another path to the same build: an upgrade to it restarts the
		// control plane through the upgrade's snapshot, stop and start.
		other := filepath.Join(t.TempDir(), "nest")
		copyExecutable(t, env.NestBinary, other)
		if _, err := p.Upgrade(ctx, name, lifecycle.UpgradeOptions{NestBinary: other}); err != nil {
			t.Fatal(err)
		}
		checkKeysKept(t, keys)
		client = clientOf(t, vc.Kubeconfig)
		if _, err := client.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
			t.Fatalf("after the upgrade: %v", err)
		}
		if err := tokenValid(ctx, client, rsaToken); err != nil {
			t.Fatalf("after the upgrade: %v", err)
		}
	})

	snap := filepath.Join(t.TempDir(), "rsa.snapshot")
	if _, err := p.Snapshot(ctx, name, snap); err != nil {
		t.Fatal(err)
	}

	t.Run("restore over itself keeps the RSA keys", func(t *testing.T) {
		if _, err := p.Restore(ctx, name, snap, lifecycle.RestoreOptions{Stop: true}); err != nil {
			t.Fatal(err)
		}
		checkKeysKept(t, keys)
		client = clientOf(t, vc.Kubeconfig)
		if err := tokenValid(ctx, client, rsaToken); err != nil {
			t.Fatalf("after the restore: %v", err)
		}
	})

	t.Run("restore into a new cluster makes ECDSA keys", func(t *testing.T) {
		const clone = "rsa-keys-clone"
		c, err := p.Restore(ctx, clone, snap, lifecycle.RestoreOptions{})
		t.Cleanup(func() {
			if err := p.Delete(context.Background(), clone); err != nil && !errors.Is(err, lifecycle.ErrNotFound) {
				t.Errorf("delete %s: %v", clone, err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		cloneKey := filepath.Join(env.Home.ClusterDir(clone), "pki", "sa.key")
		if got := keyTypeOf(t, cloneKey); got != "ECDSA" {
			t.Errorf("the clone's service-account key is %s, want ECDSA", got)
		}
		cc := clientOf(t, c.Kubeconfig)
		if _, err := cc.CoreV1().ConfigMaps("default").Get(ctx, "kept", metav1.GetOptions{}); err != nil {
			t.Fatalf("the clone: %v", err)
		}
		if err := tokenValid(ctx, cc, rsaToken); err == nil {
			t.Error("the clone accepts a token of the original's key")
		}
		if alg := tokenAlg(t, requestToken(ctx, t, cc)); alg != "ES256" {
			t.Errorf("the clone's token is signed %s, want ES256", alg)
		}
	})
}

func clientOf(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	c, err := kube.Clientset(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requestToken asks for a token of the default service account.
func requestToken(ctx context.Context, t *testing.T, client kubernetes.Interface) string {
	t.Helper()
	tr, err := client.CoreV1().ServiceAccounts("default").CreateToken(ctx, "default", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	return tr.Status.Token
}

// tokenAlg is the "alg" of a JWT's header.
func tokenAlg(t *testing.T, token string) string {
	t.Helper()
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h struct{ Alg string }
	if err := json.Unmarshal(header, &h); err != nil {
		t.Fatalf("token header: %v", err)
	}
	return h.Alg
}

// writeRSAKey writes a new RSA 2048 key in PEM block type typ ("RSA
// PRIVATE KEY" for PKCS #1, "PRIVATE KEY" for PKCS #8).
func writeRSAKey(t *testing.T, path, typ string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der := x509.MarshalPKCS1PrivateKey(key)
	if typ == "PRIVATE KEY" {
		if der, err = x509.MarshalPKCS8PrivateKey(key); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// keyTypeOf is "RSA" or "ECDSA" for a PEM private key file.
func keyTypeOf(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	var key crypto.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	switch key.(type) {
	case *rsa.PrivateKey:
		return "RSA"
	case *ecdsa.PrivateKey:
		return "ECDSA"
	}
	return fmt.Sprintf("%T", key)
}

func certSerial(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert.SerialNumber.String()
}

func readFiles(t *testing.T, paths ...string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[p] = data
	}
	return m
}

func checkKeysKept(t *testing.T, keys map[string][]byte) {
	t.Helper()
	for path, data := range keys {
		now, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(now, data) {
			t.Errorf("%s changed", path)
		}
	}
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
