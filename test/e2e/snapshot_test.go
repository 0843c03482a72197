package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/internal/testpg"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// TestSnapshotRestoreSQLite snapshots a running cluster on the default
// SQLite datastore, changes it, restores it in place and into a new
// cluster, and checks the bad inputs the CLI must refuse.
func TestSnapshotRestoreSQLite(t *testing.T) {
	t.Parallel()
	testSnapshotRestore(t, "snap-sqlite", config.Default())
}

// TestSnapshotRestoreEtcd does the same on an external etcd, where the
// cluster's keys live under its own prefix: the in-place restore replaces
// that prefix only, and the new cluster (on SQLite) gets the keys without
// it.
func TestSnapshotRestoreEtcd(t *testing.T) {
	t.Parallel()
	endpoint := startEtcd(t)
	cfg := config.Default()
	cfg.Datastore.Endpoint = "etcd://" + endpoint
	testSnapshotRestore(t, "snap-etcd", cfg)
}

// TestSnapshotRestorePostgres does the same on PostgreSQL (kine).
func TestSnapshotRestorePostgres(t *testing.T) {
	t.Parallel()
	endpoint := testpg.Start(t) // before the clusters: its clean-up runs after theirs
	cfg := config.Default()
	cfg.Datastore.Endpoint = endpoint
	testSnapshotRestore(t, "snap-pg", cfg)
}

var widgets = schema.GroupVersionResource{Group: "snap.example.com", Version: "v1", Resource: "widgets"}

// namespaced are the key prefixes (relative to the cluster's prefix) of
// the objects the test makes, compared byte for byte after restores.
var namespaced = []string{"/configmaps/shop/", "/secrets/shop/", "/snap.example.com/widgets/shop/", "/namespaces/shop"}

