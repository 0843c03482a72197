package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// TestFleetAPI runs the host cluster, cluster group and virtual cluster
// cases against SQLite and PostgreSQL.
func TestFleetAPI(t *testing.T) {
	storetest.RunBoth(t, []storetest.Case{
		{Name: "bad input names the field", Run: withHub(testFleetValidation)},
		{Name: "host kubeconfigs are never returned", Run: withHub(testHostKubeconfigHidden)},
		{Name: "placement picks the freest ready host and refuses when full", Run: withHub(testPlacementThroughAPI)},
		{Name: "virtual cluster lifecycle requests", Run: withHub(testVirtualClusterRequests)},
		{Name: "a project with virtual clusters is deleted only with force", Run: withHub(testProjectDeleteForce)},
		{Name: "a project's list only in its tenant", Run: withHub(testListInProject)},
		{Name: "tenant quotas are checked first", Run: withHub(testTenantQuota)},
		{Name: "concurrent creates and updates of virtual clusters", Run: withHub(testConcurrentVirtualClusters)},
	})
}

// fleet makes a tenant, a project, ready hosts (capacity cpu each) and a
// group of them.
type fleet struct {
	tenant, project, group string
	hosts                  []string
	vcs                    string // the project's virtualclusters path
}

func newFleet(t *testing.T, h *hub, groupQuota map[string]any, cpus ...string) *fleet {
	t.Helper()
	f := &fleet{}
	var obj struct{ ID string }
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "acme"}).must(t, 201).decode(t, &obj)
	f.tenant = obj.ID
	h.do("POST", "/api/v1/tenants/"+f.tenant+"/projects", h.admin, map[string]any{"name": "web"}).must(t, 201).decode(t, &obj)
	f.project = obj.ID
	for i, cpu := range cpus {
		var hc store.HostCluster
		h.do("POST", "/api/v1/hostclusters", h.admin, map[string]any{"name": "host" + string(rune('a'+i)), "kubeconfig": testHostKubeconfig}).
			must(t, 201).decode(t, &hc)
		// The health checker's part: the host answered with this capacity.
		hc.Status = store.HostClusterStatus{Phase: store.HostReady, Capacity: store.Resources{CPU: cpu, Memory: "32Gi", Storage: "100Gi", Pods: "110"}}
		mustDo(t, h.s.HostClusters.Update(context.Background(), &hc))
		f.hosts = append(f.hosts, hc.ID)
	}
	body := map[string]any{"name": "pool", "hostClusterIds": f.hosts, "quota": groupQuota, "maxVirtualClusters": 3}
	h.do("POST", "/api/v1/clustergroups", h.admin, body).must(t, 201).decode(t, &obj)
	f.group = obj.ID
	f.vcs = "/api/v1/tenants/" + f.tenant + "/projects/" + f.project + "/virtualclusters"
	return f
}

