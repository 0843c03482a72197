package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/bench/procfs"
	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	"github.com/nestcluster/nest/pkg/localhost"
	nestnames "github.com/nestcluster/nest/pkg/names"
)

// syncNodes is the size of the host the sync benchmark starts: 1,000 pods
// need 10 simulated nodes of 110 pods.
const syncNodes = 10

// podTimes is what watches saw of pods, by virtual name.
type podTimes struct {
	mu             sync.Mutex
	hostAdded      map[string]time.Time
	hostRunning    map[string]time.Time
	virtualRunning map[string]time.Time
}

func newPodTimes() *podTimes {
	return &podTimes{hostAdded: map[string]time.Time{}, hostRunning: map[string]time.Time{}, virtualRunning: map[string]time.Time{}}
}

// first records the first time of name in m.
func (p *podTimes) first(m map[string]time.Time, name string, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := m[name]; !ok {
		m[name] = at
	}
}

// syncBench measures the syncer (issue 5): how long a virtual pod takes to
// exist on the host, how long a host pod's Running takes to show in the
// virtual cluster, and 1,000 pods through Deployments in a virtual cluster
// against the same Deployments directly on the host, in the same run.
func syncBench(ctx context.Context, r *runner) report.Section {
	pods, deployments, replicas := 100, 10, 100
	if r.quick {
		pods, deployments, replicas = 20, 2, 50
	}
	total := deployments * replicas
	sec := report.Section{
		Title: "sync: the syncer's latency and 1,000 pods",
		About: fmt.Sprintf("Targets (issue 5): virtual pod created → host pod exists p50 ≤ 50 ms, p99 ≤ 250 ms; host pod Running → virtual pod Running p50 ≤ 100 ms; "+
			"%d pods (%d Deployments × %d) Running in the virtual cluster within 1.3× the time the same Deployments take directly on the host, in the same run. "+
			"A host of %d simulated nodes is started for this benchmark. Latencies: %d pods created one after the other (10 per second) in the virtual cluster; "+
			"times are when this program's watches (informers on both apiservers) first see each state, so they include watch delivery. "+
			"The 1,000 pods: Deployments created at once, timed from the first create to the last pod seen Running; first on the host, then (after the host pods are gone) in a virtual cluster. "+
			"Syncer cost: CPU seconds and resident memory growth of the virtual cluster's process (apiserver, controllers and syncer together) over the %d-pod run.",
			total, deployments, replicas, syncNodes, pods, total),
	}
	dir := filepath.Join(r.root, "sync-host")
	env, stop, err := r.startHost(ctx, dir, localhost.DatastoreKine, syncNodes)
	if err != nil {
		sec.Err = err
		return sec
	}
	defer stop()
	p, err := r.provider(env)
	if err != nil {
		sec.Err = err
		return sec
	}
	const vcName = "bench-sync"
	vc, err := p.Create(ctx, vcName, lifecycle.CreateOptions{})
	if err != nil {
		sec.Err = fmt.Errorf("create %s: %w", vcName, err)
		return sec
	}
	defer deleteClusters(p, []string{vcName})
	virtual, err := kube.Clientset(vc.Kubeconfig)
	if err != nil {
		sec.Err = err
		return sec
	}

	times := newPodTimes()
	stopWatch, err := watchPodTimes(env.Client, virtual, vc.HostNamespace, times)
	if err != nil {
		sec.Err = err
		return sec
	}
	defer stopWatch()
	created := map[string]time.Time{}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	logf("sync: %d pods one by one", pods)
	for i := range pods {
		name := fmt.Sprintf("lat-%03d", i)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}}
		if _, err := virtual.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			sec.Err = fmt.Errorf("create pod %s: %w", name, err)
			return sec
		}
		created[name] = time.Now()
		select {
		case <-tick.C:
		case <-ctx.Done():
			sec.Err = ctx.Err()
			return sec
		}
	}
	if err := waitFor(ctx, 2*time.Minute, func() bool {
		times.mu.Lock()
		defer times.mu.Unlock()
		return len(times.virtualRunning) >= pods
	}); err != nil {
		sec.Err = fmt.Errorf("latency pods Running in the virtual cluster: %w", err)
		return sec
	}
	var down, up []time.Duration
	times.mu.Lock()
	for name, t0 := range created {
		down = append(down, times.hostAdded[name].Sub(t0))
		up = append(up, times.virtualRunning[name].Sub(times.hostRunning[name]))
	}
	times.mu.Unlock()
	downS, upS := stats.Summarize(stats.Seconds(down)), stats.Summarize(stats.Seconds(up))
	latency := report.Table{Header: []string{"Figure", "p50", "p90", "p99", "max", "n", "target"}, Rows: [][]string{
		{"virtual pod created → host pod exists", report.Seconds(downS.P50), report.Seconds(downS.P90), report.Seconds(downS.P99), report.Seconds(downS.Max), fmt.Sprint(downS.N), "p50 ≤ 50 ms, p99 ≤ 250 ms"},
		{"host pod Running → virtual pod Running", report.Seconds(upS.P50), report.Seconds(upS.P90), report.Seconds(upS.P99), report.Seconds(upS.Max), fmt.Sprint(upS.N), "p50 ≤ 100 ms"},
	}}
	logf("sync: down p50 %s p99 %s; up p50 %s", report.Seconds(downS.P50), report.Seconds(downS.P99), report.Seconds(upS.P50))
	if err := virtual.CoreV1().Pods("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		sec.Err = err
		return sec
	}
	if err := waitFor(ctx, 2*time.Minute, func() bool {
		l, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{})
		return err == nil && len(l.Items) == 0
	}); err != nil {
		sec.Err = fmt.Errorf("latency pods to leave the host: %w", err)
		return sec
	}

	logf("sync: %d pods directly on the host", total)
	hostNS := "nestbench-sync"
	if _, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: hostNS}}, metav1.CreateOptions{}); err != nil {
		sec.Err = err
		return sec
	}
	hostRun, err := deploymentsRunning(ctx, env.Client, hostNS, deployments, replicas)
	hostTook := hostRun.all.Sub(hostRun.start)
	if err != nil {
		sec.Err = fmt.Errorf("on the host: %w", err)
		return sec
	}
	deleteNamespace(env.Client, hostNS)
	if err := waitFor(ctx, 3*time.Minute, func() bool {
		l, err := env.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: "nestbench"})
		return err == nil && len(l.Items) == 0
	}); err != nil {
		sec.Err = fmt.Errorf("host pods of the first run to go: %w", err)
		return sec
	}

	logf("sync: %d pods in the virtual cluster", total)
	cpu0, rss0, err := processCost(vc.PID)
	if err != nil {
		sec.Err = err
		return sec
	}
	vcRun, err := deploymentsRunning(ctx, virtual, "default", deployments, replicas)
	vcTook := vcRun.all.Sub(vcRun.start)
	if err != nil {
		sec.Err = fmt.Errorf("in the virtual cluster: %w", err)
		return sec
	}
	cpu1, rss1, err := processCost(vc.PID)
	if err != nil {
		sec.Err = err
		return sec
	}
	hostPods, err := env.Client.CoreV1().Pods(vc.HostNamespace).List(ctx, metav1.ListOptions{LabelSelector: nestnames.LabelVirtualCluster + "=" + vcName})
	if err != nil {
		sec.Err = err
		return sec
	}
	logf("sync: host %s, virtual %s (%d host pods)", fmtD(hostTook), fmtD(vcTook), len(hostPods.Items))
	ratio := stats.Ratio(vcTook.Seconds(), hostTook.Seconds())
	per1000 := 1000 / float64(total)
	scale := report.Table{Header: []string{"Figure", "value", "target", "compared to", "ratio"}, Rows: [][]string{
		{fmt.Sprintf("%d pods Running, directly on the host", total), fmtD(hostTook), "–", "–", "–"},
		{fmt.Sprintf("%d pods Running, in a virtual cluster", total), fmtD(vcTook), "≤ 1.3× host", "host: " + fmtD(hostTook), report.Ratio(ratio)},
		{"host copies of those pods", fmt.Sprint(len(hostPods.Items)), fmt.Sprint(total), "–", "–"},
		{"virtual cluster process CPU per 1,000 synced pods", fmt.Sprintf("%.1f s", (cpu1-cpu0)*per1000), "–", "–", "–"},
		{"virtual cluster process memory growth per 1,000 synced pods", report.MiB(float64(rss1-rss0) * per1000), "–", "–", "–"},
	}}
	sec.Tables = []report.Table{latency, scale}
	return sec
}

