package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/restoreparts"
)

// TestPodRuntimeRestoreLarge: a snapshot of several Secrets' worth (about
// 2.4 MiB of incompressible config maps: four parts) restored into a new
// pod-runtime cluster and then over the existing one whose objects
// changed, all through the host API a real pod has: the parts and the
// manifest in Secrets of the host namespace, read by the pod's control
// plane with its service account's token. Objects are counted before and
// after; the Secrets are gone once the restored cluster is ready.
func TestPodRuntimeRestoreLarge(t *testing.T) {
	t.Parallel()
	env := testenv.Get(t)
	p, err := env.Provider()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const name, copyName = "podbig", "podbig-copy"
	ns, full := createPodCluster(t, p, name, copyName)
	state := filepath.Join(t.TempDir(), "volume")
	stop := runChartPodIn(t, env, ns, full+"-0", state)
	client, kubeconfigPath := publishedClient(t, p, name)
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "data"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const configMaps, size = 12, 200 << 10
	var first []byte
	for i := range configMaps {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		if i == 0 {
			first = data
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, BinaryData: map[string][]byte{"blob": data}}
		if _, err := client.CoreV1().ConfigMaps("data").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	snap := filepath.Join(t.TempDir(), "podbig.snapshot")
	start := time.Now()
	h, err := p.Snapshot(ctx, name, snap)
	if err != nil {
		t.Fatal(err)
	}
	fileBytes := fileSize(t, snap)
	parts := int((fileBytes + restoreparts.PartSize - 1) / restoreparts.PartSize)
	t.Logf("snapshot of the pod: %d keys, %d bytes, %d parts, %s", h.Keys, fileBytes, parts, time.Since(start).Round(time.Millisecond))
	if parts < 3 {
		t.Fatalf("the snapshot is %d bytes: %d parts, the test wants at least 3", fileBytes, parts)
	}

	// Into a new cluster: the parts and the manifest are in the host
	// namespace until its control plane has loaded them and is ready.
	start = time.Now()
	if _, err := p.Restore(ctx, copyName, snap, lifecycle.RestoreOptions{Create: lifecycle.CreateOptions{
		Runtime: lifecycle.RuntimePod, ChartValues: podNoVolume}}); err != nil {
		t.Fatal(err)
	}
	copyNS := names.HostNamespace(copyName)
	if n, err := restoreparts.Count(ctx, env.Client, copyNS, copyName); err != nil || n != parts+1 {
		t.Errorf("restore Secrets in %s: %d, %v; want %d parts and a manifest", copyNS, n, err, parts)
	}
	runChartPodIn(t, env, copyNS, copyName+"-nest-0", filepath.Join(t.TempDir(), "copy-volume"))
	copyClient, _ := publishedClient(t, p, copyName)
	if n := countConfigMaps(t, copyClient); n != configMaps {
		t.Errorf("restored pod-runtime cluster: %d configmaps, want %d", n, configMaps)
	}
	assertRestoreSecretsGone(t, env, copyNS, copyName)
	t.Logf("restore into a new pod-runtime cluster, until its Secrets are gone: %s", time.Since(start).Round(time.Millisecond))
	cm, err := copyClient.CoreV1().ConfigMaps("data").Get(ctx, "cm-0", metav1.GetOptions{})
	if err != nil || !bytes.Equal(cm.BinaryData["blob"], first) {
		t.Errorf("cm-0 of the restored cluster differs from the original's (%v)", err)
	}

	// Over the existing cluster, whose objects changed since: stopped,
	// restored, started; its previous objects are replaced, none merged.
	for i := range 4 {
		if err := client.CoreV1().ConfigMaps("data").Delete(ctx, fmt.Sprintf("cm-%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-new-%d", i)}}
		if _, err := client.CoreV1().ConfigMaps("data").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := countConfigMaps(t, client); n != configMaps-4+2 {
		t.Fatalf("before the restore over it: %d configmaps, want %d", n, configMaps-4+2)
	}
	if _, err := p.Restore(ctx, name, snap, lifecycle.RestoreOptions{}); !errors.Is(err, lifecycle.ErrRunning) {
		t.Errorf("restore over the running cluster without Stop: %v, want ErrRunning", err)
	}
	stop() // the pod's process; nest restore scales its StatefulSet to 0 and back
	start = time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := p.Restore(ctx, name, snap, lifecycle.RestoreOptions{Stop: true})
		done <- err
	}()
	testenv.Eventually(t, 3*time.Minute, "the restore's manifest and a new pod", func() (bool, error) {
		if _, err := env.Client.CoreV1().Secrets(ns).Get(ctx, full+"-restore", metav1.GetOptions{}); err != nil {
			return false, err
		}
		pod, err := env.Client.CoreV1().Pods(ns).Get(ctx, full+"-0", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning, nil
	})
	stop = runChartPodIn(t, env, ns, full+"-0", state)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("restore over the pod-runtime cluster: %v", err)
		}
	case <-time.After(10 * time.Minute): // deadlock guard
		t.Fatal("restore over the pod-runtime cluster did not return")
	}
	t.Logf("restore over the pod-runtime cluster, until confirmed: %s", time.Since(start).Round(time.Millisecond))
	if n := countConfigMaps(t, kubeClient(t, kubeconfigPath)); n != configMaps {
		t.Errorf("after the restore over it: %d configmaps, want %d", n, configMaps)
	}
	if _, err := kubeClient(t, kubeconfigPath).CoreV1().ConfigMaps("data").Get(ctx, "cm-new-0", metav1.GetOptions{}); err == nil {
		t.Error("cm-new-0, made after the snapshot, survived the restore")
	}
	assertRestoreSecretsGone(t, env, ns, name)
	if _, err := os.Stat(filepath.Join(state, "host-restore", "pre-restore.snapshot")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the objects saved before the restore are still kept: %v", err)
	}

	// A restore one of whose parts went missing is refused by the control
	// plane before it touches anything; nest restore reports why, deletes
	// the Secrets and restarts the pod, which serves its objects as they were.
	extra := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm-after"}}
	if _, err := kubeClient(t, kubeconfigPath).CoreV1().ConfigMaps("data").Create(ctx, extra, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	stop()
	go func() {
		_, err := p.Restore(ctx, name, snap, lifecycle.RestoreOptions{Stop: true})
		done <- err
	}()
	testenv.Eventually(t, 3*time.Minute, "the second restore's manifest and a new pod", func() (bool, error) {
		if _, err := env.Client.CoreV1().Secrets(ns).Get(ctx, full+"-restore", metav1.GetOptions{}); err != nil {
			return false, err
		}
		pod, err := env.Client.CoreV1().Pods(ns).Get(ctx, full+"-0", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pod.DeletionTimestamp == nil && pod.Status.Phase == corev1.PodRunning, nil
	})
	if err := env.Client.CoreV1().Secrets(ns).Delete(ctx, restoreparts.PartName(full+"-restore", 1), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	stop = runChartPodIn(t, env, ns, full+"-0", state)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "part 2 of") || !strings.Contains(err.Error(), "is missing") {
			t.Fatalf("restore with a missing part: %v, want it refused for its part 2", err)
		}
		t.Logf("restore with a missing part: %v", err)
	case <-time.After(10 * time.Minute): // deadlock guard
		t.Fatal("restore with a missing part did not return")
	}
	assertRestoreSecretsGone(t, env, ns, name)
	stop() // the runner that refused the restore has exited; make sure
	runChartPodIn(t, env, ns, full+"-0", state)
	if n := countConfigMaps(t, kubeClient(t, kubeconfigPath)); n != configMaps+1 {
		t.Errorf("after the refused restore: %d configmaps, want %d (the objects as they were)", n, configMaps+1)
	}
}

// assertRestoreSecretsGone waits until the control plane of cluster deleted
// its restore's Secrets from namespace ns (it does once it is ready).
func assertRestoreSecretsGone(t *testing.T, env *testenv.Env, ns, cluster string) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, "the restore Secrets of "+cluster+" deleted", func() (bool, error) {
		n, err := restoreparts.Count(context.Background(), env.Client, ns, cluster)
		return err == nil && n == 0, err
	})
}
