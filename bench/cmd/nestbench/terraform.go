package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/kube"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/nesthome"
	"github.com/nestcluster/nest/pkg/terraform/tfrun"
)

// Issue 9's goals for examples/ci-cd on the local host.
const (
	tfApplyGoal   = 15 * time.Second
	tfDestroyGoal = 10 * time.Second
)

// terraformBench times `terraform apply` of examples/ci-cd until its
// kubeconfig output works, and `terraform destroy`, a few times, against a
// hub with its default reconciler settings on the shared local host.
func terraformBench(ctx context.Context, r *runner) report.Section {
	runs := 5
	if r.quick {
		runs = 2
	}
	sec := report.Section{
		Title: "terraform: examples/ci-cd apply and destroy",
		About: fmt.Sprintf("Target (issue 9): `terraform apply` of `examples/ci-cd` (a cluster group on the registered local host, a cluster profile with a pipeline operator's CRDs, RBAC and controller Deployment, "+
			"a virtual cluster with that profile) to a usable kubeconfig ≤ %s; `terraform destroy` ≤ %s. "+
			"The real terraform (%s) runs on a copy of the folder with the provider served in the benchmark's process (pkg/terraform/tfrun; nothing downloaded), "+
			"against a hub in this process with its default reconciler settings (SQLite), the local host registered once. "+
			"Apply is timed from the start of `terraform apply` to the end of `terraform output -raw kubeconfig`; the kubeconfig is then checked (untimed) by listing Pipelines with it. "+
			"Destroy is timed until `terraform destroy` returns (the virtual cluster gone from its host and the hub). %d runs, one after the other; "+
			"the hub-side rows split the apply by the hub's own timestamps, and give the part of a destroy spent in the hub reconciler's lifecycle delete (from its log). "+
			"That delete waits for the host namespace to go, which takes at least the host namespace controller's fixed 5 s grace.",
			fmtD(tfApplyGoal), fmtD(tfDestroyGoal), tfrun.DefaultTerraform, runs),
	}
	tf, err := tfrun.Terraform()
	if err != nil {
		sec.Err = err
		return sec
	}
	res, err := terraformRuns(ctx, r, tf, runs)
	if err != nil {
		sec.Err = err
		return sec
	}
	table := report.Table{Header: []string{"Figure", "p50", "p90", "mean", "n", "goal", "result"}}
	row := func(figure string, samples []float64, goal time.Duration) {
		s := stats.Summarize(samples)
		goalText, verdict := "–", "–"
		if goal > 0 {
			goalText, verdict = "≤ "+fmtD(goal), "met"
			if s.P50 > goal.Seconds() {
				verdict = "**missed**"
			}
			sec.Notes = append(sec.Notes, fmt.Sprintf("%s: goal ≤ %s %s (p50 %s, p90 %s).", figure, fmtD(goal), verdict, report.Seconds(s.P50), report.Seconds(s.P90)))
		}
		logf("terraform: %s: p50 %s, p90 %s", figure, report.Seconds(s.P50), report.Seconds(s.P90))
		table.Rows = append(table.Rows, []string{figure, report.Seconds(s.P50), report.Seconds(s.P90), report.Seconds(s.Mean), fmt.Sprint(s.N), goalText, verdict})
	}
	row("apply → usable kubeconfig", res.apply, tfApplyGoal)
	row("  hub: virtual cluster requested → Ready", res.ready, 0)
	row("  hub: Ready → profile applied", res.profile, 0)
	row("destroy", res.destroy, tfDestroyGoal)
	row("  hub: lifecycle delete (host namespace gone)", res.hostDelete, 0)
	sec.Tables = append(sec.Tables, table)
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		sec.Notes = append(sec.Notes, fmt.Sprintf("Load average after the runs (1, 5, 15 min): %s on %d CPUs. "+
			"Most of an apply is the hub's lifecycle create of the control plane (the vc-create section measures it alone on a quiet host); "+
			"a loaded machine shows there first.", strings.Join(strings.Fields(string(load))[:3], ", "), runtime.NumCPU()))
	}
	return sec
}

type terraformResult struct {
	apply, ready, profile, destroy, hostDelete []float64
}

