// Package reconciler drives the hub's virtual clusters towards what the
// store says, through the lifecycle API, and checks the health and
// capacity of the host clusters.
//
// Work comes from a queue of virtual cluster ids fed on start with every
// virtual cluster (so a hub restarted in the middle of a create finishes
// it), on every change the API commits (through this replica or, heard
// through the store, another), on a periodic resync and when a
// host's health changes. Each step is idempotent: create when the
// lifecycle has no record, start when stopped and not paused, stop when
// paused, delete when deleting. Status is written back with optimistic
// concurrency, retried on conflict, and says Ready only once the virtual
// apiserver answers.
//
// The virtual clusters run with the process runtime: `nest controlplane`
// processes on the hub's machine, in a Nest home under the hub's data
// directory, talking to their host through its kubeconfig, written 0600
// under the data directory. They outlive the hub: stopping the reconciler
// leaves them running.
package reconciler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"

	"github.com/nestcluster/nest/pkg/config"
	"github.com/nestcluster/nest/pkg/fsutil"
	"github.com/nestcluster/nest/pkg/hub/secrets"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/lifecycle"
	nestlog "github.com/nestcluster/nest/pkg/log"
	"github.com/nestcluster/nest/pkg/nesthome"
)

// Config configures a Reconciler.
type Config struct {
	Store   *store.Store
	Secrets *secrets.Box
	// DataDir is the hub's data directory: the Nest home of the virtual
	// clusters is DataDir/nest, host kubeconfigs are in DataDir/hosts.
	DataDir string
	Logger  *slog.Logger
	// NestBinary runs the control planes (default: $NEST_BINARY or the
	// running executable).
	NestBinary string
	// Workers reconcile that many virtual clusters at once (default 4).
	Workers int
	// Resync is how often every virtual cluster is looked at again
	// (default 30s); HealthInterval how often every host is checked
	// (default 30s).
	Resync         time.Duration
	HealthInterval time.Duration
	// ReadyTimeout bounds one wait for a control plane to become ready
	// (default 3m); a slower one is retried.
	ReadyTimeout time.Duration
	// LeaderRetry is how often a replica that is not the leader tries to
	// take the leader lock (default 5s); LeaderCheck how often the leader
	// checks that it still holds it (default 2s).
	LeaderRetry time.Duration
	LeaderCheck time.Duration
	// LeaderWait is how long a replica that took the leader lock waits
	// before it acts (default two LeaderChecks: a leader cut off from the
	// database has stopped by then).
	LeaderWait time.Duration
	// ObserveInterval is how often, at most, a Ready virtual cluster's
	// synced-object counts and events are read (default 1m; at its next
	// reconcile after that).
	ObserveInterval time.Duration
}

