package ui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nestcluster/nest/pkg/hub/ui"
)

// TestHandler checks what the UI serves itself, with its security
// headers, and what it leaves to the API.
func TestHandler(t *testing.T) {
	t.Parallel()
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := ui.Handler(api)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantType           string // a prefix of Content-Type, for the UI's files
	}{
		{"the page", "GET", "/", 200, "text/html"},
		{"the app", "GET", "/app.js", 200, "text/javascript"},
		{"a page module", "GET", "/pages/dashboard.js", 200, "text/javascript"},
		{"the styles", "GET", "/style.css", 200, "text/css"},
		{"HEAD of the page", "HEAD", "/", 200, "text/html"},
		{"the API", "GET", "/api/v1/whoami", http.StatusTeapot, ""},
		{"health", "GET", "/healthz", http.StatusTeapot, ""},
		{"metrics", "GET", "/metrics", http.StatusTeapot, ""},
		{"an unknown path", "GET", "/nope", http.StatusTeapot, ""},
		{"a folder", "GET", "/pages/", http.StatusTeapot, ""},
		{"index.html by name", "GET", "/index.html", http.StatusTeapot, ""},
		{"a POST", "POST", "/", http.StatusTeapot, ""},
		{"a climb out", "GET", "/../ui.go", http.StatusTeapot, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantStatus)
			}
			if tc.wantType == "" {
				return
			}
			hd := rec.Header()
			if ct := hd.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type %q, want %s", ct, tc.wantType)
			}
			for name, want := range map[string]string{
				"Content-Security-Policy": ui.ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Referrer-Policy":         "no-referrer",
			} {
				if got := hd.Get(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			csp := hd.Get("Content-Security-Policy")
			for _, must := range []string{"script-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, must) || strings.Contains(csp, "unsafe-inline") {
					t.Errorf("the CSP %q lacks %s or allows inline code", csp, must)
				}
			}
		})
	}
}

// TestNoInlineCode keeps the page free of inline scripts, styles and
// handlers, which the CSP would block.
func TestNoInlineCode(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	ui.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()
	for _, bad := range []string{"<script>", "<style", " style=", " onclick=", " onload=", "javascript:"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html has %q", bad)
		}
	}
}
