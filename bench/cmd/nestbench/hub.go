package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nestcluster/nest/bench/report"
	"github.com/nestcluster/nest/bench/stats"
	"github.com/nestcluster/nest/internal/testenv"
	"github.com/nestcluster/nest/internal/testpg"
	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/client"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// hubListGoal and hubReadyGoal are issue 7's targets.
const (
	hubListGoal  = 50 * time.Millisecond
	hubReadyGoal = 60 * time.Second
)

// hubLoad is the list load: a store seeded with vcs virtual clusters in
// projects projects, listed by clients concurrent clients, requests in all.
type hubLoad struct {
	projects, vcs, clients, requests int
	// rates are the open loads' requests per second (sent on schedule
	// whether or not earlier ones returned), each for openFor.
	rates   []float64
	openFor time.Duration
}

// hubBench measures the hub: list latency under concurrent clients over a
// seeded store (SQLite, then Postgres), and how long a burst of virtual
// clusters takes to be Ready on the local host.
func hubBench(ctx context.Context, r *runner) report.Section {
	load := hubLoad{projects: 50, vcs: 500, clients: 200, requests: 20000, rates: []float64{250, 1000}, openFor: 10 * time.Second}
	burst := 20
	if r.quick {
		load.requests, load.openFor, burst = 2000, 2*time.Second, 3
	}
	sec := report.Section{
		Title: "hub: list latency and a burst of virtual clusters",
		About: fmt.Sprintf("Target (issue 7): with 500 virtual clusters and 50 projects in the store, list p99 ≤ 50 ms at 200 concurrent clients (SQLite and Postgres); "+
			"20 virtual clusters requested at once are all Ready on the local host within 60 s. "+
			"The list load seeds the store directly through pkg/hub/store (%d projects of one tenant, %d virtual-cluster records, no reconciler), "+
			"starts the hub without its reconciler, and runs %d clients, each with its own HTTPS connection (warmed up by one /whoami), "+
			"closed loop, sending %d requests in all (and, first, 1 client sending a tenth as many, one at a time): `GET .../projects/P/virtualclusters` (first page, limit 50) of a random project, the admin's API key. "+
			"Then the same %d clients in an open loop, for %s at each of %v requests per second: requests sent on a fixed schedule, each handed to a free client "+
			"(or queued until one is free), its latency counted from its scheduled time (so a slow hub cannot slow the load down and hide its queueing); "+
			"a rate beyond what the machine serves shows as a latency growing with the run. "+
			"Latency is measured around each request, from sending it (or, open loop, from when it was due) to the last byte of the response, which is read and discarded: "+
			"the load generator is a plain HTTP/2 client, as wrk or hey are, so that its JSON decoding (half of the process's CPU when it went through pkg/hub/client) does not compete with the hub. "+
			"The burst starts a hub with its reconciler (SQLite), registers the shared local host, creates %d virtual clusters at once through the API "+
			"and times from the first create until the last is Ready (phase Ready, status at the current generation).",
			load.projects, load.vcs, load.clients, load.requests, load.clients, load.openFor, load.rates, burst),
	}
	table := report.Table{Header: []string{"Figure", "mean", "p50", "p90", "p99", "n", "errors", "requests/s", "goal", "result"}}
	for _, db := range []string{"sqlite", "postgres"} {
		logf("hub: list load on %s", db)
		results, err := hubListLoad(ctx, r, db, load)
		if err != nil {
			sec.Err = fmt.Errorf("list on %s: %w", db, err)
			break
		}
		for _, res := range results {
			s := stats.Summarize(res.latencies)
			goal, verdict := "–", "–"
			name := fmt.Sprintf("%d clients", res.clients)
			if res.rate > 0 {
				name = fmt.Sprintf("%d clients, open loop at %.0f/s", res.clients, res.rate)
			}
			if res.clients == load.clients {
				goal, verdict = "p99 ≤ "+fmtD(hubListGoal), "met"
				if s.P99 > hubListGoal.Seconds() {
					verdict = "**missed**"
				}
				sec.Notes = append(sec.Notes, fmt.Sprintf("%s, %s: goal p99 ≤ %s %s (p99 %s, %.0f requests/s).",
					db, name, fmtD(hubListGoal), verdict, report.Seconds(s.P99), res.achieved))
			}
			logf("hub: %s, %s: p50 %s, p99 %s, %.0f requests/s, %d errors, %s CPU per request (hub and clients)", db, name,
				report.Seconds(s.P50), report.Seconds(s.P99), res.achieved, res.errors, res.cpuPerRequest.Round(time.Microsecond))
			if res.clients == load.clients {
				sec.Notes = append(sec.Notes, fmt.Sprintf("%s, %s: this process (hub and clients) used %s of CPU per request.",
					db, name, res.cpuPerRequest.Round(time.Microsecond)))
			}
			table.Rows = append(table.Rows, []string{fmt.Sprintf("list, %s, %s", db, name),
				report.Seconds(s.Mean), report.Seconds(s.P50), report.Seconds(s.P90), report.Seconds(s.P99), fmt.Sprint(s.N),
				fmt.Sprint(res.errors), fmt.Sprintf("%.0f", res.achieved), goal, verdict})
			if res.firstErr != nil {
				sec.Notes = append(sec.Notes, fmt.Sprintf("%s: first list error: %v", db, res.firstErr))
			}
		}
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		sec.Notes = append(sec.Notes, fmt.Sprintf("Load average after the list loads (1, 5, 15 min): %s on %d CPUs; "+
			"a busy machine shows in the 200-client figures first.", strings.Join(strings.Fields(string(load))[:3], ", "), runtime.NumCPU()))
	}
	sec.Notes = append(sec.Notes, "The clients run in the benchmark's process, on the same cores as the hub (and, for Postgres, the database): "+
		"under 200 concurrent clients in a closed loop, latency is mostly queueing for CPU (mean latency ≈ clients / requests per second), "+
		"so the closed-loop rows measure the machine's throughput as much as the hub; the open-loop rows show the latency at a given rate. "+
		"The hub serves repeated list pages from its page cache (valid while the store's auth and virtual-cluster change epochs stay, one small query per request): "+
		"a CPU profile of the 200-client load (with the clients still decoding through pkg/hub/client) put the hub's handlers at about 10% of the process's CPU, "+
		"HTTP/2 and TLS of both ends and the clients' JSON decoding at most of the rest. "+
		"The 1-client row, one request at a time, shows the cost of a single list.")
	if sec.Err == nil {
		logf("hub: %d virtual clusters at once", burst)
		all, each, err := hubBurst(ctx, r, burst)
		if err != nil {
			sec.Err = fmt.Errorf("burst of %d: %w", burst, err)
		} else {
			s := stats.Summarize(each)
			verdict := "met"
			if all > hubReadyGoal || (burst < 20 && r.quick) {
				verdict = "**missed**"
				if all <= hubReadyGoal {
					verdict = "not measured (--quick: fewer clusters)"
				}
			}
			table.Rows = append(table.Rows, []string{fmt.Sprintf("Ready, each of %d requested at once", burst),
				report.Seconds(s.Mean), report.Seconds(s.P50), report.Seconds(s.P90), report.Seconds(s.P99), fmt.Sprint(s.N), "0", "–", "–", "–"},
				[]string{fmt.Sprintf("all %d Ready", burst), report.Seconds(all.Seconds()), "–", "–", "–", "1", "0", "–", "≤ " + fmtD(hubReadyGoal), verdict})
		}
	}
	sec.Tables = append(sec.Tables, table)
	return sec
}