func (c *Config) validate() error {
	switch {
	case c.Store == nil:
		return errors.New("reconciler: Store is required")
	case c.Secrets == nil:
		return errors.New("reconciler: Secrets is required")
	case c.DataDir == "":
		return errors.New("reconciler: DataDir is required")
	}
	if c.Logger == nil {
		c.Logger = nestlog.Discard()
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Resync <= 0 {
		c.Resync = 30 * time.Second
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = 30 * time.Second
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 3 * time.Minute
	}
	if c.LeaderRetry <= 0 {
		c.LeaderRetry = 5 * time.Second
	}
	if c.LeaderCheck <= 0 {
		c.LeaderCheck = 2 * time.Second
	}
	if c.LeaderWait <= 0 {
		c.LeaderWait = 2 * c.LeaderCheck
	}
	if c.ObserveInterval <= 0 {
		c.ObserveInterval = time.Minute
	}
	return nil
}

// Reconciler reconciles virtual clusters and checks host clusters.
type Reconciler struct {
	cfg      Config
	store    *store.Store
	log      *slog.Logger
	provider *lifecycle.Provider
	// queues guards vcs and hosts: the work queues of the current term as
	// leader, nil while this replica is not the leader.
	queues sync.Mutex
	vcs    workqueue.TypedRateLimitingInterface[string]
	hosts  workqueue.TypedRateLimitingInterface[string]
	// hostFiles serializes writes of one host's kubeconfig file.
	hostFiles sync.Mutex
	// observed is when each virtual cluster's objects and events were
	// last read (observeInto).
	observedMu sync.Mutex
	observed   map[string]time.Time
}

// New returns a reconciler; Run starts it.
func New(cfg Config) (*Reconciler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	home, err := nesthome.Open(filepath.Join(cfg.DataDir, "nest"))
	if err != nil {
		return nil, fmt.Errorf("reconciler home: %w", err)
	}
	opts := []lifecycle.Option{lifecycle.WithLogger(cfg.Logger)}
	if cfg.NestBinary != "" {
		opts = append(opts, lifecycle.WithNestBinary(cfg.NestBinary))
	}
	p, err := lifecycle.NewProvider(home, opts...)
	if err != nil {
		return nil, err
	}
	return &Reconciler{cfg: cfg, store: cfg.Store, log: cfg.Logger, provider: p}, nil
}

func newQueue(name string) workqueue.TypedRateLimitingInterface[string] {
	limiter := workqueue.NewTypedItemExponentialFailureRateLimiter[string](500*time.Millisecond, time.Minute)
	return workqueue.NewTypedRateLimitingQueueWithConfig(limiter, workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
}

// Changed tells the reconciler that an object changed ("hostcluster" or
// "virtualcluster"); it implements api.Fleet. A replica that is not the
// leader drops it: the leader hears the change through the store
// (Store.NotifyChange, Store.Listen).
func (r *Reconciler) Changed(resource, id string) {
	r.queues.Lock()
	defer r.queues.Unlock()
	switch {
	case r.vcs == nil:
	case resource == "hostcluster":
		r.hosts.Add(id)
	case resource == "virtualcluster":
		r.vcs.Add(id)
	}
}

// Kubeconfig returns the admin kubeconfig of a virtual cluster; it
// implements api.Fleet.
func (r *Reconciler) Kubeconfig(ctx context.Context, vc *store.VirtualCluster) ([]byte, error) {
	return r.provider.KubeconfigBytes(ctx, LifecycleName(vc))
}

// LifecycleName is the name of a virtual cluster in the lifecycle API (and
// so in its host namespace): its name and the end of its id, unique on the
// hub while names are unique only in a project.
func LifecycleName(vc *store.VirtualCluster) string {
	id := vc.ID
	if len(id) > 6 {
		id = id[len(id)-6:]
	}
	return vc.Name + "-" + id
}

// Run works until ctx is done. It returns once the workers stopped; the
// virtual clusters' processes keep running.
//
// Hub replicas on one database reconcile one at a time: Run takes the
// store's leader lock (store.TryLeader) and reconciles while it holds it,
// checking every LeaderCheck that it still does (a leader that lost its
// database connection, or whose check takes longer than that, stops); the
// others try again every LeaderRetry and take over when the leader stops
// or dies, waiting LeaderWait (two LeaderChecks) after taking the lock
// before they act, so that a leader cut off from the database has stopped
// by then. Taking the lock moves the store's leader epoch on, and the
// leader's writes are fenced with its epoch: a cut-off leader that has
// not noticed yet cannot write once another replica took the lock.
func (r *Reconciler) Run(ctx context.Context) error {
	waiting := false
	for {
		lead, err := r.store.TryLeader(ctx)
		switch {
		case err == nil:
			// A leader that lost its connection (and so the lock) notices
			// within one LeaderCheck: give it two before acting.
			r.log.Info("This hub replica took the leader lock", "wait", r.cfg.LeaderWait, "epoch", lead.Epoch())
			select {
			case <-ctx.Done():
			case <-time.After(r.cfg.LeaderWait):
				if err := lead.Check(ctx); err == nil {
					r.log.Info("This hub replica is the leader: it runs the reconciler")
					r.lead(ctx, lead)
				}
			}
			lead.Release()
			waiting = false
		case errors.Is(err, store.ErrNotLeader):
			if !waiting {
				r.log.Info("Another hub replica runs the reconciler; this one serves the API and stands by", "retry", r.cfg.LeaderRetry)
				waiting = true
			}
		case ctx.Err() == nil:
			r.log.Warn("Could not take the leader lock", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.cfg.LeaderRetry):
		}
	}
}

// lead reconciles until ctx is done or the leader lock is lost. Every
// write of the term is fenced with the lock's epoch: once another replica
// has taken the lock, it is refused and the term ends.
func (r *Reconciler) lead(ctx context.Context, l *store.Leader) {
	ctx, cancel := context.WithCancel(store.WithFence(ctx, l.Epoch()))
	defer cancel()
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		t := time.NewTicker(r.cfg.LeaderCheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			// A check that does not answer within the interval counts as
			// lost: the other replicas may have the lock by now.
			cctx, ccancel := context.WithTimeout(ctx, r.cfg.LeaderCheck)
			err := l.Check(cctx)
			ccancel()
			if err != nil && ctx.Err() == nil {
				r.log.Error("Lost the leader lock: stopping the reconciler", "err", err)
				cancel()
				return
			}
		}
	}()
	r.reconcileTerm(ctx, cancel)
	cancel()
	<-checked
}

// reconcileTerm runs the workers of one term as leader until ctx is done;
// a fenced write calls stop.
func (r *Reconciler) reconcileTerm(ctx context.Context, stop context.CancelFunc) {
	r.log.Info("Reconciler is starting", "workers", r.cfg.Workers, "resync", r.cfg.Resync, "healthInterval", r.cfg.HealthInterval)
	vcs, hosts := newQueue("virtualclusters"), newQueue("hostclusters")
	r.queues.Lock()
	r.vcs, r.hosts = vcs, hosts
	r.queues.Unlock()
	var wg sync.WaitGroup
	// Changes committed through the other replicas, heard before the
	// first listing so that none falls between the two.
	if l, err := r.store.Listen(ctx); err != nil {
		r.log.Warn("Cannot hear changes made through other hub replicas; they are seen at the resync", "err", err, "resync", r.cfg.Resync)
	} else {
		r.log.Info("Listening for changes made through other hub replicas")
		wg.Add(1)
		go func() { defer wg.Done(); r.hear(ctx, l) }()
	}
	for range r.cfg.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); r.work(ctx, stop, "virtual cluster", vcs, r.reconcile) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); r.work(ctx, stop, "host cluster", hosts, r.checkHost) }()
	wg.Add(1)
	go func() { defer wg.Done(); r.every(ctx, r.cfg.HealthInterval, r.enqueueHosts) }()
	wg.Add(1)
	go func() { defer wg.Done(); r.every(ctx, r.cfg.Resync, r.enqueueVCs) }()
	<-ctx.Done()
	r.queues.Lock()
	r.vcs, r.hosts = nil, nil
	r.queues.Unlock()
	vcs.ShutDown()
	hosts.ShutDown()
	wg.Wait()
	r.log.Info("Reconciler stopped")
}