func testSnapshotRestore(t *testing.T, name string, cfg *config.Config) {
	env := testenv.Get(t)
	ctx := context.Background()
	vc, client := env.VirtualCluster(t, name, lifecycle.CreateOptions{Config: cfg})
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	tokenBefore := seed(t, vc.Kubeconfig, client)

	dir := t.TempDir()
	file := filepath.Join(dir, "running.snapshot")
	began := time.Now()
	h, err := p.Snapshot(ctx, name, file)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(file)
	t.Logf("snapshot of running %s: %d keys, %d bytes, %s", name, h.Keys, info.Size(), time.Since(began).Round(time.Millisecond))
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file mode = %v, want 0600", info.Mode().Perm())
	}
	want := records(t, file)
	for _, key := range []string{"/configmaps/shop/keep", "/configmaps/shop/change", "/configmaps/shop/remove", "/secrets/shop/creds", "/snap.example.com/widgets/shop/w1"} {
		if _, ok := want[key]; !ok {
			t.Fatalf("snapshot lacks %s", key)
		}
	}
	for key := range want {
		if strings.HasPrefix(key, "/events/") || strings.HasPrefix(key, "/masterleases/") {
			t.Fatalf("snapshot holds %s", key)
		}
	}

	// Change the cluster after the snapshot.
	mutate(t, vc.Kubeconfig, client)

	// Bad inputs leave the cluster as it is.
	corrupt := filepath.Join(dir, "corrupt.snapshot")
	data, _ := os.ReadFile(file)
	data[len(data)/2] ^= 0xff
	writeFile(t, corrupt, data)
	future := filepath.Join(dir, "future.snapshot")
	data, _ = os.ReadFile(file)
	data[9]++ // the format version's low byte
	writeFile(t, future, data)
	notSnapshot := filepath.Join(dir, "kubeconfig")
	writeFile(t, notSnapshot, []byte("apiVersion: v1\nkind: Config\n"))
	bad := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"running cluster", []string{"restore", name, "--from", file}, "is running: a restore replaces all its objects, so stop it first"},
		{"missing file", []string{"restore", name, "--from", filepath.Join(dir, "nope")}, "no such file"},
		{"no --from", []string{"restore", name}, `required flag(s) "from" not set`},
		{"checksum mismatch", []string{"restore", name, "--from", corrupt, "--stop"}, "checksum mismatch"},
		{"format version", []string{"restore", name, "--from", future, "--stop"}, "unsupported snapshot format version 2"},
		{"not a snapshot", []string{"restore", name, "--from", notSnapshot, "--stop"}, "not a Nest snapshot file"},
		{"bad file into a new cluster", []string{"restore", name + "-never", "--from", corrupt}, "checksum mismatch"},
		{"snapshot of a missing cluster", []string{"snapshot", "nope", "-o", filepath.Join(dir, "nope.snapshot")}, `virtual cluster "nope": not found`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := nestBinary(t, env, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("nest %v: err = %v, want %q", tt.args, err, tt.wantErr)
			}
		})
	}
	if got, err := p.Get(ctx, name); err != nil || got.State != lifecycle.StateRunning {
		t.Fatalf("after refused restores: %v, %v; want the cluster Running", got, err)
	}
	if _, err := p.Get(ctx, name+"-never"); !errors.Is(err, lifecycle.ErrNotFound) {
		t.Fatalf("a refused restore left a cluster behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.snapshot")); !os.IsNotExist(err) {
		t.Fatalf("a failed snapshot left a file: %v", err)
	}
	if _, err := client.CoreV1().ConfigMaps("shop").Get(ctx, "added", metav1.GetOptions{}); err != nil {
		t.Fatalf("a refused restore changed the cluster: %v", err)
	}

	// A restore that fails half-way (a valid file whose last record
	// repeats a key) keeps every object the cluster had.
	duplicate := filepath.Join(dir, "duplicate.snapshot")
	writeWithDuplicate(t, file, duplicate)
	if _, err := nestBinary(t, env, "restore", name, "--from", duplicate, "--stop"); err == nil || !strings.Contains(err.Error(), "the key exists") {
		t.Fatalf("restore of a snapshot with a repeated key: err = %v", err)
	}
	client = start(t, p, name)
	if _, err := client.CoreV1().ConfigMaps("shop").Get(ctx, "added", metav1.GetOptions{}); err != nil {
		t.Fatalf("a failed restore lost an object: %v", err)
	}
	if _, err := client.CoreV1().ConfigMaps("shop").Get(ctx, "remove", metav1.GetOptions{}); err == nil {
		t.Fatal("a failed restore brought back a deleted object")
	}

	// A stopped cluster can be snapshotted too, and holds the changes.
	if err := p.Stop(ctx, name); err != nil {
		t.Fatal(err)
	}
	stopped := filepath.Join(dir, "stopped.snapshot")
	if _, err := nestBinary(t, env, "snapshot", name, "-o", stopped); err != nil {
		t.Fatal(err)
	}
	if _, ok := records(t, stopped)["/configmaps/shop/added"]; !ok {
		t.Fatal("snapshot of the stopped cluster lacks the configmap added after the first one")
	}
	if got, _ := p.Get(ctx, name); got.State != lifecycle.StateStopped {
		t.Fatalf("snapshot started the stopped cluster: %s", got.State)
	}

	// Restore in place: exactly the snapshot's objects again.
	began = time.Now()
	out, err := nestBinary(t, env, "restore", name, "--from", file)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restore of %s in place: %s (%s)", name, time.Since(began).Round(time.Millisecond), strings.TrimSpace(out))
	client, err = kube.Clientset(vc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	checkRestored(t, p, name, want)
	if _, err := client.CoreV1().ConfigMaps("shop").Get(ctx, "added", metav1.GetOptions{}); err == nil {
		t.Fatal("configmap made after the snapshot survived the restore")
	}
	testenv.Eventually(t, 30*time.Second, "the token of the same cluster accepted after restore", func() (bool, error) {
		err := tokenValid(ctx, client, tokenBefore)
		return err == nil, err
	})
	leftovers, _ := filepath.Glob(filepath.Join(env.Home.ClusterDir(name), "*", "*.pre-restore*"))
	more, _ := filepath.Glob(filepath.Join(env.Home.ClusterDir(name), "pre-restore*"))
	if leftovers = append(leftovers, more...); len(leftovers) > 0 {
		t.Fatalf("previous datastore not removed after a successful restore: %v", leftovers)
	}

	// Restore into a new cluster (default SQLite datastore): the keys lose
	// the source's prefix, the cluster has its own PKI, tokens are issued
	// again, and kubectl works with its kubeconfig.
	clone := name + "-clone"
	began = time.Now()
	if _, err := nestBinary(t, env, "restore", clone, "--from", file); err != nil {
		t.Fatal(err)
	}
	t.Logf("restore of %s into new cluster %s: %s", name, clone, time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := p.Delete(context.Background(), clone); err != nil && !errors.Is(err, lifecycle.ErrNotFound) {
			t.Errorf("delete %s: %v", clone, err)
		}
	})
	cloned, err := p.Get(ctx, clone)
	if err != nil || cloned.State != lifecycle.StateRunning {
		t.Fatalf("restored new cluster: %v, %v", cloned, err)
	}
	checkRestored(t, p, clone, want)
	cloneClient, err := kube.Clientset(cloned.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	waitTokenAccepted(t, cloneClient, tokenBefore)
	if err := tokenValid(ctx, cloneClient, tokenBefore); err == nil {
		t.Fatal("the clone accepts a token of the cluster it was copied from")
	}
	kubectl := exec.Command(testenv.KubectlBinary(t), "--kubeconfig", cloned.Kubeconfig, "get", "widgets.snap.example.com", "-n", "shop", "-o", "name")
	kubectlOut, err := kubectl.CombinedOutput()
	if names := strings.Fields(string(kubectlOut)); err != nil || len(names) != 2 || names[0] != "widget.snap.example.com/w1" {
		t.Fatalf("kubectl on the clone: %v\n%s", err, kubectlOut)
	}
	// Restoring the origin's snapshot into the existing clone (another
	// service-account key) issues the tokens again too.
	if _, err := nestBinary(t, env, "restore", clone, "--from", file, "--stop"); err != nil {
		t.Fatal(err)
	}
	waitTokenAccepted(t, cloneClient, tokenBefore)
	// The source cluster is untouched by the clone.
	if _, err := client.CoreV1().ConfigMaps("shop").Get(ctx, "keep", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
}

// nestBinary runs the nest binary, as a user would from a shell, against
// the test binary's Nest home. Unlike the in-process nest(), it can start
// processes (kine, control planes): in-process, the lifecycle would start
// the test binary for them. It returns stdout; stderr (the progress log) is
// in the error, or logged.
func nestBinary(t *testing.T, env *testenv.Env, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(env.NestBinary, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, errOut.String())
	}
	t.Logf("nest %s:\n%s", strings.Join(args, " "), errOut.String())
	return out.String(), nil
}