func testFleetValidation(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "2"}, "8")
	tests := []struct {
		name      string
		method    string
		path      string
		body      any
		wantField string
	}{
		{"host without kubeconfig", "POST", "/api/v1/hostclusters", map[string]any{"name": "x"}, "kubeconfig"},
		{"host with a broken kubeconfig", "POST", "/api/v1/hostclusters", map[string]any{"name": "x", "kubeconfig": "{{"}, "kubeconfig"},
		{"host with a bad name", "POST", "/api/v1/hostclusters", map[string]any{"name": "X", "kubeconfig": testHostKubeconfig}, "name"},
		{"host with an unknown field", "POST", "/api/v1/hostclusters", map[string]any{"name": "x", "kubeconfig": testHostKubeconfig, "server": "y"}, "server"},
		{"group with a bad quota", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "quota": map[string]any{"memory": "lots"}}, "quota.memory"},
		{"group with a negative quota", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "quota": map[string]any{"cpu": "-1"}}, "quota.cpu"},
		{"group with an unknown quota field", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "quota": map[string]any{"gpu": "1"}}, "gpu"},
		{"group with an unknown host", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "hostClusterIds": []string{"nope"}}, "hostClusterIds[0]"},
		{"group with a host twice", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "hostClusterIds": []string{f.hosts[0], f.hosts[0]}}, "hostClusterIds[1]"},
		{"group with a bad endpoint type", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "endpointType": "Magic"}, "endpointType"},
		{"group with a negative maximum", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "maxVirtualClusters": -1}, "maxVirtualClusters"},
		{"group with too much oversubscription", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "oversubscriptionPercent": 5000}, "oversubscriptionPercent"},
		{"group with a bad default config", "POST", "/api/v1/clustergroups", map[string]any{"name": "g", "defaultConfig": "kind: Nope\n"}, "defaultConfig"},
		{"vc without a group", "POST", f.vcs, map[string]any{"name": "dev"}, "clusterGroupId"},
		{"vc with an unknown group", "POST", f.vcs, map[string]any{"name": "dev", "clusterGroupId": "nope"}, "clusterGroupId"},
		{"vc with a long name", "POST", f.vcs, map[string]any{"name": strings.Repeat("a", 51), "clusterGroupId": f.group}, "name"},
		{"vc with another version", "POST", f.vcs, map[string]any{"name": "dev", "clusterGroupId": f.group, "kubernetesVersion": "v1.20.0"}, "kubernetesVersion"},
		{"vc above the group quota", "POST", f.vcs, map[string]any{"name": "dev", "clusterGroupId": f.group, "quota": map[string]any{"cpu": "3"}}, "quota.cpu"},
		{"vc with a bad quota", "POST", f.vcs, map[string]any{"name": "dev", "clusterGroupId": f.group, "quota": map[string]any{"pods": "x"}}, "quota.pods"},
		{"vc with a bad config", "POST", f.vcs, map[string]any{"name": "dev", "clusterGroupId": f.group, "config": "sync: 3\n"}, "config"},
		{"vc with an empty profile", "POST", f.vcs, map[string]any{"name": "dev", "clusterGroupId": f.group, "profiles": []string{""}}, "profiles[0].profileId"},
		{"vc with paused as a string", "POST", f.vcs, map[string]any{"name": "dev", "clusterGroupId": f.group, "paused": "yes"}, "paused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := h.do(tc.method, tc.path, h.admin, tc.body).must(t, 400).apiError(t)
			if e.Details["field"] != tc.wantField {
				t.Fatalf("field %q, want %q: %s", e.Details["field"], tc.wantField, e.Message)
			}
		})
	}
}

func testHostKubeconfigHidden(t *testing.T, h *hub) {
	r := h.do("POST", "/api/v1/hostclusters", h.admin, map[string]any{"name": "h", "kubeconfig": testHostKubeconfig}).must(t, 201)
	var hc store.HostCluster
	r.decode(t, &hc)
	for _, resp := range []response{r, h.do("GET", "/api/v1/hostclusters/"+hc.ID, h.admin, nil).must(t, 200),
		h.do("GET", "/api/v1/hostclusters", h.admin, nil).must(t, 200), h.do("GET", "/api/v1/audit", h.admin, nil).must(t, 200)} {
		if strings.Contains(string(resp.body), "secret-host-token") || strings.Contains(string(resp.body), "enc:v1:") {
			t.Fatalf("a response shows the host credentials: %s", resp.body)
		}
	}
	if got := h.fleet.changed(); len(got) != 1 || got[0] != "hostcluster/"+hc.ID {
		t.Fatalf("the reconciler was told %v", got)
	}
	stored, err := h.s.HostClusters.Get(context.Background(), hc.ID)
	mustDo(t, err)
	if !strings.HasPrefix(stored.KubeconfigEnc, "enc:v1:") || strings.Contains(stored.KubeconfigEnc, "secret-host-token") {
		t.Fatalf("stored kubeconfig is not encrypted: %q", stored.KubeconfigEnc)
	}
	// An update keeps the kubeconfig unless it gives one.
	h.do("PUT", "/api/v1/hostclusters/"+hc.ID, h.admin, map[string]any{"description": "d", "resourceVersion": hc.ResourceVersion}).must(t, 200)
	again, err := h.s.HostClusters.Get(context.Background(), hc.ID)
	mustDo(t, err)
	if again.KubeconfigEnc != stored.KubeconfigEnc {
		t.Fatal("an update without a kubeconfig replaced it")
	}
}

