package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/hubtest"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/server"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
	nestlog "github.com/nestcluster/nest/pkg/log"
)

// start runs a hub until the test ends and returns its URL.
func start(t *testing.T, cfg server.Config) (string, *http.Client, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	cfg.Addr = "127.0.0.1:0"
	cfg.Ready = func(addr string) { ready <- addr }
	done := make(chan error, 1)
	go func() { done <- server.Run(ctx, cfg) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("hub did not start: %v", err)
	}
	pem, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "hub.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub stopped with %v", err)
		}
	}
	return "https://" + addr, client, stop
}

func get(t *testing.T, c *http.Client, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var keyPattern = regexp.MustCompile(`nest_[A-Za-z0-9_-]{43}`)

// TestRun starts a hub twice on one data directory, on each backend: the
// first start prints the admin key once, the second does not.
func TestRun(t *testing.T) {
	for _, b := range storetest.Both(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := ""
			if b.Name != storetest.SQLite.Name {
				db = b.URL(t)
			}
			// The buffers are read only after Ready or after the server stopped.
			var out, logs bytes.Buffer
			cfg := server.Config{DataDir: dir, Database: db, KeyOut: &out, Logger: nestlog.New(&logs, 1)}
			url, client, stop := start(t, cfg)
			key := keyPattern.FindString(out.String())
			if key == "" {
				t.Fatalf("no admin key printed: %q", out.String())
			}
			if code, body := get(t, client, url+"/healthz", ""); code != 200 || body != "ok\n" {
				t.Fatalf("healthz: %d %q", code, body)
			}
			if code, body := get(t, client, url+"/api/v1/whoami", key); code != 200 || !strings.Contains(body, `"name":"admin"`) {
				t.Fatalf("whoami: %d %s", code, body)
			}
			if code, _ := get(t, client, url+"/api/v1/whoami", auth.NewKey()); code != 401 {
				t.Fatalf("unknown key: %d", code)
			}
			stop()

			var out2 bytes.Buffer
			cfg.KeyOut = &out2
			url, client, stop = start(t, cfg)
			if out2.String() != "" {
				t.Fatalf("second start printed %q", out2.String())
			}
			if code, _ := get(t, client, url+"/api/v1/whoami", key); code != 200 {
				t.Fatalf("the first key no longer works: %d", code)
			}
			stop()
			if !strings.Contains(logs.String(), "principal=user:admin") {
				t.Fatalf("the request log does not name the principal:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), key[len("nest_"):]) {
				t.Fatal("the log contains the admin key")
			}
		})
	}
}

func TestBootstrapKeySources(t *testing.T) {
	t.Parallel()
	given := auth.NewKey()
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(given+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  server.Config
	}{
		{"from the environment", server.Config{BootstrapKey: given}},
		{"from a file", server.Config{BootstrapKeyFile: keyFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			tc.cfg.DataDir, tc.cfg.KeyOut = t.TempDir(), &out
			url, client, stop := start(t, tc.cfg)
			defer stop()
			if out.String() != "" {
				t.Fatalf("a given key was printed: %q", out.String())
			}
			if code, _ := get(t, client, url+"/api/v1/whoami", given); code != 200 {
				t.Fatalf("whoami with the given key: %d", code)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"no data dir", server.Config{}, "DataDir"},
		{"bad addr", server.Config{Addr: "8443"}, "--addr"},
		{"half TLS", server.Config{TLSCert: "c"}, "--tls-key"},
		{"bad bootstrap key", server.Config{BootstrapKey: "nope"}, "NEST_HUB_BOOTSTRAP_KEY"},
		{"two bootstrap keys", server.Config{BootstrapKey: "a", BootstrapKeyFile: "b"}, "not both"},
		{"bad database", server.Config{Database: "mysql://x"}, "want sqlite:PATH or postgres://"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.cfg.DataDir == "" && tc.name != "no data dir" {
				tc.cfg.DataDir = t.TempDir()
			}
			err := server.Run(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(tc.cfg.BootstrapKey, "nest_") && strings.Contains(err.Error(), tc.cfg.BootstrapKey) {
				t.Fatal("the error shows the key")
			}
		})
	}
}

// TestEncryptionKey: without a key the hub generates one (0600) into its
// data directory and says so; a later start reuses it; a key given twice
// is refused.
func TestEncryptionKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs bytes.Buffer
	cfg := server.Config{DataDir: dir, Logger: nestlog.New(&logs, 1), NoReconciler: true}
	_, _, stop := start(t, cfg)
	stop()
	path := filepath.Join(dir, "encryption.key")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key %s: %v, %v", path, fi, err)
	}
	if !strings.Contains(logs.String(), "Generated the key that encrypts host credentials") {
		t.Fatalf("the log does not say the key was generated:\n%s", logs.String())
	}
	first, _ := os.ReadFile(path)
	_, _, stop = start(t, cfg)
	stop()
	if again, _ := os.ReadFile(path); !bytes.Equal(first, again) {
		t.Fatal("a second start replaced the key")
	}
	bad := cfg
	bad.EncryptionKey = strings.Repeat("ab", 32)
	bad.EncryptionKeyFile = path
	if err := server.Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("a key given twice: %v", err)
	}
}