// seed makes the objects the test snapshots, and returns the token the
// tokens controller signed into a legacy token secret.
func seed(t *testing.T, kubeconfig string, client kubernetes.Interface) string {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"keep", "change", "remove"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: n}, Data: map[string]string{"v": "original"}}
		if _, err := client.CoreV1().ConfigMaps("shop").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"password": "s3cret"}}
	if _, err := client.CoreV1().Secrets("shop").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "the default service account of shop", func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("shop").Get(ctx, "default", metav1.GetOptions{})
		return err == nil, err
	})
	legacy := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}
	if _, err := client.CoreV1().Secrets("shop").Create(ctx, legacy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := waitTokenAccepted(t, client, "")
	cfg, err := kube.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	ext := apiextensionsclient.NewForConfigOrDie(cfg)
	crd := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.snap.example.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: widgets.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type:       "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": {Type: "object", XPreserveUnknownFields: ptrBool(true)}},
				}},
			}},
		},
	}
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(cfg)
	for _, n := range []string{"w1", "w2"} {
		w := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "snap.example.com/v1", "kind": "Widget",
			"metadata": map[string]any{"name": n}, "spec": map[string]any{"size": int64(3)},
		}}
		testenv.Eventually(t, time.Minute, "widgets to be served", func() (bool, error) {
			_, err := dyn.Resource(widgets).Namespace("shop").Create(ctx, w, metav1.CreateOptions{})
			return err == nil, err
		})
	}
	return token
}