// TestHostKubeconfigEncryptedAtRest reads the SQLite file itself: the
// host's token must not be in it.
func TestHostKubeconfigEncryptedAtRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := storetest.OpenURL(t, "sqlite:"+filepath.Join(dir, "hub.db"))
	h := newHub(t, s)
	h.do("POST", "/api/v1/hostclusters", h.admin, map[string]any{"name": "h", "kubeconfig": testHostKubeconfig}).must(t, 201)
	mustDo(t, s.Close())
	for _, name := range []string{"hub.db", "hub.db-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		mustDo(t, err)
		if strings.Contains(string(data), "secret-host-token") || strings.Contains(string(data), "insecure-skip-tls-verify") {
			t.Fatalf("%s holds the host kubeconfig in plain text", name)
		}
		if name == "hub.db" && !strings.Contains(string(data), "enc:v1:") {
			t.Fatalf("%s holds no encrypted value: did the row land elsewhere?", name)
		}
	}
}

func testPlacementThroughAPI(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "4", "memory": "1Gi"}, "8", "16")
	var vc store.VirtualCluster
	// The scarcest dimension's free fraction after placement decides (cpu
	// here): b 12/16 over a 4/8; then a 4/8 ties b 8/16 (the lower id
	// wins); then b 8/16 over a 0/8.
	want := []int{1, 0, 1}
	for i, w := range want {
		h.do("POST", f.vcs, h.admin, map[string]any{"name": "vc" + string(rune('0'+i)), "clusterGroupId": f.group}).must(t, 201).decode(t, &vc)
		if vc.Status.HostClusterID != f.hosts[w] || vc.Status.Phase != store.VCPending || vc.Quota.CPU != "4" || vc.Quota.Memory != "1Gi" {
			t.Fatalf("vc %d: placed on %s, want %s: %+v", i, vc.Status.HostClusterID, f.hosts[w], vc)
		}
	}
	e := h.do("POST", f.vcs, h.admin, map[string]any{"name": "vc9", "clusterGroupId": f.group}).must(t, 409).apiError(t)
	if e.Details["field"] != "clusterGroupId" || !strings.Contains(e.Message, "maximum") {
		t.Fatalf("past the maximum: %+v", e)
	}
	// Without a maximum, capacity runs out: a has 4 CPUs left, b 8.
	var g store.ClusterGroup
	h.do("GET", "/api/v1/clustergroups/"+f.group, h.admin, nil).must(t, 200).decode(t, &g)
	h.do("PUT", "/api/v1/clustergroups/"+f.group, h.admin, map[string]any{"hostClusterIds": g.HostClusterIDs, "quota": map[string]any{"cpu": "16"},
		"maxVirtualClusters": 0, "resourceVersion": g.ResourceVersion}).must(t, 200)
	e = h.do("POST", f.vcs, h.admin, map[string]any{"name": "big", "clusterGroupId": f.group, "quota": map[string]any{"cpu": "9"}}).must(t, 409).apiError(t)
	if e.Details["field"] != "quota" || !strings.Contains(e.Message, "no healthy host") {
		t.Fatalf("no room: %+v", e)
	}
	// A host that does not answer takes nothing.
	hb, err := h.s.HostClusters.Get(context.Background(), f.hosts[1])
	mustDo(t, err)
	hb.Status.Phase = store.HostUnreachable
	mustDo(t, h.s.HostClusters.Update(context.Background(), hb))
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "small", "clusterGroupId": f.group, "quota": map[string]any{"cpu": "1"}}).must(t, 201).decode(t, &vc)
	if vc.Status.HostClusterID != f.hosts[0] {
		t.Fatalf("placed on the unreachable host")
	}
	// Hosts with virtual clusters, and groups with them, stay.
	h.do("DELETE", "/api/v1/hostclusters/"+f.hosts[0], h.admin, nil).must(t, 409)
	h.do("DELETE", "/api/v1/clustergroups/"+f.group, h.admin, nil).must(t, 409)
}

