package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// TestUpgrade: a running virtual cluster is upgraded to a rebuilt nest
// binary (the same code stamped with another version) through the CLI.
// Every object is still there, the host pods keep running, a kubeconfig
// copied before the upgrade works after it (same CA, endpoint and
// credentials), and `nest list` shows the new version. A Kubernetes
// version this build does not embed is refused before anything is
// touched, upgrading to what runs is a no-op, and an upgrade to a binary
// that cannot start is rolled back to the previous binary with the
// snapshot taken before, objects intact.
func TestUpgrade(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	next := buildNest(t, "upgrade-test")
	vc, client := env.VirtualCluster(t, "upgr", lifecycle.CreateOptions{})
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seedObjects(ctx, t, client, 20)
	if _, err := client.AppsV1().Deployments("default").Create(ctx, deployment("web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 2*time.Minute, "3 pods Running on the host", func() (bool, error) {
		n, err := hostRunningPods(ctx, env, vc.HostNamespace)
		return n == 3, fmt.Errorf("%d running: %v", n, err)
	})
	before := countObjects(ctx, t, client)
	userKubeconfig := filepath.Join(t.TempDir(), "user.kubeconfig")
	data, err := os.ReadFile(vc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, userKubeconfig, data)
	created, err := p.Get(ctx, "upgr")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("unsupported Kubernetes version is refused", func(t *testing.T) {
		_, err := nestBinary(t, env, "upgrade", "upgr", "--kubernetes-version", "v1.99.0")
		if err == nil || !strings.Contains(err.Error(), "embeds Kubernetes "+config.SupportedKubernetesVersion+" only") {
			t.Fatalf("upgrade to v1.99.0: %v, want a refusal naming %s", err, config.SupportedKubernetesVersion)
		}
		if c, err := p.Get(ctx, "upgr"); err != nil || c.PID != created.PID || c.NestVersion != created.NestVersion {
			t.Fatalf("refused upgrade touched the cluster: %+v, %v", c, err)
		}
	})
	t.Run("same binary is a no-op", func(t *testing.T) {
		_, err := p.Upgrade(ctx, "upgr", lifecycle.UpgradeOptions{})
		if !errors.Is(err, lifecycle.ErrNoUpgrade) {
			t.Fatalf("upgrade to the running binary: %v, want ErrNoUpgrade", err)
		}
		out, err := nestBinary(t, env, "upgrade", "upgr", "--kubernetes-version", config.SupportedKubernetesVersion)
		if err != nil || !strings.Contains(out, "Nothing to do") {
			t.Fatalf("nest upgrade to the running binary: %q, %v", out, err)
		}
	})

	out, err := nestBinary(t, env, "upgrade", "upgr", "--nest-binary", next)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "to nest upgrade-test") {
		t.Errorf("nest upgrade said %q", out)
	}
	c, err := p.Get(ctx, "upgr")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != lifecycle.StateRunning || c.NestVersion != "upgrade-test" || c.NestBinary != next || c.PID == created.PID || c.Endpoint != created.Endpoint {
		t.Fatalf("after the upgrade: %+v", c)
	}
	checkSameObjects(ctx, t, userKubeconfig, before)
	if n, err := hostRunningPods(ctx, env, vc.HostNamespace); n != 3 || err != nil {
		t.Errorf("host pods after the upgrade: %d running, %v", n, err)
	}
	if out, err := nestBinary(t, env, "list"); err != nil || !strings.Contains(out, "upgrade-test") {
		t.Errorf("nest list after the upgrade: %q, %v", out, err)
	}
	backups, _ := filepath.Glob(filepath.Join(env.Home.ClusterDir("upgr"), "backups", "pre-upgrade-*.snapshot"))
	if len(backups) != 1 {
		t.Errorf("pre-upgrade snapshots: %v, want one", backups)
	}

	t.Run("a binary that cannot start is rolled back", func(t *testing.T) {
		broken := filepath.Join(t.TempDir(), "nest-broken")
		script := "#!/bin/sh\nif [ \"$1\" = version ]; then printf 'nest broken\\nkubernetes " + config.SupportedKubernetesVersion + "\\n'; exit 0; fi\n" +
			"echo 'Error: this nest cannot start' >&2\nexit 1\n"
		if err := os.WriteFile(broken, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := p.Upgrade(ctx, "upgr", lifecycle.UpgradeOptions{NestBinary: broken})
		if err == nil || !strings.Contains(err.Error(), "rolled back") {
			t.Fatalf("upgrade to a broken binary: %v, want a rollback", err)
		}
		c, err := p.Get(ctx, "upgr")
		if err != nil || c.State != lifecycle.StateRunning || c.NestVersion != "upgrade-test" || c.NestBinary != next {
			t.Fatalf("after the rollback: %+v, %v", c, err)
		}
		checkSameObjects(ctx, t, userKubeconfig, before)
	})
}

// buildNest builds this repository's nest stamped with another version.
func buildNest(t *testing.T, version string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("make", "-C", testenv.RepoRoot(), "nest", "BIN="+dir, "NEST_VERSION="+version)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build nest %s: %v\n%s", version, err, out)
	}
	return filepath.Join(dir, "nest")
}

// seedObjects makes namespace data with n configmaps.
func seedObjects(ctx context.Context, t *testing.T, client kubernetes.Interface, n int) {
	t.Helper()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "data"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"i": fmt.Sprint(i)}}
		if _, err := client.CoreV1().ConfigMaps("data").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// countObjects counts the objects the tests make, by kind.
func countObjects(ctx context.Context, t *testing.T, client kubernetes.Interface) map[string]int {
	t.Helper()
	counts := map[string]int{}
	// Only the seeded config maps: kube-root-ca.crt is published into the
	// namespace by a controller, whenever it gets there.
	cms, err := client.CoreV1().ConfigMaps("data").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name!=kube-root-ca.crt"})
	if err != nil {
		t.Fatal(err)
	}
	counts["configmaps"] = len(cms.Items)
	deps, err := client.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	counts["deployments"] = len(deps.Items)
	rss, err := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	counts["replicasets"] = len(rss.Items)
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	counts["pods"] = len(pods.Items)
	return counts
}

// checkSameObjects counts the objects through kubeconfig and compares.
func checkSameObjects(ctx context.Context, t *testing.T, kubeconfig string, want map[string]int) {
	t.Helper()
	client, err := kube.Clientset(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	got := countObjects(ctx, t, client)
	for kind, n := range want {
		if got[kind] != n {
			t.Errorf("%s: %d, want %d as before", kind, got[kind], n)
		}
	}
}

func hostRunningPods(ctx context.Context, env *testenv.Env, namespace string) (int, error) {
	l, err := env.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pod := range l.Items {
		if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
			n++
		}
	}
	return n, nil
}