// watchPodTimes records, with informers on both apiservers, when each pod
// of the virtual cluster is first seen on the host, Running on the host,
// and Running in the virtual cluster.
func watchPodTimes(host, virtual kubernetes.Interface, hostNS string, times *podTimes) (stop func(), err error) {
	hf := informers.NewSharedInformerFactoryWithOptions(host, 0, informers.WithNamespace(hostNS))
	vf := informers.NewSharedInformerFactoryWithOptions(virtual, 0, informers.WithNamespace("default"))
	onHost := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		now, name := time.Now(), pod.Annotations[nestnames.AnnotationVirtualName]
		times.first(times.hostAdded, name, now)
		if pod.Status.Phase == corev1.PodRunning {
			times.first(times.hostRunning, name, now)
		}
	}
	onVirtual := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok && pod.Status.Phase == corev1.PodRunning {
			times.first(times.virtualRunning, pod.Name, time.Now())
		}
	}
	hi, vi := hf.Core().V1().Pods().Informer(), vf.Core().V1().Pods().Informer()
	for _, h := range []struct {
		inf cache.SharedIndexInformer
		fn  func(any)
	}{{hi, onHost}, {vi, onVirtual}} {
		if _, err := h.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: h.fn, UpdateFunc: func(_, obj any) { h.fn(obj) }}); err != nil {
			return nil, err
		}
	}
	stopCh := make(chan struct{})
	hf.Start(stopCh)
	vf.Start(stopCh)
	if !cache.WaitForCacheSync(stopCh, hi.HasSynced, vi.HasSynced) {
		close(stopCh)
		return nil, errors.New("pod informers did not sync")
	}
	return func() { close(stopCh); hf.Shutdown(); vf.Shutdown() }, nil
}

