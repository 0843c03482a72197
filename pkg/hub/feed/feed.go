// Package feed tells subscribers which virtual clusters changed: one
// poller per hub process reads the store while anyone listens and hands
// each change (a new resourceVersion, or a record gone) to every
// subscriber. It reads the store, not the API's writes, so it sees the
// reconciler's status writes and those of other hub replicas alike.
package feed

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nestcluster/nest/pkg/hub/store"
)

// DefaultInterval is how often the store is read while anyone listens.
const DefaultInterval = time.Second

// subscriberBuffer is how many changes a slow subscriber may lag behind
// before it is told to read everything again (Overflow).
const subscriberBuffer = 256

// Change is one virtual cluster that changed. Deleted changes carry the
// last version the feed saw.
type Change struct {
	Deleted        bool
	VirtualCluster store.VirtualCluster
}

// Subscription receives changes on C until Close. Overflow is closed when
// the subscriber fell behind and changes were dropped: it should read the
// whole list again and subscribe anew.
type Subscription struct {
	C        <-chan Change
	Overflow <-chan struct{}
	c        chan Change
	overflow chan struct{}
	f        *Feed
	once     sync.Once
}

// Close ends the subscription; the poller stops with the last one.
func (s *Subscription) Close() {
	s.once.Do(func() { s.f.remove(s) })
}

// Config is a feed's store and polling interval.
type Config struct {
	Store    *store.Store
	Logger   *slog.Logger
	Interval time.Duration
}

func (c *Config) validate() error {
	if c.Store == nil {
		return fmt.Errorf("feed: Store is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	return nil
}

// Feed is the change feed of virtual clusters.
type Feed struct {
	cfg  Config
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	stop context.CancelFunc
}

// New returns a feed; it reads the store only while it has subscribers.
func New(cfg Config) (*Feed, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Feed{cfg: cfg, subs: map[*Subscription]struct{}{}}, nil
}

// Subscribe starts receiving the changes made from now on.
func (f *Feed) Subscribe() *Subscription {
	s := &Subscription{c: make(chan Change, subscriberBuffer), overflow: make(chan struct{}), f: f}
	s.C, s.Overflow = s.c, s.overflow
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[s] = struct{}{}
	if f.stop == nil {
		ctx, cancel := context.WithCancel(context.Background())
		f.stop = cancel
		ready := make(chan struct{})
		go f.poll(ctx, ready)
		// The first snapshot is the baseline: changes after Subscribe
		// returns are reported, never the fleet as it was. (The poller
		// takes f.mu only to publish, after ready.)
		<-ready
	}
	return s
}

func (f *Feed) remove(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.subs, s)
	if len(f.subs) == 0 && f.stop != nil {
		f.stop()
		f.stop = nil
	}
}

// Subscribers returns how many subscriptions are open.
func (f *Feed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// poll reads the store every interval and publishes what changed since
// the previous read.
func (f *Feed) poll(ctx context.Context, ready chan<- struct{}) {
	_, lastEpoch, epochErr := f.cfg.Store.Epochs(ctx, "virtual_clusters")
	seen, err := f.snapshot(ctx)
	if epochErr != nil {
		lastEpoch = -1 // read the records at the next tick
	}
	if err != nil {
		f.cfg.Logger.Warn("Could not read the virtual clusters for the change feed", "err", err)
	}
	close(ready)
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The change epoch, read before the records, moves with every
		// committed change of a virtual cluster on any replica: while it
		// stays, nothing changed and the records need not be read.
		_, epoch, err := f.cfg.Store.Epochs(ctx, "virtual_clusters")
		if err == nil && seen != nil && epoch == lastEpoch {
			continue
		}
		now, err := f.snapshot(ctx)
		if err != nil {
			if ctx.Err() == nil {
				f.cfg.Logger.Warn("Could not read the virtual clusters for the change feed", "err", err)
			}
			continue
		}
		lastEpoch = epoch
		if seen == nil {
			seen = now
			continue
		}
		var changes []Change
		for id, vc := range now {
			if old, ok := seen[id]; !ok || old.ResourceVersion != vc.ResourceVersion {
				changes = append(changes, Change{VirtualCluster: vc})
			}
		}
		for id, vc := range seen {
			if _, ok := now[id]; !ok {
				changes = append(changes, Change{Deleted: true, VirtualCluster: vc})
			}
		}
		seen = now
		if len(changes) > 0 {
			f.publish(changes)
		}
	}
}

func (f *Feed) snapshot(ctx context.Context) (map[string]store.VirtualCluster, error) {
	vcs, err := f.cfg.Store.VirtualClusters.All(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list virtual clusters: %w", err)
	}
	m := make(map[string]store.VirtualCluster, len(vcs))
	for _, vc := range vcs {
		m[vc.ID] = vc
	}
	return m, nil
}

func (f *Feed) publish(changes []Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		for _, c := range changes {
			select {
			case s.c <- c:
				continue
			default:
			}
			select {
			case <-s.overflow:
			default:
				close(s.overflow)
			}
			break
		}
	}
}