// waitTokenAccepted waits until the tokens controller has signed a token
// other than old into the secret legacy-token of shop and the apiserver
// accepts it (its authenticator reads secrets through a cache, which may
// lag the secret for a moment).
func waitTokenAccepted(t *testing.T, client kubernetes.Interface, old string) string {
	t.Helper()
	ctx := context.Background()
	var token string
	testenv.Eventually(t, time.Minute, "a new token in the token secret, accepted", func() (bool, error) {
		s, err := client.CoreV1().Secrets("shop").Get(ctx, "legacy-token", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		token = string(s.Data["token"])
		if token == "" || token == old {
			return false, errors.New("no new token yet")
		}
		err = tokenValid(ctx, client, token)
		return err == nil, err
	})
	return token
}

// mutate changes, deletes and adds objects after the snapshot.
func mutate(t *testing.T, kubeconfig string, client kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	cm, err := client.CoreV1().ConfigMaps("shop").Get(ctx, "change", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["v"] = "changed"
	if _, err := client.CoreV1().ConfigMaps("shop").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().ConfigMaps("shop").Delete(ctx, "remove", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Secrets("shop").Delete(ctx, "creds", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ConfigMaps("shop").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "added"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := kube.RESTConfig(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := dynamic.NewForConfigOrDie(cfg).Resource(widgets).Namespace("shop").Delete(ctx, "w1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// checkRestored takes a snapshot of the restored cluster and compares the
// test's objects with want, byte for byte.
func checkRestored(t *testing.T, p *lifecycle.Provider, name string, want map[string][]byte) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "after.snapshot")
	if _, err := p.Snapshot(context.Background(), name, file); err != nil {
		t.Fatal(err)
	}
	got := records(t, file)
	pick := func(all map[string][]byte) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range all {
			for _, p := range namespaced {
				// A new cluster issues the token again and publishes its own CA.
				if strings.HasPrefix(k, p) && k != "/secrets/shop/legacy-token" && k != "/configmaps/shop/kube-root-ca.crt" {
					out[k] = v
				}
			}
		}
		return out
	}
	g, w := pick(got), pick(want)
	for k, v := range w {
		if !bytes.Equal(g[k], v) {
			t.Errorf("%s: %s after restore differs from the snapshot", name, k)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("%s: %s after restore was not in the snapshot", name, k)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// writeWithDuplicate copies the snapshot at from to to, with its first
// record repeated at the end: the file is valid, loading it fails on the
// last key.
func writeWithDuplicate(t *testing.T, from, to string) {
	t.Helper()
	h, kvs := readSnapshot(t, from)
	var buf bytes.Buffer
	w, err := snapshot.NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range append(kvs, kvs[0]) {
		if err := w.Add(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, buf.Bytes())
}

// records reads a snapshot file into a map of key to value.
func records(t *testing.T, path string) map[string][]byte {
	t.Helper()
	_, kvs := readSnapshot(t, path)
	out := make(map[string][]byte, len(kvs))
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

// readSnapshot reads a snapshot file whole.
func readSnapshot(t *testing.T, path string) (snapshot.Header, []snapshot.KV) {
	t.Helper()
	r, err := snapshot.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	kvs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return r.Header, kvs
}

// tokenValid asks the cluster whether it accepts token.
func tokenValid(ctx context.Context, client kubernetes.Interface, token string) error {
	review, err := client.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if !review.Status.Authenticated {
		return errors.New("not authenticated: " + review.Status.Error)
	}
	return nil
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func ptrBool(b bool) *bool { return &b }
