package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nestcluster/nest/pkg/hub/api"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/store/storetest"
)

// sseEvent is one server-sent event as read from the stream.
type sseEvent struct {
	typ, id string
	data    api.StreamEvent
}

// readEvents sends the events of an open stream to a channel until it ends.
func readEvents(t *testing.T, body *bufio.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		var ev sseEvent
		for {
			line, err := body.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if ev.typ != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.typ = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data); err != nil {
					t.Errorf("event data %q: %v", line, err)
				}
			}
		}
	}()
	return out
}

// TestEventStream: a project viewer's stream says when a virtual cluster
// of its project changes (a status write straight into the store, as the
// reconciler makes) and when it is gone, and says nothing of another
// project's; a caller without virtualcluster.list anywhere gets 403.
func TestEventStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storetest.SQLite.Open(t)
	h := newHub(t, s, func(c *api.Config) { c.StreamMaxAge, c.StreamInterval = 10*time.Minute, 20*time.Millisecond })
	f, key := newPermFixture(t, s, auth.RoleProjectViewer)
	other := &store.Project{Meta: store.Meta{Name: "other"}, TenantID: f.tenant}
	mustDo(t, s.Projects.Create(ctx, other))
	hidden := &store.VirtualCluster{Meta: store.Meta{Name: "hidden"}, TenantID: f.tenant, ProjectID: other.ID, ClusterGroupID: f.fullGroup,
		Profiles: []store.ProfileRef{}, Generation: 1, Status: store.VirtualClusterStatus{Phase: store.VCPending}}
	mustDo(t, s.VirtualClusters.Create(ctx, hidden))
	srv := httptest.NewServer(h.handler)
	defer srv.Close()

	tests := []struct {
		name   string
		key    string
		status int
	}{
		{name: "no key", key: "", status: http.StatusUnauthorized},
		{name: "no virtualcluster.list", key: func() string { _, k := userWithKey(t, s, "nobody"); return k }(), status: http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := h.do(http.MethodGet, "/api/v1/events/stream", tc.key, nil); r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, srv.URL+"/api/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, ct)
	}
	events := readEvents(t, bufio.NewReader(resp.Body))
	next := func(what string) sseEvent {
		t.Helper()
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before %s", what)
			}
			return ev
		case <-time.After(time.Minute): // a deadlock guard only
			t.Fatalf("no event for %s", what)
		}
		return sseEvent{}
	}
	if ev := next("ready"); ev.typ != api.StreamReady {
		t.Fatalf("first event %+v, want ready", ev)
	}
	// A status write to the hidden cluster, then to the visible one: only
	// the second reaches the viewer.
	hidden.Status.Phase = store.VCReady
	mustDo(t, s.VirtualClusters.Update(ctx, hidden))
	vc, err := s.VirtualClusters.Get(ctx, f.vc)
	mustDo(t, err)
	vc.Status.Phase, vc.Status.Message = store.VCFailed, "the host said no"
	mustDo(t, s.VirtualClusters.Update(ctx, vc))
	ev := next("the visible cluster's change")
	if ev.typ != api.StreamVirtualCluster || ev.data.VirtualCluster == nil || ev.data.VirtualCluster.ID != vc.ID ||
		ev.data.VirtualCluster.Status.Phase != store.VCFailed || ev.id != vc.ID+"/"+itoa(vc.ResourceVersion) {
		t.Fatalf("event %+v, want the change of %s", ev, vc.ID)
	}
	mustDo(t, s.VirtualClusters.Delete(ctx, hidden.ID, 0))
	mustDo(t, s.VirtualClusters.Delete(ctx, vc.ID, 0))
	if ev := next("the deletion"); ev.typ != api.StreamDeleted || ev.data.VirtualCluster.ID != vc.ID {
		t.Fatalf("event %+v, want the deletion of %s", ev, vc.ID)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
