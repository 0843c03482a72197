package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
)

// apiLoad is one open-loop load: total secret creates at qps.
type apiLoad struct {
	total, qps int
	// goal is the target mean latency on the virtual cluster.
	goal time.Duration
}

// loadResult is what one load measured.
type loadResult struct {
	latencies []float64 // seconds, successful requests only
	errors    int
	firstErr  error
	achieved  float64 // successful requests per second, first send to last reply
}

// apiTarget is an apiserver the load runs against.
type apiTarget struct {
	name   string
	client kubernetes.Interface
}

// apiLatency measures what a tenant's writes cost through a virtual
// apiserver (kine+SQLite in the control-plane process): 300 secrets at 30 qps
// and 5,000 at 200 qps, goal ≤ 20 ms and ≤ 50 ms mean latency. The same
// loads run against the local host's apiserver in the same run, which is the
// peer: the ratio virtual/host shows what the virtual cluster adds.
func apiLatency(ctx context.Context, r *runner) report.Section {
	loads := []apiLoad{{300, 30, 20 * time.Millisecond}, {5000, 200, 50 * time.Millisecond}}
	if r.quick {
		loads = []apiLoad{{100, 30, 20 * time.Millisecond}, {1000, 200, 50 * time.Millisecond}}
	}
	sec := report.Section{
		Title: "api-latency: secret creates through the virtual apiserver",
		About: "Target: create 300 secrets at 30 qps and 5,000 secrets at 200 qps, reporting average and p99 request latency; " +
			"goal ≤ 20 ms / ≤ 50 ms average with the SQLite default; the same load against the local host's apiserver in the same run, and the ratio. " +
			"Each load creates secrets of 1 KiB of data in a fresh namespace, open loop: a `time.Ticker` at the target rate starts each request in its own goroutine, " +
			"whatever the earlier ones are doing. The client is client-go with QPS and burst 1000 (no client-side throttling), one HTTP/2 connection, warmed up by one GET. " +
			"Latency is measured around each Create call. Loads alternate which apiserver goes first. The host's apiserver runs with API priority and fairness, the virtual one without.",
	}
	env, p, err := r.hostAndProvider(ctx)
	if err != nil {
		sec.Err = err
		return sec
	}
	const vcName = "bench-api"
	vc, err := p.Create(ctx, vcName, lifecycle.CreateOptions{})
	defer deleteClusters(p, []string{vcName})
	if err != nil {
		sec.Err = fmt.Errorf("create %s: %w", vcName, err)
		return sec
	}
	var targets []apiTarget
	for _, t := range []struct{ name, kubeconfig string }{{"virtual", vc.Kubeconfig}, {"host", env.Kubeconfig}} {
		c, err := loadClient(t.kubeconfig)
		if err != nil {
			sec.Err = err
			return sec
		}
		targets = append(targets, apiTarget{t.name, c})
	}
	var namespaces []func()
	defer func() {
		for _, del := range namespaces {
			del()
		}
	}()

	table := report.Table{Header: []string{"Figure", "mean", "p50", "p90", "p99", "n", "achieved qps", "errors", "goal (mean)", "compared to", "ratio (mean)", "ratio (p99)"}}
	for i, l := range loads {
		order := slices.Clone(targets)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		results := map[string]loadResult{}
		for _, t := range order {
			ns := fmt.Sprintf("nestbench-api-%d-at-%d", l.total, l.qps)
			logf("api-latency: %s: %d secrets at %d qps", t.name, l.total, l.qps)
			res, err := runLoad(ctx, t.client, ns, l)
			namespaces = append(namespaces, func() { deleteNamespace(t.client, ns) })
			if err != nil {
				sec.Err = fmt.Errorf("%s, %d at %d qps: %w", t.name, l.total, l.qps, err)
				return sec
			}
			s := stats.Summarize(res.latencies)
			logf("api-latency: %s: mean %s, p99 %s, %.1f qps achieved, %d errors", t.name, report.Seconds(s.Mean), report.Seconds(s.P99), res.achieved, res.errors)
			if res.firstErr != nil {
				logf("api-latency: %s: first error: %v", t.name, res.firstErr)
			}
			results[t.name] = res
		}
		virt, host := stats.Summarize(results["virtual"].latencies), stats.Summarize(results["host"].latencies)
		row := func(name string, s stats.Summary, res loadResult, goal, ref string, rMean, rP99 float64) []string {
			return []string{fmt.Sprintf("%s: %d secrets @ %d qps", name, l.total, l.qps),
				report.Seconds(s.Mean), report.Seconds(s.P50), report.Seconds(s.P90), report.Seconds(s.P99), fmt.Sprint(s.N),
				fmt.Sprintf("%.1f", res.achieved), fmt.Sprint(res.errors), goal, ref, report.Ratio(rMean), report.Ratio(rP99)}
		}
		table.Rows = append(table.Rows,
			row("virtual", virt, results["virtual"], "≤ "+fmtD(l.goal), fmt.Sprintf("host: mean %s, p99 %s", report.Seconds(host.Mean), report.Seconds(host.P99)),
				stats.Ratio(virt.Mean, host.Mean), stats.Ratio(virt.P99, host.P99)),
			row("host", host, results["host"], "–", "–", stats.Ratio(0, 0), stats.Ratio(0, 0)),
		)
		verdict := "met"
		if virt.Mean > l.goal.Seconds() {
			verdict = "**missed**"
		}
		sec.Notes = append(sec.Notes, fmt.Sprintf("%d secrets at %d qps: goal mean ≤ %s on the virtual cluster %s (mean %s, p99 %s; host mean %s, p99 %s).",
			l.total, l.qps, fmtD(l.goal), verdict, report.Seconds(virt.Mean), report.Seconds(virt.P99), report.Seconds(host.Mean), report.Seconds(host.P99)))
	}
	sec.Tables = append(sec.Tables, table)
	return sec
}