func terraformRuns(ctx context.Context, r *runner, tf string, runs int) (*terraformResult, error) {
	env, err := r.sharedHost(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(r.root, "hub-terraform-")
	if err != nil {
		return nil, err
	}
	r.cleanup.Add("virtual clusters of the hub in "+dir, func(ctx context.Context) error {
		home, err := nesthome.Open(filepath.Join(dir, "nest"))
		if err != nil {
			return err
		}
		testenv.StopVirtualClusters(ctx, &testenv.Env{Home: home, NestBinary: r.nestBin})
		return nil
	})
	h, err := startDefaultHub(ctx, dir, r.nestBin)
	if err != nil {
		return nil, err
	}
	defer h.stop()
	defer func() {
		data, _ := os.ReadFile(filepath.Join(dir, "hub.log"))
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "elapsed=") && !strings.Contains(line, "Request served") || strings.Contains(line, "deleted from its host") {
				logf("terraform: hub: %s", line)
			}
		}
	}()
	c, err := h.client()
	if err != nil {
		return nil, err
	}
	kc, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		return nil, err
	}
	host, err := c.CreateHostCluster(ctx, api.CreateHostClusterRequest{Name: "local", Kubeconfig: string(kc)})
	if err != nil {
		return nil, err
	}
	for host.Status.Phase != store.HostReady {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if host, err = c.GetHostCluster(ctx, host.ID); err != nil {
			return nil, err
		}
	}
	t, err := c.CreateTenant(ctx, api.CreateTenantRequest{Name: "bench"})
	if err != nil {
		return nil, err
	}
	p, err := c.CreateProject(ctx, t.ID, api.CreateProjectRequest{Name: "ci"})
	if err != nil {
		return nil, err
	}
	ws, err := tfrun.Start(ctx, tfrun.Config{Terraform: tf, Source: filepath.Join(testenv.RepoRoot(), "examples", "ci-cd"),
		Dir: filepath.Join(dir, "terraform"), Env: map[string]string{"NEST_HUB_URL": h.url, "NEST_API_KEY": h.key, "NEST_HUB_CA_CERT": string(h.ca)}})
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	vars := map[string]string{"tenant_id": t.ID, "project_id": p.ID, "host_cluster": "local", "name": "ci"}
	destroyed := true
	defer func() {
		if !destroyed {
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if err := ws.Destroy(dctx, vars); err != nil {
				logf("terraform: destroy after a failed run: %v", err)
			}
		}
	}()
	res := &terraformResult{}
	for i := range runs {
		destroyed = false
		start := time.Now()
		if err := ws.Apply(ctx, vars); err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		kubeconfig, err := ws.Output(ctx, "kubeconfig")
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		applied := time.Since(start)
		if err := listPipelines(ctx, kubeconfig); err != nil {
			return nil, fmt.Errorf("run %d: the kubeconfig output: %w", i+1, err)
		}
		id, err := ws.Output(ctx, "virtual_cluster_id")
		if err != nil {
			return nil, err
		}
		vc, err := c.GetVirtualCluster(ctx, client.VirtualClusterRef{TenantID: t.ID, ProjectID: p.ID, ID: id})
		if err != nil {
			return nil, err
		}
		ready, profile := hubPhases(vc)
		start = time.Now()
		if err := ws.Destroy(ctx, vars); err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		destroyedIn := time.Since(start)
		destroyed = true
		logf("terraform: run %d: apply %s (hub: Ready after %s, profile %s later), destroy %s", i+1, fmtD(applied), fmtD(ready), fmtD(profile), fmtD(destroyedIn))
		res.apply = append(res.apply, applied.Seconds())
		res.destroy = append(res.destroy, destroyedIn.Seconds())
		if ready > 0 {
			res.ready = append(res.ready, ready.Seconds())
		}
		if profile > 0 {
			res.profile = append(res.profile, profile.Seconds())
		}
		if d, ok := lastHostDelete(filepath.Join(dir, "hub.log")); ok {
			res.hostDelete = append(res.hostDelete, d.Seconds())
		}
	}
	return res, nil
}

// lastHostDelete reads from the hub's log how long its last lifecycle
// delete took (the reconciler logs it with the virtual cluster gone from
// its host).
func lastHostDelete(hubLog string) (time.Duration, bool) {
	data, err := os.ReadFile(hubLog)
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(data), "\n")
	for _, line := range slices.Backward(lines) {
		if !strings.Contains(line, "deleted from its host") {
			continue
		}
		for _, field := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(field, "elapsed="); ok {
				d, err := time.ParseDuration(v)
				return d, err == nil
			}
		}
		return 0, false
	}
	return 0, false
}

// hubPhases reads from a virtual cluster's record how long the hub took
// from the request to Ready, and from Ready to its first profile applied
// (0 when not known).
func hubPhases(vc *store.VirtualCluster) (ready, profile time.Duration) {
	var readyAt time.Time
	for _, c := range vc.Status.Conditions {
		if c.Type == reconciler.CondReady && c.Status == "True" {
			readyAt = c.LastTransitionTime
		}
	}
	if readyAt.IsZero() {
		return 0, 0
	}
	ready = readyAt.Sub(vc.CreatedAt)
	if len(vc.Status.Profiles) > 0 && !vc.Status.Profiles[0].AppliedAt.IsZero() {
		profile = vc.Status.Profiles[0].AppliedAt.Sub(readyAt)
	}
	return ready, profile
}

// listPipelines lists the Pipelines of the virtual cluster a kubeconfig
// names: the profile's CRD is served.
func listPipelines(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kubeconfig))
	if err != nil {
		return err
	}
	dc, err := dynamic.NewForConfig(kube.Tune(cfg))
	if err != nil {
		return err
	}
	_, err = dc.Resource(schema.GroupVersionResource{Group: "ci.example.com", Version: "v1", Resource: "pipelines"}).List(ctx, metav1.ListOptions{})
	return err
}

// startDefaultHub starts a hub in this process with the reconciler's
// default intervals (what `nest hub serve` runs with).
func startDefaultHub(ctx context.Context, dir, nestBin string) (*benchHub, error) {
	// The hub's log, to see where the time goes: its lines with an
	// elapsed time are shown at the end.
	logFile, err := os.Create(filepath.Join(dir, "hub.log"))
	if err != nil {
		return nil, err
	}
	h, err := startHub(ctx, "terraform", server.Config{DataDir: dir, Logger: nestlog.New(logFile, 0),
		Reconciler: reconciler.Config{NestBinary: nestBin}}, func() { logFile.Close() })
	if err != nil {
		logFile.Close()
	}
	return h, err
}