// benchHub is a hub served in this process.
type benchHub struct {
	url  string
	ca   []byte
	key  string
	stop func()
}

func startBenchHub(ctx context.Context, dir, database string, reconcile bool, nestBin string) (*benchHub, error) {
	return startHub(ctx, "hub", server.Config{DataDir: dir, Database: database, NoReconciler: !reconcile,
		Reconciler: reconciler.Config{NestBinary: nestBin, Resync: 2 * time.Second, HealthInterval: 2 * time.Second}}, nil)
}

// startHub serves a hub in this process with cfg (its address, bootstrap
// key and readiness filled in here) until stop, which also calls after.
func startHub(ctx context.Context, section string, cfg server.Config, after func()) (*benchHub, error) {
	key := auth.NewKey()
	hctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	cfg.Addr, cfg.BootstrapKey, cfg.ShutdownTimeout = "127.0.0.1:0", key, 10*time.Second
	cfg.Ready = func(addr string) { ready <- addr }
	go func() { done <- server.Run(hctx, cfg) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("start the hub: %w", err)
	}
	pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "hub.crt"))
	if err != nil {
		cancel()
		<-done
		return nil, err
	}
	var once sync.Once
	return &benchHub{url: "https://" + addr, ca: pem, key: key, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				logf("%s: the hub stopped with: %v", section, err)
			}
			if after != nil {
				after()
			}
		})
	}}, nil
}