// runTimes is when deploymentsRunning started creating, and when it saw the
// first and the last pod Running.
type runTimes struct{ start, first, all time.Time }

// deploymentsRunning creates n Deployments of replicas pods at once in ns
// and returns its runTimes, seen by a pod informer started before the first
// create.
func deploymentsRunning(ctx context.Context, client kubernetes.Interface, ns string, n, replicas int) (t runTimes, err error) {
	want := n * replicas
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "nestbench" }))
	inf := factory.Core().V1().Pods().Informer()
	var mu sync.Mutex
	running := map[string]bool{}
	done := make(chan struct{})
	seen := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Status.Phase != corev1.PodRunning {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if running[pod.Name] || len(running) >= want {
			return
		}
		running[pod.Name] = true
		if len(running) == 1 {
			t.first = time.Now()
		}
		if len(running) == want {
			t.all = time.Now()
			close(done)
		}
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: seen, UpdateFunc: func(_, obj any) { seen(obj) }}); err != nil {
		return t, err
	}
	stopCh := make(chan struct{})
	defer func() { close(stopCh); factory.Shutdown() }()
	factory.Start(stopCh)
	if !cache.WaitForCacheSync(stopCh, inf.HasSynced) {
		return t, errors.New("pod informer did not sync")
	}
	t.start = time.Now()
	for i := range n {
		d := benchDeployment(fmt.Sprintf("nestbench-%d", i), int32(replicas))
		if _, err := client.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return t, fmt.Errorf("create deployment %s: %w", d.Name, err)
		}
	}
	timeout := time.NewTimer(10 * time.Minute)
	defer timeout.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		return t, ctx.Err()
	case <-timeout.C:
		mu.Lock()
		defer mu.Unlock()
		return t, fmt.Errorf("only %d of %d pods Running after 10 minutes", len(running), want)
	}
	mu.Lock()
	defer mu.Unlock()
	return t, nil
}

// processCost returns a process's CPU seconds and resident memory in bytes.
func processCost(pid int) (cpuSeconds float64, rss int64, err error) {
	if cpuSeconds, err = procfs.ReadCPUSeconds(pid); err != nil {
		return 0, 0, err
	}
	mem, err := procfs.ReadProcMem(pid)
	return cpuSeconds, mem.RSS, err
}

// waitFor polls cond until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s", timeout)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// benchDeployment is a Deployment of pause pods, labelled nestbench=NAME.
func benchDeployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"nestbench": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
}
