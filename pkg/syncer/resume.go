package syncer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// resumeTracker carries a cluster back from `nest pause`, which removed
// every host pod: until each virtual pod found at start has been synced
// once, a missing host copy means "paused", not "lost", and is created
// again. Then the pause marker goes. A crash before that leaves the marker,
// and the next start resumes again.
type resumeTracker struct {
	marker  string
	log     *slog.Logger
	mu      sync.Mutex
	pending sets.Set[string] // virtual pod keys not yet synced since the start
}

// newResumeTracker returns nil when the cluster was not paused.
func newResumeTracker(marker string, pods corelisters.PodLister, log *slog.Logger) (*resumeTracker, error) {
	if marker == "" {
		return nil, nil
	}
	if _, err := os.Stat(marker); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("syncer: read pause marker: %w", err)
	}
	all, err := pods.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	t := &resumeTracker{marker: marker, log: log, pending: sets.New[string]()}
	for _, p := range all {
		if key, err := cache.MetaNamespaceKeyFunc(p); err == nil {
			t.pending.Insert(key)
		}
	}
	log.Info("Resuming from a pause: putting pods back on the host", "pods", t.pending.Len())
	t.finishIfDone()
	return t, nil
}

// recreates reports whether a virtual pod whose host copy is missing gets a
// new one (rather than being reported lost).
func (t *resumeTracker) recreates(pod *corev1.Pod) bool {
	if t == nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	key, err := cache.MetaNamespaceKeyFunc(pod)
	if err != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending.Has(key)
}

// done records that a virtual pod was synced.
func (t *resumeTracker) done(key string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.pending.Has(key) {
		return
	}
	t.pending.Delete(key)
	t.finishIfDone()
}

// finishIfDone removes the marker once no pod is pending; mu must be held
// (or the tracker not shared yet).
func (t *resumeTracker) finishIfDone() {
	if t.pending.Len() > 0 || t.marker == "" {
		return
	}
	if err := os.Remove(t.marker); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.log.Warn("Could not remove the pause marker; the next start resumes again", "error", err)
		return
	}
	t.marker = ""
	t.log.Info("Resumed from a pause: every pod is back on the host")
}