func testVirtualClusterRequests(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "2", "pods": "20"}, "8")
	p1 := []map[string]any{{"profileId": storeProfile(t, h.s, "p1", "1")}}
	var vc store.VirtualCluster
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group, "profiles": p1},
		"Idempotency-Key", "dev-1").must(t, 201).decode(t, &vc)
	replay := h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group, "profiles": p1}, "Idempotency-Key", "dev-1").must(t, 201)
	if replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("the create with the same key was not replayed")
	}
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group}).must(t, 409)
	path := f.vcs + "/" + vc.ID
	if vc.Generation != 1 || vc.KubernetesVersion == "" {
		t.Fatalf("created %+v", vc)
	}
	// The kubeconfig is only for Ready clusters.
	h.do("GET", path+"/kubeconfig", h.admin, nil).must(t, 409)
	// Pause: a new generation. A stale write conflicts.
	h.do("PUT", path, h.admin, map[string]any{"paused": true, "profiles": p1, "resourceVersion": vc.ResourceVersion}).must(t, 200).decode(t, &vc)
	if !vc.Paused || vc.Generation != 2 {
		t.Fatalf("paused %+v", vc)
	}
	h.do("PUT", path, h.admin, map[string]any{"paused": false, "resourceVersion": vc.ResourceVersion - 1}).must(t, 409)
	// Resize within the group's quota; above it is refused.
	h.do("PUT", path, h.admin, map[string]any{"paused": true, "profiles": p1, "quota": map[string]any{"cpu": "1"}, "resourceVersion": vc.ResourceVersion}).must(t, 200).decode(t, &vc)
	if vc.Quota.CPU != "1" || vc.Quota.Pods != "20" || vc.Generation != 3 {
		t.Fatalf("resized %+v", vc)
	}
	h.do("PUT", path, h.admin, map[string]any{"quota": map[string]any{"cpu": "3"}, "resourceVersion": vc.ResourceVersion}).must(t, 400)
	h.do("PUT", path, h.admin, map[string]any{"config": "apiVersion: nest.dev/v1alpha1\nkind: VirtualClusterConfig\n", "resourceVersion": vc.ResourceVersion}).must(t, 400)
	// A Ready cluster hands out its kubeconfig, and the audit log says so.
	vc.Status.Phase = store.VCReady
	mustDo(t, h.s.VirtualClusters.Update(context.Background(), &vc))
	var kc api.VirtualClusterKubeconfig
	h.do("GET", path+"/kubeconfig", h.admin, nil, "X-Request-Id", "kc-1").must(t, 200).decode(t, &kc)
	if kc.Kubeconfig != testVCKubeconfig || kc.VirtualClusterID != vc.ID {
		t.Fatalf("kubeconfig %+v", kc)
	}
	var events store.Page[store.AuditEvent]
	h.do("GET", "/api/v1/audit?action=virtualcluster.kubeconfig", h.admin, nil).must(t, 200).decode(t, &events)
	if len(events.Items) != 1 || events.Items[0].RequestID != "kc-1" || events.Items[0].ResourceID != vc.ID ||
		events.Items[0].ProjectID != f.project || strings.Contains(string(events.Items[0].After), "test virtual cluster") {
		t.Fatalf("audit of the download: %+v", events.Items)
	}
	// Delete is asynchronous: the cluster turns Deleting and stays.
	var deleting store.VirtualCluster
	h.do("DELETE", path, h.admin, nil).must(t, http.StatusAccepted).decode(t, &deleting)
	if !deleting.Deleting {
		t.Fatalf("deleted %+v", deleting)
	}
	h.do("GET", path, h.admin, nil).must(t, 200)
	h.do("PUT", path, h.admin, map[string]any{"resourceVersion": deleting.ResourceVersion}).must(t, 409)
	// Another project never reaches it.
	var other store.Project
	h.do("POST", "/api/v1/tenants/"+f.tenant+"/projects", h.admin, map[string]any{"name": "other"}).must(t, 201).decode(t, &other)
	h.do("GET", "/api/v1/tenants/"+f.tenant+"/projects/"+other.ID+"/virtualclusters/"+vc.ID, h.admin, nil).must(t, 404)
	var page store.Page[store.VirtualCluster]
	h.do("GET", f.vcs+"?phase=Ready", h.admin, nil).must(t, 200).decode(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("filter by phase: %d items", len(page.Items))
	}
}

