package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/pkg/hub/ui/uitest"
)

// TestUIClusterObjectsAndEvents: a cluster's page shows the synced-object
// counts and the Kubernetes events the reconciler recorded in its status,
// and the type filter keeps the Warnings (by keyboard, the focus staying
// on the filter).
func TestUIClusterObjectsAndEvents(t *testing.T) {
	h, _, f := startHub(t, 2)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	vc := f.VirtualClusters[0]
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/vc/"+vc.TenantID+"/"+vc.ProjectID+"/"+vc.ID))
	waitFor(t, tab, "the cluster's page", loadedJS)
	if got := eval[string](t, tab, `[...document.querySelectorAll('#objects-table tbody tr')].map(r => r.innerText.replace(/\s+/g, ' ')).join('|')`); got != "Pod 3 3|Service 2 1|ConfigMap 4 1" {
		t.Fatalf("synced objects: %q", got)
	}
	waitFor(t, tab, "both events", `document.querySelectorAll('#kube-events-table tbody tr').length === 2`)
	if got := eval[string](t, tab, `document.querySelector('#kube-events-table tbody tr').innerText`); !contains(got, "BackOff", "Pod tools/echo-0", "⚠ Warning") {
		t.Fatalf("the newest event: %q", got)
	}
	do(t, tab, chromedp.ScrollIntoView(chromedp.ID("objects")))
	shot(t, tab, "virtualcluster-objects-events")
	do(t, tab, chromedp.Focus(chromedp.ID("kube-events-type")), setValue("kube-events-type", "Warning"))
	waitFor(t, tab, "the warnings only", `document.querySelectorAll('#kube-events-table tbody tr').length === 1 && document.activeElement.id === 'kube-events-type'`)
	// The other cluster has none recorded yet.
	other := f.VirtualClusters[1]
	do(t, tab, chromedp.Navigate(h.URL+"/#/vc/"+other.TenantID+"/"+other.ProjectID+"/"+other.ID))
	waitFor(t, tab, "no events yet", `document.getElementById('kube-events').textContent.includes('No Kubernetes events recorded yet')`)
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