// loadClient is a clientset that never throttles the loads here.
func loadClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := kube.RESTConfig(kubeconfig, "")
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	return kubernetes.NewForConfig(cfg)
}

// runLoad creates l.total secrets in a fresh namespace ns, one request
// started per tick of a ticker at l.qps, each in its own goroutine.
func runLoad(ctx context.Context, client kubernetes.Interface, ns string, l apiLoad) (loadResult, error) {
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return loadResult{}, fmt.Errorf("create namespace %s: %w", ns, err)
	}
	// Warm up: the connection and the namespace lookup are not part of the load.
	if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		return loadResult{}, err
	}
	payload := make([]byte, 1024)
	if _, err := rand.Read(payload); err != nil {
		return loadResult{}, err
	}
	lat := make([]time.Duration, l.total)
	errs := make([]error, l.total)
	var wg sync.WaitGroup
	ticker := time.NewTicker(time.Second / time.Duration(l.qps))
	defer ticker.Stop()
	start := time.Now()
	var lastDone time.Time
	var mu sync.Mutex
	sent := 0
send:
	for i := range l.total {
		if i > 0 {
			select {
			case <-ticker.C:
			case <-ctx.Done():
				break send
			}
		}
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			secret := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%05d", i)},
				Type:       corev1.SecretTypeOpaque,
				Data:       map[string][]byte{"payload": payload},
			}
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			t := time.Now()
			_, err := client.CoreV1().Secrets(ns).Create(rctx, secret, metav1.CreateOptions{})
			now := time.Now()
			lat[i], errs[i] = now.Sub(t), err
			mu.Lock()
			if now.After(lastDone) {
				lastDone = now
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}
	var res loadResult
	for i := range sent {
		if errs[i] != nil {
			res.errors++
			if res.firstErr == nil {
				res.firstErr = errs[i]
			}
			continue
		}
		res.latencies = append(res.latencies, lat[i].Seconds())
	}
	res.achieved = stats.Ratio(float64(len(res.latencies)), lastDone.Sub(start).Seconds())
	if len(res.latencies) == 0 {
		return res, fmt.Errorf("every request failed, the first with: %w", res.firstErr)
	}
	return res, nil
}

// deleteNamespace deletes a load's namespace without waiting for it to go.
func deleteNamespace(client kubernetes.Interface, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		logf("api-latency: delete namespace %s: %v", ns, err)
	}
}
