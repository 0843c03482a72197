package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// pageCache keeps the encoded responses of list routes marked cachedBy: a
// page is served again, without reading or encoding the collection, while
// the store's auth epoch and the collection's change epoch are the ones
// read before the page was made (store.Epochs). Every replica keeps its
// own; the epochs are in the database, so a change made through any
// replica counts from the next request on.
type pageCache struct {
	mu    sync.Mutex
	pages map[string]*cachedPage
	size  int
}

type cachedPage struct {
	auth, change int64
	body         []byte
}

// Bounds of a pageCache: past either, it starts over.
const (
	maxCachedPages     = 4096
	maxCachedPageBytes = 32 << 20
)

func (p *pageCache) get(key string, auth, change int64) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.pages[key]; c != nil && c.auth == auth && c.change == change {
		return c.body
	}
	return nil
}

func (p *pageCache) put(key string, auth, change int64, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pages == nil || len(p.pages) >= maxCachedPages || p.size+len(body) > maxCachedPageBytes {
		p.pages, p.size = map[string]*cachedPage{}, 0
	}
	if old := p.pages[key]; old != nil {
		p.size -= len(old.body)
	}
	p.pages[key] = &cachedPage{auth: auth, change: change, body: body}
	p.size += len(body)
}

// serveCached serves a GET of a route marked cachedBy from the page
// cache, or runs it and keeps its response, with the epochs read at the
// start of the call (before authenticating).
func (a *API) serveCached(w http.ResponseWriter, c *call, body []byte) {
	rt := c.route
	authEpoch, change := c.epochs.auth, c.epochs.change
	key := rt.ID + " " + c.r.URL.Path + "?" + c.r.URL.RawQuery
	if rt.Scope == ScopeAny {
		// What the caller may see depends on its grants, which its key
		// and the auth epoch fix.
		key += " " + c.principal.KeyID
	}
	if page := a.pages.get(key, authEpoch, change); page != nil {
		writeBody(w, http.StatusOK, page)
		return
	}
	resp, e := rt.serve(c, body)
	if e != nil || rt.Status != http.StatusOK {
		a.respond(w, c, resp, e)
		return
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(resp); err != nil {
		a.respond(w, c, resp, nil) // writeJSON reports the failure
		return
	}
	a.pages.put(key, authEpoch, change, buf.Bytes())
	writeBody(w, http.StatusOK, buf.Bytes())
}

// writeBody writes an encoded JSON response.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
