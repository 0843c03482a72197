package ui_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/pkg/hub/ui/uitest"
)

// TestDashboardAtScale loads the fleet dashboard with 1,000 virtual
// clusters in the store, checks it counts them all and draws one page of
// rows, and logs its timings (uitest.MeasureDashboard, which a benchmark
// can call). With NEST_UI_SCREENSHOTS=DIR it also saves screenshots of the
// dashboard, wide and narrow, to look at.
func TestDashboardAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 1,000 virtual clusters")
	}
	h, _, f := startHub(t, 1000)
	bctx := browserOrSkip(t)
	for i := range 3 {
		got, err := uitest.MeasureDashboard(bctx, h.URL, h.AdminKey)
		if err != nil {
			t.Fatal(err)
		}
		if got.Rows != 1000 {
			t.Fatalf("the dashboard counted %d virtual clusters, want 1000", got.Rows)
		}
		t.Logf("run %d with 1000 virtual clusters: first render %v, interactive %v, one search keystroke %v, driver wall %v",
			i+1, got.FirstRender, got.Interactive, got.Filter, got.Wall)
	}
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	do(t, tab, uitest.SignIn(h.URL, h.AdminKey, "#/"))
	waitFor(t, tab, "the fleet table", rowsJS+` === 50`)
	// Paging by keyboard: Enter on Next shows the second page and keeps
	// the focus on Next.
	do(t, tab, chromedp.Focus(chromedp.ID("page-next")), chromedp.KeyEvent("\r"))
	waitFor(t, tab, "the second page", `document.getElementById('vc-summary').textContent.startsWith('Showing 51–100 of 1000')`)
	if id := eval[string](t, tab, `document.activeElement.id`); id != "page-next" {
		t.Fatalf("after paging the focus is on %q, want page-next", id)
	}
	dir := os.Getenv("NEST_UI_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"wide", 1280, 900}, {"narrow", 390, 844}} {
		do(t, tab, chromedp.EmulateViewport(size.w, size.h))
		png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "dashboard-"+size.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vc := f.VirtualClusters[0]
	do(t, tab, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(h.URL+"/#/vc/"+vc.TenantID+"/"+vc.ProjectID+"/"+vc.ID),
		chromedp.WaitVisible(chromedp.ID("conditions")))
	png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "virtualcluster.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
