// Package uitest drives the hub's web UI in headless Chromium (Debian's
// chromium package, through chromedp) against a real hub: the end-to-end
// tests use it, and so can a benchmark (MeasureDashboard).
package uitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// ChromiumEnv names an environment variable that points at another
// Chromium binary.
const ChromiumEnv = "NEST_CHROMIUM"

// ErrNoChromium says no Chromium was found: install Debian's chromium
// package (apt-get install -y chromium).
var ErrNoChromium = errors.New("no Chromium: install Debian's chromium package (apt-get install -y chromium) or set " + ChromiumEnv)

// Chromium returns the path of the Chromium binary to drive.
func Chromium() (string, error) {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p, nil
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Browser starts headless Chromium with the flags that work on a machine
// without a network (no background connections, no sandbox as root) and
// trusting the hub's self-signed certificate. Cancel the returned context
// to stop it. Each chromedp.NewContext of it is a new tab with its own
// sessionStorage.
func Browser(ctx context.Context, userDataDir string) (context.Context, context.CancelFunc, error) {
	path, err := Chromium()
	if err != nil {
		return nil, nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.IgnoreCertErrors,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900),
	)
	// A Chromium that exits at start (seen on a loaded CI machine: "chrome
	// failed to start") is started again, a few times, in a fresh profile.
	for attempt := range 3 {
		dir := userDataDir
		if attempt > 0 {
			dir = fmt.Sprintf("%s-%d", userDataDir, attempt)
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(opts, chromedp.UserDataDir(dir))...)
		browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
		if err = chromedp.Do(browserCtx); err == nil {
			return browserCtx, func() { cancelBrowser(); cancelAlloc() }, nil
		}
		cancelBrowser()
		cancelAlloc()
		if ctx.Err() != nil {
			break
		}
	}
	return nil, nil, fmt.Errorf("start %s: %w", path, err)
}

// Fleet is what Seed made.
type Fleet struct {
	Tenant, Project, OtherProject, Group string
	Hosts                                []string
	// VirtualClusters are in creation order; the first Count/2 (rounded
	// up) are in Project, the rest in OtherProject.
	VirtualClusters []store.VirtualCluster
	// ViewerKey is the API key of a user bound to project-viewer on
	// Project only.
	ViewerKey string
	// Profile is a cluster profile with two versions (ProfileVersions,
	// oldest first); the first virtual cluster uses it, with one layer
	// drifted.
	Profile         string
	ProfileVersions []string
}