// client returns a hub client with its own connection.
func (h *benchHub) client() (*client.Client, error) {
	hc, err := h.httpClient()
	if err != nil {
		return nil, err
	}
	return client.New(client.Config{URL: h.url, APIKey: h.key, Retries: -1, HTTPClient: hc})
}

// httpClient returns an HTTP client of the hub with its own connection.
func (h *benchHub) httpClient() (*http.Client, error) {
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(h.ca) {
		return nil, errors.New("the hub's certificate is not PEM")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 2}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// get sends a GET of path with the hub's admin key on c, reads the whole
// response and fails unless it is 200.
func (h *benchHub) get(ctx context.Context, c *http.Client, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return fmt.Errorf("GET %s: read the response: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

// seedStore fills a migrated store with one tenant, its projects, a host,
// a group and the virtual-cluster records; it returns the project ids.
func seedStore(ctx context.Context, url string, load hubLoad) (tenantID string, projects []string, err error) {
	s, err := store.Open(ctx, url)
	if err != nil {
		return "", nil, err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		return "", nil, err
	}
	t := &store.Tenant{Meta: store.Meta{Name: "bench"}}
	if err := s.Tenants.Create(ctx, t); err != nil {
		return "", nil, err
	}
	h := &store.HostCluster{Meta: store.Meta{Name: "bench"}, KubeconfigEnc: "none", Status: store.HostClusterStatus{Phase: store.HostReady}}
	if err := s.HostClusters.Create(ctx, h); err != nil {
		return "", nil, err
	}
	g := &store.ClusterGroup{Meta: store.Meta{Name: "bench"}, HostClusterIDs: []string{h.ID}, Quota: store.Resources{CPU: "2", Pods: "20"},
		EndpointType: store.EndpointLocal}
	if err := s.ClusterGroups.Create(ctx, g); err != nil {
		return "", nil, err
	}
	err = s.InTx(ctx, func(ctx context.Context) error {
		for i := range load.projects {
			p := &store.Project{Meta: store.Meta{Name: fmt.Sprintf("project-%02d", i)}, TenantID: t.ID}
			if err := s.Projects.Create(ctx, p); err != nil {
				return err
			}
			projects = append(projects, p.ID)
		}
		for i := range load.vcs {
			vc := &store.VirtualCluster{Meta: store.Meta{Name: fmt.Sprintf("vc-%03d", i)}, TenantID: t.ID, ProjectID: projects[i%len(projects)],
				ClusterGroupID: g.ID, KubernetesVersion: config.SupportedKubernetesVersion, Quota: g.Quota, Generation: 1,
				Status: store.VirtualClusterStatus{Phase: store.VCReady, HostClusterID: h.ID, HostNamespace: fmt.Sprintf("nest-vc-%03d", i),
					Endpoint: "https://127.0.0.1:6443", KubernetesVersion: config.SupportedKubernetesVersion, ObservedGeneration: 1,
					Conditions: []store.Condition{{Type: "Ready", Status: "True", Reason: "Running", LastTransitionTime: time.Now().UTC()}}}}
			if err := s.VirtualClusters.Create(ctx, vc); err != nil {
				return err
			}
		}
		return nil
	})
	return t.ID, projects, err
}

// listResult is one list load's result.
type listResult struct {
	loadResult
	clients int
	// rate is the open loop's requests per second (0: closed loop).
	rate float64
	// cpuPerRequest is the CPU time of this process (the hub and the
	// clients together) per request.
	cpuPerRequest time.Duration
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hubListLoad seeds a store on db, serves it and runs the list load with
// 1 client, then with load.clients.
func hubListLoad(ctx context.Context, r *runner, db string, load hubLoad) ([]listResult, error) {
	dir, err := os.MkdirTemp(r.root, "hub-"+db+"-")
	if err != nil {
		return nil, err
	}
	url := "sqlite:" + filepath.Join(dir, "hub.db")
	if db == "postgres" {
		pg, stop, err := testpg.StartServer()
		if err != nil {
			return nil, err
		}
		defer stop()
		url = pg
	}
	tenantID, projects, err := seedStore(ctx, url, load)
	if err != nil {
		return nil, fmt.Errorf("seed the store: %w", err)
	}
	h, err := startBenchHub(ctx, dir, url, false, r.nestBin)
	if err != nil {
		return nil, err
	}
	defer h.stop()
	clients := make([]*http.Client, load.clients)
	for i := range clients {
		if clients[i], err = h.httpClient(); err != nil {
			return nil, err
		}
		if err := h.get(ctx, clients[i], "/api/v1/whoami"); err != nil {
			return nil, fmt.Errorf("warm up: %w", err)
		}
	}
	// Every project lists its share of the records.
	c, err := h.client()
	if err != nil {
		return nil, err
	}
	if page, err := c.ListVirtualClusters(ctx, tenantID, projects[0], client.ListOptions{}); err != nil || len(page.Items) != load.vcs/load.projects {
		return nil, fmt.Errorf("the first project lists %d virtual clusters (%v), want %d", len(page.Items), err, load.vcs/load.projects)
	}
	var out []listResult
	loads := []struct {
		clients, requests int
		rate              float64
	}{{1, load.requests / 10, 0}, {load.clients, load.requests, 0}}
	for _, rate := range load.rates {
		loads = append(loads, struct {
			clients, requests int
			rate              float64
		}{load.clients, int(rate * load.openFor.Seconds()), rate})
	}
	for _, n := range loads {
		cpu := processCPU()
		res, err := listLoad(ctx, h, clients[:n.clients], tenantID, projects, n.requests, n.rate)
		if err != nil {
			return nil, err
		}
		cpu = processCPU() - cpu
		out = append(out, listResult{loadResult: res, clients: n.clients, rate: n.rate, cpuPerRequest: cpu / time.Duration(max(1, n.requests))})
	}
	return out, nil
}

// listLoad sends requests lists of a random project's virtual clusters
// from the clients. With rate 0 (closed loop) each client sends its next
// request when its last returned; else (open loop) request i is due at
// i/rate seconds from the start, goes to the first free client (waiting
// in line while none is) and its latency counts from when it was due.
func listLoad(ctx context.Context, h *benchHub, clients []*http.Client, tenantID string, projects []string, requests int, rate float64) (loadResult, error) {
	type job struct {
		i   int
		due time.Time
	}
	lat := make([]time.Duration, requests)
	errs := make([]error, requests)
	next := make(chan job)
	if rate > 0 {
		next = make(chan job, requests)
	}
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				p := projects[rand.IntN(len(projects))]
				t := j.due
				if rate == 0 {
					t = time.Now()
				}
				err := h.get(ctx, c, "/api/v1/tenants/"+tenantID+"/projects/"+p+"/virtualclusters")
				lat[j.i], errs[j.i] = time.Since(t), err
			}
		}()
	}
	sent := 0
feed:
	for i := range requests {
		var due time.Time
		if rate > 0 {
			due = start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					break feed
				}
			}
		}
		select {
		case next <- job{i, due}:
			sent++
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
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
	res.achieved = stats.Ratio(float64(len(res.latencies)), elapsed.Seconds())
	if len(res.latencies) == 0 {
		return res, fmt.Errorf("every request failed, the first with: %w", res.firstErr)
	}
	return res, nil
}

// hubBurst requests n virtual clusters at once on a hub driving the shared
// local host, and returns how long until all were Ready and each's time.
func hubBurst(ctx context.Context, r *runner, n int) (all time.Duration, each []float64, err error) {
	env, err := r.sharedHost(ctx)
	if err != nil {
		return 0, nil, err
	}
	dir, err := os.MkdirTemp(r.root, "hub-burst-")
	if err != nil {
		return 0, nil, err
	}
	// Whatever happens, no control plane the hub started outlives the run.
	r.cleanup.Add("virtual clusters of the hub in "+dir, func(ctx context.Context) error {
		home, err := nesthome.Open(filepath.Join(dir, "nest"))
		if err != nil {
			return err
		}
		testenv.StopVirtualClusters(ctx, &testenv.Env{Home: home, NestBinary: r.nestBin})
		return nil
	})
	h, err := startBenchHub(ctx, dir, "", true, r.nestBin)
	if err != nil {
		return 0, nil, err
	}
	defer h.stop()
	c, err := h.client()
	if err != nil {
		return 0, nil, err
	}
	kc, err := os.ReadFile(env.Kubeconfig)
	if err != nil {
		return 0, nil, err
	}
	host, err := c.CreateHostCluster(ctx, api.CreateHostClusterRequest{Name: "local", Kubeconfig: string(kc)})
	if err != nil {
		return 0, nil, err
	}
	for host.Status.Phase != store.HostReady {
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if host, err = c.GetHostCluster(ctx, host.ID); err != nil {
			return 0, nil, err
		}
	}
	g, err := c.CreateClusterGroup(ctx, api.CreateClusterGroupRequest{Name: "local", ClusterGroupSpec: api.ClusterGroupSpec{
		HostClusterIDs: []string{host.ID}, Quota: store.Resources{CPU: "1", Memory: "1Gi", Pods: "10"}}})
	if err != nil {
		return 0, nil, err
	}
	t, err := c.CreateTenant(ctx, api.CreateTenantRequest{Name: "bench"})
	if err != nil {
		return 0, nil, err
	}
	p, err := c.CreateProject(ctx, t.ID, api.CreateProjectRequest{Name: "burst"})
	if err != nil {
		return 0, nil, err
	}
	ids := make([]string, n)
	readyAt := make([]time.Duration, n)
	start := time.Now()
	var wg sync.WaitGroup
	createErrs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vc, err := c.CreateVirtualCluster(ctx, t.ID, p.ID, api.CreateVirtualClusterRequest{Name: fmt.Sprintf("burst-%02d", i), ClusterGroupID: g.ID})
			if err == nil {
				ids[i] = vc.ID
			}
			createErrs[i] = err
		}()
	}
	wg.Wait()
	defer func() {
		// Delete them all and wait until the hub has removed them.
		dctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for _, id := range ids {
			if id != "" {
				if err := c.DeleteVirtualCluster(dctx, client.VirtualClusterRef{TenantID: t.ID, ProjectID: p.ID, ID: id}, 0); err != nil && !client.IsNotFound(err) {
					logf("hub: delete %s: %v", id, err)
				}
			}
		}
		for _, id := range ids {
			for id != "" && dctx.Err() == nil {
				if _, err := c.GetVirtualCluster(dctx, client.VirtualClusterRef{TenantID: t.ID, ProjectID: p.ID, ID: id}); client.IsNotFound(err) {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
		}
	}()
	if err := errors.Join(createErrs...); err != nil {
		return 0, nil, err
	}
	deadline := time.Now().Add(5 * time.Minute)
	for left := n; left > 0; {
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("%d of %d virtual clusters not Ready after 5m", left, n)
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		page, err := c.ListVirtualClusters(ctx, t.ID, p.ID, client.ListOptions{Limit: store.MaxLimit})
		if err != nil {
			return 0, nil, err
		}
		now := time.Since(start)
		for _, vc := range page.Items {
			for i, id := range ids {
				if id == vc.ID && readyAt[i] == 0 && vc.Status.Phase == store.VCReady && vc.Status.ObservedGeneration == vc.Generation {
					readyAt[i] = now
					left--
					logf("hub: %s Ready after %s (%d left)", vc.Name, now.Round(time.Millisecond), left)
				}
				if id == vc.ID && vc.Status.Phase == store.VCFailed {
					return 0, nil, fmt.Errorf("%s failed: %s", vc.Name, vc.Status.Message)
				}
			}
		}
	}
	for _, d := range readyAt {
		each = append(each, d.Seconds())
		all = max(all, d)
	}
	return all, each, nil
}
