package ui_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/pkg/hub/store"
	"github.com/nestcluster/nest/pkg/hub/ui/uitest"
)

// listFetchesJS counts the page's reads of the fleet list.
const listFetchesJS = `performance.getEntriesByType('resource').filter(e => /\/api\/v1\/virtualclusters(\?|$)/.test(e.name)).length`

// TestUILiveStatus: with the event stream live, a status change written
// straight into the store (as the reconciler writes it) appears on the
// dashboard and on the cluster's page without a reload and without
// another read of the list, and a deleted cluster leaves the dashboard.
func TestUILiveStatus(t *testing.T) {
	h, s, f := startHub(t, 7)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	ctx := context.Background()
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/"))
	waitFor(t, tab, "the fleet table", rowsJS+` === 7`)
	waitFor(t, tab, "the stream", `document.getElementById('live-state').dataset.state === 'live'`)
	reads := eval[int](t, tab, listFetchesJS)
	// vc-0005 is Provisioning; the reconciler makes it Ready.
	vc, err := s.VirtualClusters.Get(ctx, f.VirtualClusters[4].ID)
	if err != nil {
		t.Fatal(err)
	}
	vc.Status.Phase = store.VCReady
	if err := s.VirtualClusters.Update(ctx, vc); err != nil {
		t.Fatal(err)
	}
	stateOf := func(id string) string {
		return `(r => r ? r.querySelector('.badge').textContent : '')(document.querySelector('#vcs tr[data-id="` + id + `"]'))`
	}
	waitFor(t, tab, "the row to turn Ready", stateOf(vc.ID)+` === 'Ready'`)
	if n := eval[int](t, tab, listFetchesJS); n != reads {
		t.Fatalf("the dashboard read the list %d more times: the change came by polling", n-reads)
	}
	// Gone from the store: gone from the table.
	if err := s.VirtualClusters.Delete(ctx, f.VirtualClusters[6].ID, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tab, "the deleted row to leave", rowsJS+` === 6`)

	// The cluster's page follows its status the same way.
	do(t, tab, chromedp.Navigate(h.URL+"/#/vc/"+vc.TenantID+"/"+vc.ProjectID+"/"+vc.ID))
	waitFor(t, tab, "the cluster's page", loadedJS)
	waitFor(t, tab, "the stream", `document.getElementById('live-state').dataset.state === 'live'`)
	if vc, err = s.VirtualClusters.Get(ctx, vc.ID); err != nil {
		t.Fatal(err)
	}
	vc.Status.Phase, vc.Status.Message = store.VCFailed, "the host refused the pod"
	if err := s.VirtualClusters.Update(ctx, vc); err != nil {
		t.Fatal(err)
	}
	waitFor(t, tab, "the new state", `document.querySelector('.facts').textContent.includes('the host refused the pod')`)
}