// profileSpec is a cluster profile's portable JSON with one manifest
// layer whose ConfigMap data and replica count differ between versions.
func profileSpec(version, greeting string, replicas int) []byte {
	manifests := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: tools
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: greeting
  namespace: tools
data:
  greeting: %q
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: tools
spec:
  replicas: %d
`, greeting, replicas)
	spec := map[string]any{"name": "tools", "version": version, "description": "Shared tools",
		"variables": map[string]string{"GREETING": greeting},
		"layers":    []map[string]any{{"name": "base", "kind": "manifests", "manifests": manifests}}}
	data, _ := json.Marshal(spec)
	return data
}

// seedProfile stores the profile "tools" at 1.0.0, then 1.1.0.
func seedProfile(ctx context.Context, s *store.Store, f *Fleet) error {
	p := &store.ClusterProfile{Meta: store.Meta{Name: "tools"}, Description: "Shared tools", Version: "1.0.0", Spec: profileSpec("1.0.0", "hello", 1)}
	if err := s.ClusterProfiles.Create(ctx, p); err != nil {
		return err
	}
	if err := s.AddProfileVersion(ctx, &store.ClusterProfileVersion{ProfileID: p.ID, Version: p.Version, Spec: p.Spec}); err != nil {
		return err
	}
	p.Version, p.Spec = "1.1.0", profileSpec("1.1.0", "hello, world", 2)
	if err := s.AddProfileVersion(ctx, &store.ClusterProfileVersion{ProfileID: p.ID, Version: p.Version, Spec: p.Spec}); err != nil {
		return err
	}
	if err := s.ClusterProfiles.Update(ctx, p); err != nil {
		return err
	}
	f.Profile, f.ProfileVersions = p.ID, []string{"1.0.0", "1.1.0"}
	return nil
}

// Seed writes a fleet straight into the hub's store (the reconciler is
// meant to be off, so the statuses stay as written): a tenant with two
// projects, two Ready hosts in a cluster group, count virtual clusters
// with varied phases, and a viewer of the first project.
func Seed(ctx context.Context, s *store.Store, count int) (*Fleet, error) {
	f := &Fleet{}
	tn := &store.Tenant{Meta: store.Meta{Name: "acme"}}
	if err := s.Tenants.Create(ctx, tn); err != nil {
		return nil, err
	}
	web := &store.Project{Meta: store.Meta{Name: "web"}, TenantID: tn.ID}
	data := &store.Project{Meta: store.Meta{Name: "data"}, TenantID: tn.ID}
	for _, p := range []*store.Project{web, data} {
		if err := s.Projects.Create(ctx, p); err != nil {
			return nil, err
		}
	}
	f.Tenant, f.Project, f.OtherProject = tn.ID, web.ID, data.ID
	for _, name := range []string{"host-a", "host-b"} {
		h := &store.HostCluster{Meta: store.Meta{Name: name}, KubeconfigEnc: "enc:v1:seeded", Status: store.HostClusterStatus{
			Phase: store.HostReady, LastCheck: time.Now(), Nodes: 3, KubernetesVersion: config.SupportedKubernetesVersion,
			Capacity: store.Resources{CPU: "64", Memory: "256Gi", Storage: "1Ti", Pods: "3300"}}}
		if err := s.HostClusters.Create(ctx, h); err != nil {
			return nil, err
		}
		f.Hosts = append(f.Hosts, h.ID)
	}
	g := &store.ClusterGroup{Meta: store.Meta{Name: "pool"}, HostClusterIDs: f.Hosts, EndpointType: store.EndpointLocal,
		Quota: store.Resources{CPU: "2", Memory: "4Gi", Pods: "50"}}
	if err := s.ClusterGroups.Create(ctx, g); err != nil {
		return nil, err
	}
	f.Group = g.ID
	if err := seedProfile(ctx, s, f); err != nil {
		return nil, fmt.Errorf("seed a profile: %w", err)
	}
	phases := []string{store.VCReady, store.VCReady, store.VCReady, store.VCPaused, store.VCProvisioning, store.VCReady, store.VCFailed}
	err := s.InTx(ctx, func(ctx context.Context) error {
		for i := range count {
			project := web.ID
			if i >= (count+1)/2 {
				project = data.ID
			}
			phase := phases[i%len(phases)]
			now := time.Now()
			vc := &store.VirtualCluster{Meta: store.Meta{Name: fmt.Sprintf("vc-%04d", i+1)}, TenantID: tn.ID, ProjectID: project,
				ClusterGroupID: g.ID, KubernetesVersion: config.SupportedKubernetesVersion, Quota: g.Quota, Paused: phase == store.VCPaused,
				Profiles: []store.ProfileRef{}, Generation: 1,
				Status: store.VirtualClusterStatus{Phase: phase, HostClusterID: f.Hosts[i%2], HostNamespace: fmt.Sprintf("nest-vc-%04d", i+1),
					Endpoint: fmt.Sprintf("https://127.0.0.1:%d", 20000+i), KubernetesVersion: config.SupportedKubernetesVersion, ObservedGeneration: 1,
					Conditions: []store.Condition{
						{Type: "Placed", Status: "True", Reason: "Placed", LastTransitionTime: now},
						{Type: "Ready", Status: map[bool]string{true: "True", false: "False"}[phase == store.VCReady], Reason: phase, LastTransitionTime: now},
					}}}
			if phase == store.VCReady {
				// What the host counted: a few pods' requests.
				n := i%5 + 1
				vc.Status.Used = store.Resources{CPU: fmt.Sprintf("%dm", 300*n), Memory: fmt.Sprintf("%dMi", 700*n), Pods: fmt.Sprint(n * 8)}
			}
			if i == 0 {
				vc.Profiles = []store.ProfileRef{{ProfileID: f.Profile}}
				vc.Status.Profiles = []store.ProfileStatus{{ProfileID: f.Profile, Name: "tools", Version: "1.1.0", Phase: store.ProfileDrifted,
					AppliedAt: now, Layers: []store.ProfileLayerStatus{{Name: "base", Status: "Drifted", Drift: []store.ProfileDrift{
						{Object: "apps/v1 Deployment tools/echo", Reason: "Changed", Fields: []string{"spec.replicas"}}}}}}}
				// What the reconciler reads from a running cluster.
				vc.Status.Objects = []store.ObjectCount{{Kind: "Pod", Virtual: 3, Host: 3}, {Kind: "Service", Virtual: 2, Host: 1}, {Kind: "ConfigMap", Virtual: 4, Host: 1}}
				vc.Status.Events = []store.ClusterEvent{
					{Type: "Warning", Reason: "BackOff", Object: "Pod tools/echo-0", Message: "Back-off restarting failed container", Count: 4, LastSeen: now},
					{Type: "Normal", Reason: "Scheduled", Object: "Pod tools/echo-0", Message: "Successfully assigned tools/echo-0", Count: 1, LastSeen: now.Add(-time.Minute)}}
				vc.Status.ObservedAt = now
			}
			if err := s.VirtualClusters.Create(ctx, vc); err != nil {
				return err
			}
			f.VirtualClusters = append(f.VirtualClusters, *vc)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if f.ViewerKey, err = userWithRole(ctx, s, "viewer", auth.RoleProjectViewer, tn.ID, web.ID); err != nil {
		return nil, err
	}
	return f, nil
}

// userWithRole makes a user bound to role at the tenant and project and
// returns a new API key of it.
func userWithRole(ctx context.Context, s *store.Store, name, role, tenantID, projectID string) (string, error) {
	u := &store.User{Meta: store.Meta{Name: name}}
	if err := s.Users.Create(ctx, u); err != nil {
		return "", err
	}
	r, err := s.Roles.Find(ctx, map[string]string{"name": role})
	if err != nil {
		return "", err
	}
	if err := s.RoleBindings.Create(ctx, &store.RoleBinding{Meta: store.Meta{Name: name + "-" + role}, RoleID: r.ID,
		SubjectKind: store.SubjectUser, SubjectID: u.ID, TenantID: tenantID, ProjectID: projectID}); err != nil {
		return "", err
	}
	key := auth.NewKey()
	prefix, hash, err := auth.SplitKey(key)
	if err != nil {
		return "", err
	}
	if err := s.APIKeys.Create(ctx, &store.APIKey{Meta: store.Meta{Name: name}, UserID: u.ID, Prefix: prefix, KeyHash: hash}); err != nil {
		return "", err
	}
	return key, nil
}

// SignIn opens the hub's UI in the tab of ctx with key already in the
// tab's sessionStorage, at the given hash route ("#/" for the fleet).
func SignIn(hubURL, key, route string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(hubURL+"/#/signin"),
		chromedp.WaitVisible(chromedp.ID("apikey")),
		Eval(fmt.Sprintf("sessionStorage.setItem('nest.apiKey', %q)", key)),
		chromedp.Navigate(hubURL+"/"+route),
	)
}

// Eval runs a script for its effect.
func Eval(script string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](script, chromedp.EvalAwaitPromise)
}

// DashboardTiming is what MeasureDashboard reads in the page.
type DashboardTiming struct {
	// Rows is how many virtual clusters the dashboard counted.
	Rows int
	// FirstRender is from navigation start to the first page of rows
	// drawn (the page's own performance mark).
	FirstRender time.Duration
	// Interactive is from navigation start to the first moment after
	// that when the page's main thread runs a new task.
	Interactive time.Duration
	// Filter is how long one search keystroke takes to redraw the table.
	Filter time.Duration
	// Wall is the whole load as the driver saw it.
	Wall time.Duration
}

// MeasureDashboard loads the fleet dashboard in a new tab of browserCtx,
// signed in with key, and reads its timings. It needs a hub that serves
// the UI and has virtual clusters.
func MeasureDashboard(browserCtx context.Context, hubURL, key string) (DashboardTiming, error) {
	var t DashboardTiming
	tab, cancel := chromedp.NewContext(browserCtx)
	defer cancel()
	if err := chromedp.Do(tab, SignIn(hubURL, key, "#/signin")); err != nil {
		return t, err
	}
	start := time.Now()
	// A new URL (not only a new hash) so that the page loads afresh and
	// its clock starts at this navigation.
	page := fmt.Sprintf("%s/?load=%d#/", hubURL, time.Now().UnixNano())
	if err := chromedp.Do(tab, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#vcs tbody tr[data-id]`))); err != nil {
		return t, err
	}
	got, err := chromedp.Run(tab, chromedp.Evaluate[[4]float64](`new Promise(resolve => {
		const first = performance.getEntriesByName('nest:dashboard-rendered')[0].startTime;
		setTimeout(() => {
			const interactive = performance.now();
			const rows = Number(document.querySelector('[data-phase="all"] .count-n').textContent);
			const s = document.getElementById('search');
			const t0 = performance.now();
			s.value = 'vc-0'; s.dispatchEvent(new Event('input'));
			const filter = performance.now() - t0;
			s.value = ''; s.dispatchEvent(new Event('input'));
			resolve([first, interactive, rows, filter]);
		}, 0);
	})`, chromedp.EvalAwaitPromise))
	t.Wall = time.Since(start)
	if err != nil {
		return t, err
	}
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	t.FirstRender, t.Interactive, t.Rows, t.Filter = ms(got[0]), ms(got[1]), int(got[2]), ms(got[3])
	return t, nil
}

// Screenshot saves a PNG of the tab's viewport as dir/name.png.
func Screenshot(tab context.Context, dir, name string) error {
	png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("screenshot %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("screenshot %s: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		return fmt.Errorf("screenshot %s: %w", name, err)
	}
	return nil
}
