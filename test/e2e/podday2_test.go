package e2e

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/chartrelease"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/snapshot"
)

// TestPodRuntimeDay2: certificates, snapshot, restore and upgrade of a
// pod-runtime cluster, all through the channel a real pod offers: the
// kubeconfig Secret its control plane publishes and the admin endpoint it
// names (mTLS with the admin certificate). The pod is simulated by KWOK and
// its command run by the test's pod runner (runChartPodIn), whose state
// directory stands in for the pod's volume. Each step counts the cluster's
// objects before and after.
func TestPodRuntimeDay2(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const name, copyName = "podday2", "podday2-copy"
	ns, full := createPodCluster(t, p, name, copyName)
	state := filepath.Join(t.TempDir(), "volume")
	stop := runChartPodIn(t, env, ns, full+"-0", state)
	client, kubeconfigPath := publishedClient(t, p, name)
	const configMaps = 10
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "data"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range configMaps {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"i": fmt.Sprint(i)}}
		if _, err := client.CoreV1().ConfigMaps("data").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// Certificates: listed and rotated through the admin endpoint; the
	// control plane publishes the kubeconfig again with the new admin
	// certificate, and both it and the one copied before work.
	certs, err := p.Certificates(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var apiserverSerial string
	for _, c := range certs {
		if c.Name == "apiserver" {
			apiserverSerial = c.Serial
		}
	}
	if apiserverSerial == "" {
		t.Fatalf("no apiserver certificate among %d", len(certs))
	}
	before := publishedConfig(t, p, name)
	changes, err := p.RotateCertificates(ctx, name)
	if err != nil || len(changes) == 0 {
		t.Fatalf("rotate: %d changes, %v", len(changes), err)
	}
	after, err := p.Certificates(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range after {
		if c.Name == "apiserver" && c.Serial == apiserverSerial {
			t.Errorf("the apiserver certificate was not re-issued (serial %s)", c.Serial)
		}
	}
	testenv.Eventually(t, 2*time.Minute, "the kubeconfig published with the new admin certificate", func() (bool, error) {
		return !bytes.Equal(publishedConfig(t, p, name), before), nil
	})
	rotated, _ := publishedClient(t, p, name)
	for what, c := range map[string]kubernetes.Interface{"copied before": client, "published after": rotated} {
		if n := countConfigMaps(t, c); n != configMaps {
			t.Errorf("kubeconfig %s the rotation: %d configmaps, want %d", what, n, configMaps)
		}
	}

	// Snapshot from the running pod.
	snap := filepath.Join(t.TempDir(), "podday2.snapshot")
	h, err := p.Snapshot(ctx, name, snap)
	if err != nil {
		t.Fatal(err)
	}
	if h.Cluster != name || h.Keys == 0 {
		t.Fatalf("snapshot header: %+v", h)
	}
	r, err := snapshot.Open(snap)
	if err != nil {
		t.Fatal(err)
	}
	kvs, err := r.ReadAll()
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	inSnap := 0
	for _, kv := range kvs {
		if strings.HasPrefix(string(kv.Key), "/configmaps/data/cm-") {
			inSnap++
		}
	}
	if inSnap != configMaps {
		t.Errorf("snapshot holds %d of the %d configmaps", inSnap, configMaps)
	}
	t.Logf("snapshot of the pod: %d keys, %d bytes", h.Keys, fileSize(t, snap))

	// Restore into a new pod-runtime cluster (carried in Secrets; restores
	// over an existing one and of several parts: TestPodRuntimeRestoreLarge).
	if _, err := p.Restore(ctx, copyName, snap, lifecycle.RestoreOptions{Create: lifecycle.CreateOptions{
		Runtime: lifecycle.RuntimePod, ChartValues: podNoVolume}}); err != nil {
		t.Fatal(err)
	}
	copyNS := names.HostNamespace(copyName)
	runChartPodIn(t, env, copyNS, copyName+"-nest-0", filepath.Join(t.TempDir(), "copy-volume"))
	copyClient, _ := publishedClient(t, p, copyName)
	if n := countConfigMaps(t, copyClient); n != configMaps {
		t.Errorf("restored pod-runtime cluster: %d configmaps, want %d", n, configMaps)
	}
	assertRestoreSecretsGone(t, env, copyNS, copyName)

	// Upgrade to a new image: snapshot first, helm upgrade, the pod of the
	// new revision runs with the same volume; clients keep working.
	res, err := p.Upgrade(ctx, name, lifecycle.UpgradeOptions{ChartValues: map[string]any{"image": map[string]any{"tag": "upgrade-test"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(res.Snapshot); err != nil {
		t.Errorf("pre-upgrade snapshot: %v", err)
	}
	if res.To.Nest != "upgrade-test" || res.Cluster.State != lifecycle.StateRunning {
		t.Errorf("upgrade result: %+v, cluster %+v", res.To, res.Cluster)
	}
	assertImage(t, env, ns, full, ":upgrade-test", 2)
	stop()
	stop = runChartPodIn(t, env, ns, full+"-0", state)
	if n := countConfigMaps(t, kubeClient(t, kubeconfigPath)); n != configMaps {
		t.Errorf("after the upgrade, through the kubeconfig copied before: %d configmaps, want %d", n, configMaps)
	}
	if l, _ := p.List(ctx); !slices.ContainsFunc(l, func(c lifecycle.Cluster) bool { return c.Name == name && c.NestVersion == "upgrade-test" }) {
		t.Errorf("nest list does not show nest upgrade-test for %s", name)
	}

	testenv.Eventually(t, 2*time.Minute, "the admin endpoint of the upgraded pod", func() (bool, error) {
		_, err := p.Certificates(ctx, name)
		return err == nil, err
	})

	// An upgrade whose pod never becomes ready (it fits no node) is rolled
	// back to the previous revision, and its stuck pod replaced. The
	// timeout is how long "never" is here, not a bound on the test.
	_, err = p.Upgrade(ctx, name, lifecycle.UpgradeOptions{Timeout: 20 * time.Second, ChartValues: map[string]any{
		"image":        map[string]any{"tag": "broken"},
		"controlPlane": map[string]any{"nodeSelector": map[string]any{"nest.dev/no-such-node": "x"}},
	}})
	if err == nil || !strings.Contains(err.Error(), "rolled back to release revision 2") {
		t.Fatalf("failing upgrade: %v, want it rolled back", err)
	}
	assertImage(t, env, ns, full, ":upgrade-test", 4)
	stop()
	runChartPodIn(t, env, ns, full+"-0", state)
	if n := countConfigMaps(t, kubeClient(t, kubeconfigPath)); n != configMaps {
		t.Errorf("after the rolled-back upgrade: %d configmaps, want %d", n, configMaps)
	}
}

// publishedConfig is the kubeconfig a pod-runtime cluster publishes.
func publishedConfig(t *testing.T, p *lifecycle.Provider, name string) []byte {
	t.Helper()
	cfg, err := p.Kubeconfig(context.Background(), name)
	if err != nil {
		return nil
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// publishedClient waits for the kubeconfig a pod-runtime cluster
// publishes, writes it to a file and returns a client of it, once the
// default service account exists.
func publishedClient(t *testing.T, p *lifecycle.Provider, name string) (kubernetes.Interface, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	testenv.Eventually(t, 3*time.Minute, "the published kubeconfig of "+name, func() (bool, error) {
		cfg, err := p.Kubeconfig(context.Background(), name)
		if err != nil {
			return false, err
		}
		return true, clientcmd.WriteToFile(*cfg, path)
	})
	client := kubeClient(t, path)
	testenv.Eventually(t, 2*time.Minute, "the default service account of "+name, func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts("default").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil, err
	})
	return client, path
}

func kubeClient(t *testing.T, path string) kubernetes.Interface {
	t.Helper()
	c, err := kube.Clientset(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// countConfigMaps counts the configmaps of namespace data, waiting for the
// apiserver to answer.
func countConfigMaps(t *testing.T, c kubernetes.Interface) int {
	t.Helper()
	n := -1
	testenv.Eventually(t, 2*time.Minute, "the configmaps of namespace data", func() (bool, error) {
		l, err := c.CoreV1().ConfigMaps("data").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		n = 0
		for _, cm := range l.Items {
			if strings.HasPrefix(cm.Name, "cm-") {
				n++
			}
		}
		return true, nil
	})
	return n
}

// assertImage checks the release's revision and that the StatefulSet and
// its one ready pod run an image ending in suffix.
func assertImage(t *testing.T, env *testenv.Env, ns, full, suffix string, revision int) {
	t.Helper()
	ctx := context.Background()
	_, rev, err := chartrelease.Values(env.Kubeconfig, ns, strings.TrimSuffix(full, "-nest"), slog.New(slog.DiscardHandler))
	if err != nil || rev != revision {
		t.Errorf("release revision %d, %v; want %d", rev, err, revision)
	}
	testenv.Eventually(t, 2*time.Minute, "the control plane's pod on "+suffix, func() (bool, error) {
		sts, err := env.Client.AppsV1().StatefulSets(ns).Get(ctx, full, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if img := sts.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, suffix) {
			return false, fmt.Errorf("StatefulSet image %s", img)
		}
		pod, err := env.Client.CoreV1().Pods(ns).Get(ctx, full+"-0", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if img := pod.Spec.Containers[0].Image; !strings.HasSuffix(img, suffix) || pod.Status.Phase != corev1.PodRunning {
			return false, fmt.Errorf("pod image %s, phase %s", img, pod.Status.Phase)
		}
		return true, nil
	})
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
