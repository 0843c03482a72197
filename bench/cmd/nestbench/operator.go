package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/pkg/kube"
	"github.com/nestcluster/nest/pkg/nesthome"
	"github.com/nestcluster/nest/pkg/operator"
	"github.com/nestcluster/nest/pkg/operator/apis/v1alpha1"
)

// operatorBench measures `nest operator` on the shared host: the time from
// a VirtualCluster applied to its phase Ready, against `nest create` of the
// same cluster (the CLI binary, until it returns) in the same run, one of
// each in turn; and the time from the VirtualCluster deleted to gone.
func operatorBench(ctx context.Context, r *runner) report.Section {
	runs := 5
	if r.quick {
		runs = 2
	}
	sec := report.Section{
		Title: "operator: VirtualCluster applied to Ready",
		About: fmt.Sprintf("Issue 6 asks for the operator's time from CR applied to Ready on the local host (it sets no target). "+
			"The operator runs in the benchmark process (runtime process, one worker, the leader-election Lease taken first, untimed); "+
			"each run creates a VirtualCluster with an empty spec and polls it every 20 ms until status.phase is Ready (the control plane answers and the kubeconfig Secret is written), "+
			"then runs `nest create` (the binary) for a cluster of its own and times it until it returns; %d runs of each, interleaved. "+
			"Delete is timed from the delete request until the VirtualCluster is gone (host namespace deleted, finalizer removed). "+
			"The ratio is operator p50 / `nest create` p50.", runs),
	}
	env, _, err := r.hostAndProvider(ctx)
	if err != nil {
		sec.Err = err
		return sec
	}
	const namespace = "bench-operator"
	if _, err := env.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		sec.Err = err
		return sec
	}
	state, err := nesthome.Open(filepath.Join(r.root, "operator-state"))
	if err != nil {
		sec.Err = err
		return sec
	}
	octx, stop := context.WithCancel(ctx)
	leading := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- operator.Run(octx, operator.Config{
			HostKubeconfig: env.Kubeconfig, Home: state, NestBinary: r.nestBin,
			Namespace: namespace, Workers: 1, InstallCRD: true,
			LeaderElection: operator.LeaderElection{Namespace: namespace},
			Logger:         quietLogger(),
			OnLeading:      func() { close(leading) },
		})
	}()
	stopOperator := r.cleanup.Add("stop the operator", func(context.Context) error {
		stop()
		return <-done
	})
	defer stopOperator()
	select {
	case <-leading:
	case err := <-done:
		sec.Err = fmt.Errorf("operator: %w", err)
		return sec
	case <-ctx.Done():
		sec.Err = ctx.Err()
		return sec
	}
	cfg, err := kube.RESTConfig(env.Kubeconfig, "")
	if err != nil {
		sec.Err = err
		return sec
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		sec.Err = err
		return sec
	}
	vcs := dyn.Resource(v1alpha1.GroupVersionResource).Namespace(namespace)

	var ready, deleted, created []time.Duration
	for i := range runs {
		d, del, err := oneOperatorRun(ctx, vcs, fmt.Sprintf("bench-op-%d", i))
		if err != nil {
			sec.Err = err
			return sec
		}
		ready, deleted = append(ready, d), append(deleted, del)
		c, err := oneCLICreate(ctx, r, fmt.Sprintf("bench-cli-%d", i))
		if err != nil {
			sec.Err = err
			return sec
		}
		created = append(created, c)
		logf("operator: run %d: VirtualCluster Ready in %s, deleted in %s; nest create in %s", i+1, fmtD(d), fmtD(del), fmtD(c))
	}
	opS, cliS := stats.Summarize(stats.Seconds(ready)), stats.Summarize(stats.Seconds(created))
	sec.Tables = append(sec.Tables, report.Table{Header: report.StatsHeader(false), Rows: [][]string{
		report.StatsRow("VirtualCluster applied → Ready (operator)", opS, report.Seconds, false,
			"`nest create` "+report.P50(cliS, report.Seconds), report.Ratio(stats.Ratio(opS.P50, cliS.P50))),
		report.StatsRow("`nest create` until it returns", cliS, report.Seconds, false, "–", "–"),
		report.StatsRow("VirtualCluster deleted → gone (operator)", stats.Summarize(stats.Seconds(deleted)), report.Seconds, false, "–", "–"),
	}})
	return sec
}

// oneOperatorRun applies a VirtualCluster, times it to Ready, deletes it
// and times it to gone.
func oneOperatorRun(ctx context.Context, vcs dynamic.ResourceInterface, name string) (ready, deleted time.Duration, err error) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersionKind.GroupVersion().String(), "kind": v1alpha1.Kind,
		"metadata": map[string]any{"name": name}, "spec": map[string]any{},
	}}
	start := time.Now()
	if _, err := vcs.Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return 0, 0, fmt.Errorf("create VirtualCluster %s: %w", name, err)
	}
	for {
		got, err := vcs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return 0, 0, err
		}
		phase, _, _ := unstructured.NestedString(got.Object, "status", "phase")
		if phase == string(v1alpha1.PhaseReady) {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return 0, 0, fmt.Errorf("VirtualCluster %s not Ready after 5m (phase %q)", name, phase)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
	ready = time.Since(start)
	start = time.Now()
	if err := vcs.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return 0, 0, fmt.Errorf("delete VirtualCluster %s: %w", name, err)
	}
	for {
		_, err := vcs.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return 0, 0, fmt.Errorf("VirtualCluster %s not gone after 5m: %v", name, err)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
	return ready, time.Since(start), nil
}

// oneCLICreate times `nest create NAME` and deletes the cluster after.
func oneCLICreate(ctx context.Context, r *runner, name string) (time.Duration, error) {
	start := time.Now()
	out, err := exec.CommandContext(ctx, r.nestBin, "create", name, "--local").CombinedOutput()
	d := time.Since(start)
	defer func() {
		if out, err := exec.Command(r.nestBin, "delete", name, "--local").CombinedOutput(); err != nil {
			logf("operator: nest delete %s: %v\n%s", name, err, out)
		}
	}()
	if err != nil {
		return 0, fmt.Errorf("nest create %s: %w\n%s", name, err, out)
	}
	return d, nil
}