func testProjectDeleteForce(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "1"}, "8")
	var vc store.VirtualCluster
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group}).must(t, 201).decode(t, &vc)
	projectPath := "/api/v1/tenants/" + f.tenant + "/projects/" + f.project
	e := h.do("DELETE", projectPath, h.admin, nil).must(t, 409).apiError(t)
	if e.Details["field"] != "force" {
		t.Fatalf("refusal: %+v", e)
	}
	h.do("DELETE", "/api/v1/tenants/"+f.tenant, h.admin, nil).must(t, 409)
	h.do("DELETE", projectPath+"?force=maybe", h.admin, nil).must(t, 400)
	h.do("DELETE", projectPath+"?force=true", h.admin, nil).must(t, 204)
	got, err := h.s.VirtualClusters.Get(context.Background(), vc.ID)
	mustDo(t, err)
	if !got.Deleting {
		t.Fatalf("the project's virtual cluster is not being deleted: %+v", got)
	}
	// Its virtual cluster waits for the reconciler, but the project is
	// gone: its list is not found, not the leftover.
	h.do("GET", f.vcs, h.admin, nil).must(t, 404)
}

// testListInProject: a project's list is found only in its own tenant,
// empty when the project has no virtual clusters.
func testListInProject(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "1"}, "8")
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "dev", "clusterGroupId": f.group}).must(t, 201)
	var other, empty struct{ ID string }
	h.do("POST", "/api/v1/tenants", h.admin, map[string]any{"name": "other"}).must(t, 201).decode(t, &other)
	h.do("POST", "/api/v1/tenants/"+f.tenant+"/projects", h.admin, map[string]any{"name": "empty"}).must(t, 201).decode(t, &empty)
	var page store.Page[store.VirtualCluster]
	h.do("GET", f.vcs, h.admin, nil).must(t, 200).decode(t, &page)
	if len(page.Items) != 1 {
		t.Fatalf("own project: %d items", len(page.Items))
	}
	h.do("GET", "/api/v1/tenants/"+other.ID+"/projects/"+f.project+"/virtualclusters", h.admin, nil).must(t, 404)
	h.do("GET", "/api/v1/tenants/"+f.tenant+"/projects/"+store.NewID()+"/virtualclusters", h.admin, nil).must(t, 404)
	h.do("GET", "/api/v1/tenants/"+f.tenant+"/projects/"+empty.ID+"/virtualclusters", h.admin, nil).must(t, 200).decode(t, &page)
	if len(page.Items) != 0 || page.Items == nil {
		t.Fatalf("empty project: %+v", page)
	}
}

