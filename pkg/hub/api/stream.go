package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// DefaultStreamMaxAge is how long one event stream lasts: less than the
// server's write timeout, and a bound on how long a revoked key or a
// removed role binding keeps receiving (the client reconnects, and is
// authenticated and authorized again).
const DefaultStreamMaxAge = 45 * time.Second

// streamKeepAlive is how often an idle stream sends a comment, so that
// proxies and the client see it alive.
const streamKeepAlive = 15 * time.Second

// Event stream event types.
const (
	StreamReady          = "ready"          // the stream is live: changes from now on follow
	StreamVirtualCluster = "virtualcluster" // a virtual cluster was created or changed (its spec or status)
	StreamDeleted        = "deleted"        // a virtual cluster is gone
	StreamResync         = "resync"         // changes were dropped (a slow reader): read the list again, then reconnect
	StreamReconnect      = "reconnect"      // the stream ends: reconnect
)

// StreamEvent is the data of one server-sent event of /events/stream.
type StreamEvent struct {
	Type           string                `json:"type"`
	VirtualCluster *store.VirtualCluster `json:"virtualCluster,omitempty"`
}

// StopStreams ends every event stream (each is told to reconnect): the
// server calls it when it shuts down, which would otherwise wait for them.
func (a *API) StopStreams() {
	a.stopOnce.Do(func() { close(a.streamsStop) })
}

// streamEvents answers with server-sent events of the virtual clusters
// the caller may see (virtualcluster.list or .get on their project),
// checked event by event with the same rule as every route.
func streamEvents(c *call, _ *none) (*StreamEvent, error) {
	grants := c.principal.Grants
	visible := func(vc *store.VirtualCluster) bool {
		sc := auth.Scope{TenantID: vc.TenantID, ProjectID: vc.ProjectID}
		return auth.Allowed(grants, "virtualcluster.list", sc) || auth.Allowed(grants, "virtualcluster.get", sc)
	}
	maxAge := c.api.cfg.StreamMaxAge
	c.raw = func(w http.ResponseWriter) {
		sub := c.api.feed.Subscribe()
		defer sub.Close()
		rc := http.NewResponseController(w)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		send := func(ev StreamEvent, id string) bool {
			data, err := json.Marshal(ev)
			if err != nil {
				return false
			}
			if id != "" {
				id = "id: " + id + "\n"
			}
			if _, err := fmt.Fprintf(w, "event: %s\n%sdata: %s\n\n", ev.Type, id, data); err != nil {
				return false
			}
			return rc.Flush() == nil
		}
		if !send(StreamEvent{Type: StreamReady}, "") {
			return
		}
		end := time.NewTimer(maxAge)
		defer end.Stop()
		alive := time.NewTicker(streamKeepAlive)
		defer alive.Stop()
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-c.api.streamsStop:
				send(StreamEvent{Type: StreamReconnect}, "")
				return
			case <-end.C:
				send(StreamEvent{Type: StreamReconnect}, "")
				return
			case <-sub.Overflow:
				send(StreamEvent{Type: StreamResync}, "")
				return
			case <-alive.C:
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case ch := <-sub.C:
				vc := ch.VirtualCluster
				if !visible(&vc) {
					continue
				}
				typ := StreamVirtualCluster
				if ch.Deleted {
					typ = StreamDeleted
				}
				if !send(StreamEvent{Type: typ, VirtualCluster: &vc}, fmt.Sprintf("%s/%d", vc.ID, vc.ResourceVersion)) {
					return
				}
			}
		}
	}
	return nil, nil
}
