// Package ui is the hub's web UI: plain HTML, CSS and JavaScript modules
// (no build step) embedded in the binary and served by `nest hub serve` at
// /, beside the API at /api/v1, which is all the UI talks to.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy allows only the hub's own scripts, styles and
// API: no inline script, no framing.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// apiPrefixes are served by the API handler, never by the UI.
var apiPrefixes = []string{"/api/", "/healthz", "/metrics"}

// Handler serves the UI's files and hands every other request (the API,
// /healthz, /metrics, unknown paths) to next.
func Handler(next http.Handler) http.Handler {
	files, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree always has assets/
	}
	static := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		for _, prefix := range apiPrefixes {
			if strings.HasPrefix(p, prefix) {
				next.ServeHTTP(w, r)
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		name := strings.TrimPrefix(path.Clean(p), "/")
		if name == "" {
			name = "index.html"
		}
		if st, err := fs.Stat(files, name); err != nil || st.IsDir() || name == "index.html" && p != "/" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		h.Set("Cache-Control", "no-cache")
		if name == "index.html" {
			// FileServer redirects /index.html to /; serve the file itself.
			data, _ := fs.ReadFile(files, name)
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(data)
			return
		}
		static.ServeHTTP(w, r)
	})
}