func testTenantQuota(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "2", "pods": "20"}, "64")
	var tn store.Tenant
	h.do("GET", "/api/v1/tenants/"+f.tenant, h.admin, nil).must(t, 200).decode(t, &tn)
	e := h.do("PUT", "/api/v1/tenants/"+f.tenant, h.admin, map[string]any{"quota": map[string]any{"virtualClusters": -1}, "resourceVersion": tn.ResourceVersion}).
		must(t, 400).apiError(t)
	if e.Details["field"] != "quota.virtualClusters" {
		t.Fatalf("bad tenant quota: %+v", e)
	}
	h.do("PUT", "/api/v1/tenants/"+f.tenant, h.admin, map[string]any{"quota": map[string]any{"cpu": "3", "virtualClusters": 2}, "resourceVersion": tn.ResourceVersion}).
		must(t, 200).decode(t, &tn)
	if tn.Quota.CPU != "3" || tn.Quota.VirtualClusters != 2 {
		t.Fatalf("tenant quota %+v", tn.Quota)
	}
	var vc store.VirtualCluster
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "a", "clusterGroupId": f.group}).must(t, 201).decode(t, &vc)
	// 2 + 2 CPUs > 3: refused by the tenant's quota though the group has room.
	e = h.do("POST", f.vcs, h.admin, map[string]any{"name": "b", "clusterGroupId": f.group}).must(t, 409).apiError(t)
	if e.Details["field"] != "quota.cpu" || !strings.Contains(e.Message, "tenant acme") {
		t.Fatalf("over the tenant's cpu: %+v", e)
	}
	var b store.VirtualCluster
	h.do("POST", f.vcs, h.admin, map[string]any{"name": "b", "clusterGroupId": f.group, "quota": map[string]any{"cpu": "1"}}).must(t, 201).decode(t, &b)
	e = h.do("POST", f.vcs, h.admin, map[string]any{"name": "c", "clusterGroupId": f.group, "quota": map[string]any{"cpu": "0"}}).must(t, 409).apiError(t)
	if !strings.Contains(e.Message, "at most 2 virtual clusters") {
		t.Fatalf("over the tenant's count: %+v", e)
	}
	// A resize counts too: 2 + 2 > 3.
	e = h.do("PUT", f.vcs+"/"+b.ID, h.admin, map[string]any{"quota": map[string]any{"cpu": "2"}, "resourceVersion": b.ResourceVersion}).must(t, 409).apiError(t)
	if e.Details["field"] != "quota.cpu" {
		t.Fatalf("resize over the tenant's cpu: %+v", e)
	}
	// A tenant's admin cannot raise its own quota, but may update the rest.
	admin, key := userWithKey(t, h.s, "ta")
	bind(t, h.s, "ta", "tenant-admin", admin.ID, f.tenant, "")
	h.do("PUT", "/api/v1/tenants/"+f.tenant, key, map[string]any{"displayName": "x", "quota": map[string]any{"cpu": "100"}, "resourceVersion": tn.ResourceVersion}).must(t, 403)
	h.do("PUT", "/api/v1/tenants/"+f.tenant, key, map[string]any{"displayName": "x", "quota": map[string]any{"cpu": "3", "virtualClusters": 2}, "resourceVersion": tn.ResourceVersion}).must(t, 200)
}

func testConcurrentVirtualClusters(t *testing.T, h *hub) {
	f := newFleet(t, h, map[string]any{"cpu": "1"}, "64") // the group takes at most 3
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.do("POST", f.vcs, h.admin, map[string]any{"name": fmt.Sprintf("vc%d", i), "clusterGroupId": f.group}).status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if created != 3 {
		t.Fatalf("%d creates passed a group limited to 3: %v", created, statuses)
	}
	var page store.Page[store.VirtualCluster]
	h.do("GET", f.vcs, h.admin, nil).must(t, 200).decode(t, &page)
	vc := page.Items[0]
	var profiles []string
	for i := range n {
		profiles = append(profiles, storeProfile(t, h.s, fmt.Sprint("p", i), "1"))
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.do("PUT", f.vcs+"/"+vc.ID, h.admin, map[string]any{"paused": i%2 == 0, "profiles": []map[string]any{{"profileId": profiles[i]}},
				"resourceVersion": vc.ResourceVersion}).status
		}()
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case 200:
			won++
		case 409:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	var got store.VirtualCluster
	h.do("GET", f.vcs+"/"+vc.ID, h.admin, nil).must(t, 200).decode(t, &got)
	if won != 1 || got.ResourceVersion != vc.ResourceVersion+1 || got.Generation != vc.Generation+1 {
		t.Fatalf("%d updates won; now %+v", won, got)
	}
}