// hear queues the changes that other replicas commit until ctx is done;
// after a gap (a lost connection) it queues everything.
func (r *Reconciler) hear(ctx context.Context, l *store.Listener) {
	defer l.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-l.C:
			switch {
			case !ok:
				return
			case c == store.Change{}:
				r.log.Info("Changes made through other hub replicas may have been missed: looking at everything again")
				for _, fn := range []func(context.Context) error{r.enqueueVCs, r.enqueueHosts} {
					if err := fn(ctx); err != nil && ctx.Err() == nil {
						r.log.Warn("Could not list work", "err", err)
					}
				}
			default:
				r.log.Debug("Heard a change made through another hub replica", "resource", c.Resource, "id", c.ID)
				r.Changed(c.Resource, c.ID)
			}
		}
	}
}

// every runs fn now and then every interval until ctx is done.
func (r *Reconciler) every(ctx context.Context, interval time.Duration, fn func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := fn(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("Could not list work", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Reconciler) enqueueVCs(ctx context.Context) error {
	vcs, err := r.store.VirtualClusters.All(ctx, nil)
	if err != nil {
		return err
	}
	for _, vc := range vcs {
		r.Changed("virtualcluster", vc.ID)
	}
	return nil
}

func (r *Reconciler) enqueueHosts(ctx context.Context) error {
	hosts, err := r.store.HostClusters.All(ctx, nil)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		r.Changed("hostcluster", h.ID)
	}
	return nil
}

// work processes keys of q with fn until q shuts down. A failed key is
// retried with backoff; a fenced write (another replica leads now) stops
// the term.
func (r *Reconciler) work(ctx context.Context, stop context.CancelFunc, kind string, q workqueue.TypedRateLimitingInterface[string], fn func(context.Context, string) error) {
	for {
		id, shutdown := q.Get()
		if shutdown {
			return
		}
		err := fn(ctx, id)
		switch {
		case ctx.Err() != nil:
			q.Forget(id)
		case errors.Is(err, store.ErrFenced):
			r.log.Error("Another hub replica took the leader lock: stopping the reconciler", "kind", kind, "id", id, "err", err)
			q.Forget(id)
			stop()
		case errors.Is(err, errRetry):
			q.AddAfter(id, time.Second)
		case err != nil:
			r.log.Warn("Reconcile failed; retrying", "kind", kind, "id", id, "err", err)
			q.AddRateLimited(id)
		default:
			q.Forget(id)
		}
		q.Done(id)
	}
}

// errRetry asks for another look soon, without backoff: something is
// on its way (an apiserver starting).
var errRetry = errors.New("not there yet")

// hostKubeconfig writes the decrypted kubeconfig of a host to
// DataDir/hosts/ID.kubeconfig (0600) and returns its path.
func (r *Reconciler) hostKubeconfig(h *store.HostCluster) (string, error) {
	data, err := r.cfg.Secrets.Decrypt(h.KubeconfigEnc)
	if err != nil {
		return "", fmt.Errorf("host cluster %s kubeconfig: %w", h.Name, err)
	}
	dir := filepath.Join(r.cfg.DataDir, "hosts")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, h.ID+".kubeconfig")
	r.hostFiles.Lock()
	defer r.hostFiles.Unlock()
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return path, nil
	}
	if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
		return "", fmt.Errorf("write host kubeconfig: %w", err)
	}
	return path, nil
}

// parseConfig returns the nest.yaml of a virtual cluster.
func parseConfig(text string) (*config.Config, error) {
	if text == "" {
		return config.Default(), nil
	}
	c, err := config.Parse([]byte(text))
	if err != nil {
		return nil, err
	}
	return c, c.Validate()
}
