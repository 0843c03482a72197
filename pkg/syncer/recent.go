package syncer

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// recentCreates remembers the host objects this syncer has just created
// (a pod's host copy, its token Secret) until its host informer shows them.
//
// A new pod is queued again within milliseconds of its sync: the add
// event of its token Secret comes back while the host pod is being
// created. That second sync ran before the host informer had the pod or
// the Secret, so it asked the virtual apiserver for another token and
// wrote the Secret and the pod again (both refused as existing, one more
// read): up to four more API calls for 40 % of the pods in the sync
// benchmark, all in a fresh cluster's first seconds, when the apiservers
// are busiest. The record says the object exists; the informer's event
// for it (any: add, update or delete) brings the key back, and ends the
// record. A record older
// than recentTTL is ignored (an object created and deleted while the
// informer's watch was down is never shown by it).
type recentCreates struct {
	mu sync.Mutex
	m  map[string]recentCreate
}

type recentCreate struct {
	uid     types.UID // of the virtual object the host object was made for
	at      time.Time
	refresh time.Time // a token Secret's renewal time
}

// Record keys: the kind, then the host object's name.
const (
	recentPod   = "pod/"
	recentToken = "token/"
)

// recentTTL bounds how long a record stands in for the informer: far
// beyond a watch's delivery time, and short enough that a missed event
// costs only a late retry (the key is queued again after it).
const recentTTL = 10 * time.Second

// add records that the host object name was just created for uid.
func (r *recentCreates) add(name string, uid types.UID, refresh time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]recentCreate{}
	}
	r.m[name] = recentCreate{uid: uid, at: time.Now(), refresh: refresh}
}

// forget drops the record of name: the informer shows the object, or it
// was deleted.
func (r *recentCreates) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, name)
}

// get returns the live record of name made for uid.
func (r *recentCreates) get(name string, uid types.UID) (recentCreate, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.m[name]
	if !ok || c.uid != uid {
		return recentCreate{}, false
	}
	if time.Since(c.at) > recentTTL {
		delete(r.m, name)
		return recentCreate{}, false
	}
	return c, true
}
