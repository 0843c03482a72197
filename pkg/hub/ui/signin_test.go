package ui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nestcluster/nest/pkg/hub/auth"
)

// TestUIPasswordSignIn signs in with a user name and password (the hub
// serves POST /login): a wrong password is refused with the focus back on
// it, the right one gives the tab a key and the user's own view (a
// project viewer: its project's clusters only, no admin pages).
func TestUIPasswordSignIn(t *testing.T) {
	h, s, _ := startHub(t, 4)
	bctx := browserOrSkip(t)
	tab, cancel := chromedp.NewContext(bctx)
	defer cancel()
	ctx := context.Background()
	u, err := s.Users.Find(ctx, map[string]string{"name": "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = auth.HashPassword("correct horse battery")
	if err := s.Users.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	do(t, tab, chromedp.Navigate(h.URL+"/#/signin"))
	waitFor(t, tab, "the password form", `!!document.getElementById('password-form')`)
	do(t, tab, chromedp.SendKeys(chromedp.ID("username"), "viewer"), chromedp.SendKeys(chromedp.ID("password"), "wrong horse battery\r"))
	waitFor(t, tab, "the refusal", `(document.getElementById('password-status').textContent || '').includes('Wrong user name or password') && document.activeElement.id === 'password'`)
	do(t, tab, setValue("password", "correct horse battery"), chromedp.Click(chromedp.ID("signin-password")))
	waitFor(t, tab, "the viewer's fleet", rowsJS+` === 2`)
	if key := eval[string](t, tab, `sessionStorage.getItem('nest.apiKey') || ''`); !strings.HasPrefix(key, "nest_") {
		t.Fatalf("the tab's key is %q", key)
	}
	if nav := eval[string](t, tab, `document.getElementById('nav').textContent`); strings.Contains(nav, "Users") || strings.Contains(nav, "Host clusters") {
		t.Fatalf("a project viewer's navigation shows admin pages: %q", nav)
	}
	if who := eval[string](t, tab, `document.getElementById('who').textContent`); !strings.Contains(who, "viewer") {
		t.Fatalf("signed in as %q", who)
	}
}
