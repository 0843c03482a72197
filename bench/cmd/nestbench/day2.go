package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/restoreparts"
)

// day2 measures the Day-2 operations of issue 6 on the shared host:
// snapshot and restore of a cluster holding 5,000 objects (time and file
// size), and pause and resume of a cluster running 100 pods.
func day2(ctx context.Context, r *runner) report.Section {
	objects, pods := 5000, 100
	if r.quick {
		objects, pods = 500, 20
	}
	sec := report.Section{
		Title: "day2: snapshot, restore, pause and resume",
		About: fmt.Sprintf("Issue 6 asks for these to be measured (it sets no targets). Snapshot and restore: a virtual cluster (SQLite) holding %d configmaps of 1 KiB "+
			"besides its own objects; `Snapshot` while it runs, then `Restore` into a new cluster, timed until that cluster is ready, and its configmaps counted; "+
			"for the pod runtime (KWOK runs no pod), the host's part of `nest restore --runtime pod`: the file into Secrets of 768 KiB, then read back and checked as the pod's control plane does first. "+
			"Pause and resume: a cluster with one Deployment of %d replicas Running; pause is timed until the control plane is stopped and the host pods are gone, "+
			"resume until the apiserver is ready (what `nest resume` waits for) and until all %d pods are Running on the host again.",
			objects, pods, pods),
	}
	env, p, err := r.hostAndProvider(ctx)
	if err != nil {
		sec.Err = err
		return sec
	}
	rows, err := snapshotRestore(ctx, r, p, env.Client, objects)
	if err != nil {
		sec.Err = err
		return sec
	}
	more, err := pauseResume(ctx, r, p, pods)
	if err != nil {
		sec.Err = err
		return sec
	}
	sec.Tables = append(sec.Tables, report.Table{Header: report.StatsHeader(false), Rows: append(rows, more...)})
	return sec
}

func snapshotRestore(ctx context.Context, r *runner, p *lifecycle.Provider, host kubernetes.Interface, objects int) ([][]string, error) {
	const source, target = "bench-snap", "bench-snap-restored"
	defer deleteClusters(p, []string{source, target})
	vc, err := p.Create(ctx, source, lifecycle.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", source, err)
	}
	client, err := kube.Clientset(vc.Kubeconfig)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := createConfigMaps(ctx, client, objects); err != nil {
		return nil, err
	}
	logf("day2: %d configmaps in %s", objects, fmtD(time.Since(start)))

	file := filepath.Join(r.root, "bench.nestsnap")
	start = time.Now()
	if _, err := p.Snapshot(ctx, source, file); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	snapTime := time.Since(start)
	info, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	start = time.Now()
	restored, err := p.Restore(ctx, target, file, lifecycle.RestoreOptions{})
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	restoreTime := time.Since(start)
	rclient, err := kube.Clientset(restored.Kubeconfig)
	if err != nil {
		return nil, err
	}
	list, err := rclient.CoreV1().ConfigMaps("bench").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	restoredCMs := 0
	for _, cm := range list.Items {
		if strings.HasPrefix(cm.Name, "cm-") { // not the namespace's kube-root-ca.crt
			restoredCMs++
		}
	}
	if restoredCMs != objects {
		return nil, fmt.Errorf("restored cluster holds %d of the %d configmaps", restoredCMs, objects)
	}
	one := func(figure string, d time.Duration) []string {
		return report.StatsRow(figure, stats.Summarize(stats.Seconds([]time.Duration{d})), report.Seconds, false, "–", "–")
	}
	parts, write, read, err := carryToPod(ctx, host, file)
	if err != nil {
		return nil, err
	}
	return [][]string{
		one(fmt.Sprintf("snapshot of %d objects (running cluster)", objects), snapTime),
		report.StatsRow("snapshot file size", stats.Summarize([]float64{float64(info.Size())}), report.MiB, false, "–", "–"),
		one("restore into a new cluster, until ready", restoreTime),
		one(fmt.Sprintf("pod runtime: the file into %d host Secrets (%d parts and the manifest)", parts+1, parts), write),
		one("pod runtime: the parts read back and checked (the pod's first step)", read),
	}, nil
}

