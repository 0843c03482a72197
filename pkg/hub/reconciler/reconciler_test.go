package reconciler_test

import (
	"bytes"
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nestcluster/nest/pkg/hub/hubtest"
	"github.com/nestcluster/nest/pkg/hub/reconciler"
	"github.com/nestcluster/nest/pkg/hub/secrets"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
	nestlog "github.com/nestcluster/nest/pkg/log"
)

// TestUnreachableHost: a host that does not answer is marked Unreachable
// and its virtual clusters Unknown, never deleted nor failed; a virtual
// cluster being deleted stays Deleting and is kept until the host answers.
func TestUnreachableHost(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := storetest.SQLite.Open(t)
	box, err := secrets.New(bytes.Repeat([]byte{3}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := box.Encrypt([]byte(hubtest.UnreachableHost))
	if err != nil {
		t.Fatal(err)
	}
	host := &store.HostCluster{Meta: store.Meta{Name: "gone"}, KubeconfigEnc: enc,
		Status: store.HostClusterStatus{Phase: store.HostReady, Capacity: store.Resources{CPU: "8"}}}
	if err := s.HostClusters.Create(ctx, host); err != nil {
		t.Fatal(err)
	}
	running := &store.VirtualCluster{Meta: store.Meta{Name: "running"}, ProjectID: "p", Quota: store.Resources{CPU: "1"}, Generation: 1,
		Status: store.VirtualClusterStatus{Phase: store.VCReady, HostClusterID: host.ID}}
	if err := s.VirtualClusters.Create(ctx, running); err != nil {
		t.Fatal(err)
	}
	r, err := reconciler.New(reconciler.Config{Store: s, Secrets: box, DataDir: t.TempDir(), NestBinary: "/bin/true",
		Resync: 100 * time.Millisecond, HealthInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// The host stops answering: its virtual cluster turns Unknown.
	for {
		h, err := s.HostClusters.Get(ctx, host.ID)
		if err != nil {
			t.Fatal(err)
		}
		vc, err := s.VirtualClusters.Get(ctx, running.ID)
		if err != nil {
			t.Fatalf("a virtual cluster of an unreachable host was removed: %v", err)
		}
		if h.Status.Phase == store.HostUnreachable && vc.Status.Phase == store.VCUnknown {
			if h.Status.Message == "" || h.Status.Capacity.CPU != "8" || h.Status.Allocated.CPU != "1" {
				t.Fatalf("host status %+v", h.Status)
			}
			var ready *store.Condition
			for i := range vc.Status.Conditions {
				if vc.Status.Conditions[i].Type == reconciler.CondReady {
					ready = &vc.Status.Conditions[i]
				}
			}
			if ready == nil || ready.Status != "Unknown" || ready.Reason != "HostUnreachable" {
				t.Fatalf("Ready condition %+v", vc.Status.Conditions)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A delete asked meanwhile waits for the host: Deleting, kept.
	deleting := &store.VirtualCluster{Meta: store.Meta{Name: "deleting"}, ProjectID: "p", Generation: 2, Deleting: true,
		Status: store.VirtualClusterStatus{Phase: store.VCReady, HostClusterID: host.ID}}
	if err := s.VirtualClusters.Create(ctx, deleting); err != nil {
		t.Fatal(err)
	}
	r.Changed("virtualcluster", deleting.ID)
	for {
		vc, err := s.VirtualClusters.Get(ctx, deleting.ID)
		if err != nil {
			t.Fatalf("a deleting virtual cluster of an unreachable host was removed: %v", err)
		}
		if vc.Status.Message != "" {
			if vc.Status.Phase != store.VCDeleting || !strings.Contains(vc.Status.Message, "unreachable") {
				t.Fatalf("deleting cluster status %+v", vc.Status)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLifecycleName(t *testing.T) {
	t.Parallel()
	vc := &store.VirtualCluster{Meta: store.Meta{ID: "01a2152e6c470000de4c5a5d736d", Name: "dev"}}
	if got := reconciler.LifecycleName(vc); got != "dev-5d736d" {
		t.Fatalf("got %s", got)
	}
}

func TestQuotaHard(t *testing.T) {
	t.Parallel()
	hard, err := reconciler.QuotaHard(store.Resources{CPU: "2", Memory: "4Gi", Storage: "10Gi", Pods: "20"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"requests.cpu": "2", "requests.memory": "4Gi", "requests.storage": "10Gi", "pods": "20"}
	if len(hard) != len(want) {
		t.Fatalf("hard %v", hard)
	}
	for k, v := range want {
		q := hard[corev1ResourceName(k)]
		if q.String() != v {
			t.Fatalf("%s = %s, want %s", k, q.String(), v)
		}
	}
	if _, err := reconciler.QuotaHard(store.Resources{CPU: "lots"}); err == nil {
		t.Fatal("a bad quantity was accepted")
	}
}

func corev1ResourceName(s string) corev1.ResourceName { return corev1.ResourceName(s) }

func TestUsedOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		used corev1.ResourceList
		want store.Resources
	}{
		{"nothing counted yet", nil, store.Resources{}},
		{"every dimension", corev1.ResourceList{
			corev1.ResourceRequestsCPU: resource.MustParse("250m"), corev1.ResourceRequestsMemory: resource.MustParse("512Mi"),
			corev1.ResourceRequestsStorage: resource.MustParse("1Gi"), corev1.ResourcePods: resource.MustParse("3"),
			corev1.ResourceServices: resource.MustParse("2")},
			store.Resources{CPU: "250m", Memory: "512Mi", Storage: "1Gi", Pods: "3"}},
		{"only pods limited", corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}, store.Resources{Pods: "0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := reconciler.UsedOf(tc.used); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// syncLog is a log the reconciler's goroutines and the test share.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until the log holds text (a deadlock guard only bounds
// it).
func (l *syncLog) waitFor(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(l.String(), text); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never held %q:\n%s", text, l.String())
		}
	}
}

// TestFencedLeaderStops: a leader whose lock another replica has taken
// (the leader epoch moved on) and which has not noticed yet (its next
// check is an hour away) gets its first write refused, writes nothing and
// stops reconciling.
func TestFencedLeaderStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := storetest.Postgres(t).URL(t)
	s := storetest.OpenURL(t, url)
	box, err := secrets.New(bytes.Repeat([]byte{3}, secrets.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	var log syncLog
	r, err := reconciler.New(reconciler.Config{Store: s, Secrets: box, DataDir: t.TempDir(), NestBinary: "/bin/true", Logger: nestlog.New(&log, 0),
		Resync: time.Hour, HealthInterval: time.Hour, LeaderCheck: time.Hour, LeaderRetry: time.Hour, LeaderWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	log.waitFor(t, "Listening for changes made through other hub replicas")

	// Another replica takes the lock (as its TryLeader does: the epoch
	// moves on) while this one still believes it leads.
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE leader_epoch SET epoch = epoch + 1 WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	vc := &store.VirtualCluster{Meta: store.Meta{Name: "dev"}, ProjectID: "p", Status: store.VirtualClusterStatus{HostClusterID: "gone"}}
	if err := s.VirtualClusters.Create(ctx, vc); err != nil {
		t.Fatal(err)
	}
	r.Changed("virtualcluster", vc.ID)
	log.waitFor(t, "Another hub replica took the leader lock: stopping the reconciler")
	log.waitFor(t, "Reconciler stopped")
	got, err := s.VirtualClusters.Get(ctx, vc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ResourceVersion != 1 || got.Status.Phase != "" {
		t.Fatalf("the fenced leader wrote the virtual cluster: %+v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