// syncBuffer is a log both a hub's goroutines and the test use; shared
// is the log of every replica, in order, each line after its replica's
// name.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	name   string
	shared *syncBuffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	if s.shared != nil {
		_, _ = s.shared.Write(append([]byte(s.name+": "), p...))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitLog waits until the log holds text n times (a deadlock guard only
// bounds it).
func waitLog(t *testing.T, log *syncBuffer, text string, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(log.String(), text) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the log never held %q %d times:\n%s", text, n, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicasOneReconciler runs two hubs on one Postgres database (and
// one data directory): one runs the reconciler, the other serves the API
// and stands by. When the leader loses its database connection it stops
// reconciling at once and the other takes over; when that one stops, the
// first takes over again. At no time do both reconcile.
func TestReplicasOneReconciler(t *testing.T) {
	t.Parallel()
	db := storetest.Postgres(t).URL(t)
	dir := t.TempDir()
	key := auth.NewKey()
	const (
		leads   = "This hub replica is the leader"
		standby = "this one serves the API and stands by"
		lost    = "Lost the leader lock"
		stopped = "Reconciler stopped"
	)
	cfg := func(log *syncBuffer) server.Config {
		return server.Config{DataDir: dir, Database: db, BootstrapKey: key, Logger: nestlog.New(log, 1),
			Reconciler: reconciler.Config{LeaderRetry: 100 * time.Millisecond, LeaderCheck: 100 * time.Millisecond}}
	}
	var both syncBuffer
	logA, logB := syncBuffer{name: "A", shared: &both}, syncBuffer{name: "B", shared: &both}
	_, _, stopA := start(t, cfg(&logA))
	waitLog(t, &logA, leads, 1)
	urlB, clientB, stopB := start(t, cfg(&logB))
	waitLog(t, &logB, standby, 1)
	if code, _ := get(t, clientB, urlB+"/api/v1/whoami", key); code != 200 {
		t.Fatalf("the standby replica does not serve the API: %d", code)
	}
	time.Sleep(time.Second) // a few of B's attempts
	if strings.Contains(logB.String(), leads) {
		t.Fatalf("both replicas lead:\nA:\n%s\nB:\n%s", logA.String(), logB.String())
	}

	// A loses its database connection (the leader lock's): it stops its
	// reconciler, B takes over, and A stands by.
	pg, err := sql.Open("pgx", db)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	// Only this database's leader lock (another test's Postgres database
	// may hold one), and wait for the backend to be gone.
	if _, err := pg.Exec(`SELECT pg_terminate_backend(l.pid, 10000) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.pid <> pg_backend_pid()`, int64(leaderLockKey>>32), int64(leaderLockKey&0xffffffff)); err != nil {
		t.Fatal(err)
	}
	waitLog(t, &logA, lost, 1)
	waitLog(t, &logA, stopped, 1)
	waitLog(t, &logB, leads, 1)
	waitLog(t, &logA, standby, 1)
	// B acted only after A stopped.
	if all := both.String(); !before(all, "A:", stopped, "B:", "Reconciler is starting") {
		t.Fatalf("B started reconciling before A stopped:\n%s", all)
	}

	// B stops: A takes over again, after B stopped.
	stopB()
	waitLog(t, &logA, leads, 2)
	if all := both.String(); !before(all, "B:", stopped, "A:", "Reconciler is starting") {
		t.Fatalf("A started reconciling again before B stopped:\n%s", all)
	}
	if strings.Count(logB.String(), leads) != 1 || !strings.Contains(logB.String(), stopped) {
		t.Fatalf("B's log:\n%s", logB.String())
	}
	stopA()
}

// leaderLockKey is the store's leader lock ("nest" in ASCII, then "lead").
const leaderLockKey = 0x6e6573746c656164

// before reports whether the first line of replica a holding textA comes
// before the last line of replica b holding textB.
func before(log, a, textA, b, textB string) bool {
	first, last := -1, -1
	for i, line := range strings.Split(log, "\n") {
		if first < 0 && strings.HasPrefix(line, a) && strings.Contains(line, textA) {
			first = i
		}
		if strings.HasPrefix(line, b) && strings.Contains(line, textB) {
			last = i
		}
	}
	return first >= 0 && last > first
}

// send makes a request with a JSON body and returns the status and body.
func send(t *testing.T, c *http.Client, method, url, key string, body any) (int, []byte) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// TestReplicasNotifyLeader runs two hubs on one Postgres database whose
// reconciler resyncs and checks hosts only hourly: creates sent to the
// replica that does not lead are picked up by the leader's reconciler at
// once (told through LISTEN/NOTIFY), which only the notification can do
// within the test.
func TestReplicasNotifyLeader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Postgres(t).URL(t)
	dir := t.TempDir()
	key := auth.NewKey()
	cfg := func(log *syncBuffer) server.Config {
		return server.Config{DataDir: dir, Database: db, BootstrapKey: key, Logger: nestlog.New(log, 1),
			Reconciler: reconciler.Config{NestBinary: "/bin/true", Resync: time.Hour, HealthInterval: time.Hour,
				LeaderRetry: 100 * time.Millisecond, LeaderCheck: 100 * time.Millisecond}}
	}
	var both syncBuffer
	logA, logB := syncBuffer{name: "A", shared: &both}, syncBuffer{name: "B", shared: &both}
	_, _, stopA := start(t, cfg(&logA))
	defer stopA()
	waitLog(t, &logA, "Listening for changes made through other hub replicas", 1)
	urlB, clientB, stopB := start(t, cfg(&logB))
	defer stopB()
	waitLog(t, &logB, "this one serves the API and stands by", 1)
	s := storetest.OpenURL(t, db)

	// A host cluster registered through B is checked by A at once.
	code, body := send(t, clientB, "POST", urlB+"/api/v1/hostclusters", key, map[string]any{"name": "h", "kubeconfig": hubtest.UnreachableHost})
	if code != http.StatusCreated {
		t.Fatalf("create host cluster: %d %s", code, body)
	}
	var host store.HostCluster
	if err := json.Unmarshal(body, &host); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		h, err := s.HostClusters.Get(ctx, host.ID)
		if err != nil {
			t.Fatal(err)
		}
		if h.Status.Phase == store.HostUnreachable {
			host = *h
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader never checked the host created through the other replica:\n%s", both.String())
		}
	}

	// It answers now (as far as the hub knows: the checker's part, written
	// in the store, tells no one); a virtual cluster created on it
	// through B is taken up by A's reconciler at once.
	host.Status = store.HostClusterStatus{Phase: store.HostReady, Capacity: store.Resources{CPU: "8", Memory: "32Gi", Storage: "100Gi", Pods: "110"}}
	if err := s.HostClusters.Update(ctx, &host); err != nil {
		t.Fatal(err)
	}
	var obj struct{ ID string }
	post := func(path string, req map[string]any) string {
		t.Helper()
		code, body := send(t, clientB, "POST", urlB+path, key, req)
		if code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, code, body)
		}
		if err := json.Unmarshal(body, &obj); err != nil {
			t.Fatal(err)
		}
		return obj.ID
	}
	group := post("/api/v1/clustergroups", map[string]any{"name": "pool", "hostClusterIds": []string{host.ID}, "quota": map[string]any{"cpu": "1"}})
	tenant := post("/api/v1/tenants", map[string]any{"name": "acme"})
	project := post("/api/v1/tenants/"+tenant+"/projects", map[string]any{"name": "web"})
	vc := post("/api/v1/tenants/"+tenant+"/projects/"+project+"/virtualclusters", map[string]any{"name": "dev", "clusterGroupId": group})
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		v, err := s.VirtualClusters.Get(ctx, vc)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status.Phase != store.VCPending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader never took up the virtual cluster created through the other replica:\n%s", both.String())
		}
	}
	if strings.Contains(logB.String(), "This hub replica is the leader") {
		t.Fatalf("B led:\n%s", both.String())
	}
}