// carryToPod times the host's part of a pod-runtime restore of file: its
// Secrets written (restoreparts.Write, as nest restore --runtime pod
// does) and read back and checked (as the pod's control plane does), in a
// namespace of the host made for it. The pod's load is the restore above.
func carryToPod(ctx context.Context, host kubernetes.Interface, file string) (parts int, write, read time.Duration, err error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, 0, err
	}
	const ns = "bench-pod-restore"
	if _, err := host.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return 0, 0, 0, fmt.Errorf("pod-runtime restore: %w", err)
	}
	defer func() { _ = host.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), ns, metav1.DeleteOptions{}) }()
	start := time.Now()
	m, err := restoreparts.Write(ctx, host, ns, "bench", "bench-nest-restore", data)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("pod-runtime restore: %w", err)
	}
	write = time.Since(start)
	start = time.Now()
	var buf bytes.Buffer
	if err := restoreparts.Read(ctx, host, ns, m, &buf); err != nil {
		return 0, 0, 0, fmt.Errorf("pod-runtime restore: %w", err)
	}
	read = time.Since(start)
	if !bytes.Equal(buf.Bytes(), data) {
		return 0, 0, 0, fmt.Errorf("pod-runtime restore: the parts read back differ from the file")
	}
	logf("day2: pod-runtime restore of %d bytes: %d Secrets written in %s, read back in %s", len(data), len(m.Parts)+1, fmtD(write), fmtD(read))
	return len(m.Parts), write, read, restoreparts.Remove(ctx, host, ns, "bench")
}

// createConfigMaps makes n configmaps of 1 KiB in namespace bench, 16 at a
// time.
func createConfigMaps(ctx context.Context, client kubernetes.Interface, n int) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return err
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				// Random hex, a new one each: the snapshot's compression
				// sees data like real configuration, not repeats or zeros.
				raw := make([]byte, 512)
				_, _ = rand.Read(raw)
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%05d", i)}, Data: map[string]string{"payload": hex.EncodeToString(raw)}}
				if _, err := client.CoreV1().ConfigMaps("bench").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("create configmap %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func pauseResume(ctx context.Context, r *runner, p *lifecycle.Provider, pods int) ([][]string, error) {
	const name = "bench-pause"
	defer deleteClusters(p, []string{name})
	env, err := r.sharedHost(ctx)
	if err != nil {
		return nil, err
	}
	vc, err := p.Create(ctx, name, lifecycle.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	client, err := kube.Clientset(vc.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, benchDeployment("paused", int32(pods)), metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	running := func() (int, error) {
		l, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{})
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
	waitRunning := func(what string) error {
		for {
			n, err := running()
			if err != nil {
				return err
			}
			if n == pods {
				return nil
			}
			if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
				return fmt.Errorf("%s: %d of %d pods Running: %w", what, n, pods, err)
			}
		}
	}
	if err := waitRunning("before the pause"); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := p.Pause(ctx, name); err != nil {
		return nil, fmt.Errorf("pause: %w", err)
	}
	pauseTime := time.Since(start)
	start = time.Now()
	if _, err := p.Start(ctx, name, 0); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	resumeReady := time.Since(start)
	if err := waitRunning("after the resume"); err != nil {
		return nil, err
	}
	resumeRunning := time.Since(start)
	one := func(figure string, d time.Duration) []string {
		return report.StatsRow(figure, stats.Summarize(stats.Seconds([]time.Duration{d})), report.Seconds, false, "–", "–")
	}
	return [][]string{
		one(fmt.Sprintf("pause with %d pods, until stopped and host pods gone", pods), pauseTime),
		one("resume, until the apiserver is ready", resumeReady),
		one(fmt.Sprintf("resume, until all %d pods Running on the host", pods), resumeRunning),
	}, nil
}
