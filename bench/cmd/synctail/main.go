// Command synctail measures the syncer's down-sync latency tail (virtual pod
// created → host pod exists) the way the sync benchmark does (pods created
// at 10/s into a fresh virtual cluster), for one or more nest binaries
// side by side on one local host, interleaved round by round, so that a
// change can be compared on a shared machine. It prints, per binary, the
// p50/p90/p99/max and every slow pod with its creation index and its time
// since the cluster was created.
//
//	go build -o bin/synctail ./bench/cmd/synctail
//	bin/synctail --bins /tmp/nest-old,bin/nest --rounds 3
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/lifecycle"
	nestlog "github.com/nestcluster/nest/pkg/log"
	nestnames "github.com/nestcluster/nest/pkg/names"
	"github.com/nestcluster/nest/pkg/nesthome"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "synctail:", err)
		os.Exit(1)
	}
}

// sample is one pod's down-sync latency.
type sample struct {
	index   int
	since   time.Duration // created, after the cluster's create returned
	latency time.Duration
}

func run() error {
	bins := flag.String("bins", "bin/nest", "comma-separated nest binaries to compare (the first also runs the host)")
	rounds := flag.Int("rounds", 1, "fresh clusters per binary")
	pods := flag.Int("pods", 100, "pods per cluster, created at 10/s")
	logs := flag.String("logs", "", "copy each cluster's controlplane.log into this directory")
	early := flag.Duration("early", 5*time.Second, "report pods created this soon after the cluster's create returned apart")
	slow := flag.Duration("slow", 100*time.Millisecond, "list pods slower than this")
	flag.Parse()
	var binaries []string
	for _, b := range strings.Split(*bins, ",") {
		abs, err := filepath.Abs(b)
		if err != nil {
			return err
		}
		binaries = append(binaries, abs)
	}
	root, err := os.MkdirTemp("", "synctail-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	for k, v := range map[string]string{nesthome.EnvVar: filepath.Join(root, "home"), "KUBECONFIG": filepath.Join(root, "user.kubeconfig")} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	env, err := testenv.StartHost(filepath.Join(root, "home"), binaries[0], 10)
	if err != nil {
		return err
	}
	defer func() {
		testenv.StopVirtualClusters(context.Background(), env)
		_, _ = env.Host.Down(context.Background(), false)
	}()
	ctx := context.Background()
	all := make([][]sample, len(binaries))
	for round := range *rounds {
		for i, bin := range binaries {
			p, err := lifecycle.NewProvider(env.Home, lifecycle.WithNestBinary(bin), lifecycle.WithLogger(nestlog.New(os.Stderr, -1)))
			if err != nil {
				return err
			}
			name := fmt.Sprintf("tail-%d-%d", round, i)
			got, err := measure(ctx, env.Client, p, name, *pods)
			if err != nil {
				return fmt.Errorf("%s with %s: %w", name, bin, err)
			}
			all[i] = append(all[i], got...)
			fmt.Printf("round %d %s: %s\n", round, bin, summary(got))
			for _, s := range got {
				if s.latency > *slow {
					fmt.Printf("  slow pod #%d created %s after create returned: %s\n", s.index, s.since.Round(time.Millisecond), s.latency.Round(time.Millisecond))
				}
			}
			if *logs != "" {
				if data, err := os.ReadFile(filepath.Join(env.Home.ClusterDir(name), "controlplane.log")); err == nil {
					_ = os.WriteFile(filepath.Join(*logs, name+".log"), data, 0o644)
				}
			}
			_ = p.Delete(ctx, name)
		}
	}
	fmt.Println("all rounds:")
	for i, bin := range binaries {
		var first, rest []sample
		for _, s := range all[i] {
			if s.since < *early {
				first = append(first, s)
			} else {
				rest = append(rest, s)
			}
		}
		fmt.Printf("  %s: %s\n", bin, summary(all[i]))
		fmt.Printf("    created in the cluster's first %s: %s\n", *early, summary(first))
		fmt.Printf("    created later: %s\n", summary(rest))
	}
	return nil
}

func summary(samples []sample) string {
	var ds []time.Duration
	for _, s := range samples {
		ds = append(ds, s.latency)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	st := stats.Summarize(stats.Seconds(ds))
	ms := func(v float64) string { return fmt.Sprintf("%.1f ms", v*1000) }
	return fmt.Sprintf("n %d p50 %s p90 %s p99 %s max %s", st.N, ms(st.P50), ms(st.P90), ms(st.P99), ms(st.Max))
}

// measure creates a fresh cluster and n pods in it at 10/s, as the sync
// benchmark does, and returns each pod's latency to the host.
func measure(ctx context.Context, host kubernetes.Interface, p *lifecycle.Provider, name string, n int) ([]sample, error) {
	vc, err := p.Create(ctx, name, lifecycle.CreateOptions{})
	if err != nil {
		return nil, err
	}
	ready := time.Now()
	virtual, err := kube.Clientset(vc.Kubeconfig)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	seen := map[string]time.Time{}
	hf := informers.NewSharedInformerFactoryWithOptions(host, 0, informers.WithNamespace(vc.HostNamespace))
	hi := hf.Core().V1().Pods().Informer()
	if _, err := hi.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			mu.Lock()
			if _, ok := seen[pod.Annotations[nestnames.AnnotationVirtualName]]; !ok {
				seen[pod.Annotations[nestnames.AnnotationVirtualName]] = time.Now()
			}
			mu.Unlock()
		}
	}}); err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	defer func() { close(stop); hf.Shutdown() }()
	hf.Start(stop)
	cache.WaitForCacheSync(stop, hi.HasSynced)
	created := make([]time.Time, n)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := range n {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("lat-%03d", i)}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}}}
		if _, err := virtual.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		created[i] = time.Now()
		<-tick.C
	}
	deadline := time.Now().Add(2 * time.Minute) // a deadlock guard only
	for {
		mu.Lock()
		done := len(seen) >= n
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d pods reached the host", len(seen), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out []sample
	mu.Lock()
	defer mu.Unlock()
	for i, t0 := range created {
		out = append(out, sample{index: i, since: t0.Sub(ready), latency: seen[fmt.Sprintf("lat-%03d", i)].Sub(t0)})
	}
	return out, nil
}
