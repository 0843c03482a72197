// Package api is the hub's JSON REST API under /api/v1: one route table
// (routes.go) from which the server registers its handlers and the OpenAPI
// document is generated; authentication by API key, one permission check
// per route, an audit event per change, uniform errors, request ids,
// cursor pages, optimistic concurrency and idempotent creates.
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/nestcluster/nest/pkg/hub/audit"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/feed"
	"github.com/nestcluster/nest/pkg/hub/secrets"
	"github.com/nestcluster/nest/pkg/hub/store"
	nestlog "github.com/nestcluster/nest/pkg/log"
)

// Config configures the API.
type Config struct {
	Store  *store.Store
	Logger *slog.Logger
	// Registry receives the API's metrics and is served at /metrics; nil
	// makes a new one.
	Registry *prometheus.Registry
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// AuthFailures is how fast one client IP regains a failed
	// authentication attempt, AuthBurst how many it has at first (default
	// one per 6 s, burst 10).
	AuthFailures rate.Limit
	AuthBurst    int
	// Secrets encrypts host cluster kubeconfigs; without it host clusters
	// cannot be registered.
	Secrets *secrets.Box
	// Fleet is the reconciler: told of changes, asked for kubeconfigs.
	// Nil runs the API alone (no kubeconfigs to hand out).
	Fleet Fleet
	// MaxInFlight bounds the API requests served at once (default
	// DefaultMaxInFlight); the others wait in arrival order.
	MaxInFlight int
	// StreamInterval is how often the change feed behind
	// /events/stream reads the store while anyone listens (default
	// feed.DefaultInterval); StreamMaxAge how long one stream lasts
	// before the client reconnects (default DefaultStreamMaxAge).
	StreamInterval time.Duration
	StreamMaxAge   time.Duration
}

// DefaultMaxInFlight is how many API requests are served at once by
// default. More would not run faster on a few CPUs and a store pool of a
// few connections: they would wait for a connection, which database/sql
// hands out in random order, so a few requests would wait very long.
const DefaultMaxInFlight = 8

func (c *Config) validate() error {
	if c.StreamMaxAge <= 0 {
		c.StreamMaxAge = DefaultStreamMaxAge
	}
	if c.Store == nil {
		return errors.New("api: Store is required")
	}
	if c.Logger == nil {
		c.Logger = nestlog.Discard()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.AuthFailures <= 0 {
		c.AuthFailures = rate.Every(6 * time.Second)
	}
	if c.AuthBurst <= 0 {
		c.AuthBurst = 10
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	return nil
}

// API serves the hub's HTTP API.
type API struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	routes  []Route
	openapi []byte
	limiter *ipLimiter
	authn   *auth.Authenticator
	// slots holds a token per request being served: sending takes one,
	// and senders blocked on the full channel are let in first come,
	// first served.
	slots chan struct{}
	// pages are the encoded responses of the routes marked cachedBy.
	pages    pageCache
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	now      func() time.Time
	// feed tells event streams which virtual clusters changed; closing
	// streamsStop (StopStreams) ends them all.
	feed        *feed.Feed
	streamsStop chan struct{}
	stopOnce    sync.Once
}

// New returns the API for cfg.
func New(cfg Config) (*API, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, store: cfg.Store, log: cfg.Logger, routes: Routes(), now: time.Now, authn: auth.NewAuthenticator(cfg.Store),
		slots:   make(chan struct{}, cfg.MaxInFlight),
		limiter: &ipLimiter{limit: cfg.AuthFailures, burst: cfg.AuthBurst, m: map[string]*rate.Limiter{}}}
	// Made now, so that no login for an unknown user pays for it.
	dummyHash()
	doc, err := OpenAPIJSON(a.routes)
	if err != nil {
		return nil, err
	}
	a.openapi = doc
	a.streamsStop = make(chan struct{})
	if a.feed, err = feed.New(feed.Config{Store: cfg.Store, Logger: cfg.Logger, Interval: cfg.StreamInterval}); err != nil {
		return nil, err
	}
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "nest_hub_http_requests_total", Help: "HTTP requests served by the hub, by route and status code.",
	}, []string{"route", "code"})
	a.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "nest_hub_http_request_duration_seconds", Help: "Latency of HTTP requests served by the hub, by route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	for _, c := range []prometheus.Collector{a.requests, a.latency} {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("register hub metrics: %w", err)
		}
	}
	return a, nil
}

// Handler returns the HTTP handler of the API, /healthz, /metrics and
// /api/v1/openapi.json.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	// paths knows every route's path regardless of method, to tell a
	// wrong method (405) from an unknown path (404).
	paths := http.NewServeMux()
	allowed := map[string][]string{}
	for i := range a.routes {
		r := &a.routes[i]
		mux.HandleFunc(r.Pattern(), func(w http.ResponseWriter, req *http.Request) { a.serve(w, req, r) })
		if allowed[r.Path] == nil {
			paths.HandleFunc(r.Path, func(http.ResponseWriter, *http.Request) {})
		}
		allowed[r.Path] = append(allowed[r.Path], r.Method)
	}
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET "+V1+"/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.openapi)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.cfg.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := paths.Handler(r); pattern != "" {
			methods := strings.Join(allowed[pattern], ", ")
			w.Header().Set("Allow", methods)
			writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: r.Method + " is not allowed here; use " + methods, Details: map[string]string{"allow": methods}})
			return
		}
		writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no route for " + r.Method + " " + r.URL.Path})
	})
	return a.middleware(mux)
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	if err := a.store.Ping(r.Context()); err != nil {
		a.log.Warn("Health check failed", "err", err)
		writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the store does not answer"})
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok\n")
}

// requestIDPattern keeps client-chosen request ids safe to log and echo.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestInfo is what the middleware logs about a request, filled in as it
// is served.
type requestInfo struct {
	id        string
	principal string
}

type requestInfoKey struct{}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController flush event streams.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// middleware gives every request an id, recovers panics, counts and times
// it by route pattern and logs it (never headers or bodies).
func (a *API) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := a.now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		info := &requestInfo{id: id}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("Request panicked", "requestId", id, "panic", fmt.Sprint(p))
				if sw.status == 0 {
					writeError(sw, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error: see the hub's log for the request id"})
				}
			}
			pattern := r.Pattern
			if pattern == "" {
				pattern = "unmatched"
			}
			elapsed := a.now().Sub(start)
			a.requests.WithLabelValues(pattern, strconv.Itoa(sw.status)).Inc()
			a.latency.WithLabelValues(pattern).Observe(elapsed.Seconds())
			a.log.Info("Request served", "requestId", id, "principal", info.principal, "method", r.Method, "route", pattern,
				"status", sw.status, "elapsed", elapsed)
		}()
		next.ServeHTTP(sw, r)
	})
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// serve runs one route: authenticate, authorize, read and decode the body,
// run the handler (in a transaction for changes, with idempotency for
// creates) and write the response.
func (a *API) serve(w http.ResponseWriter, r *http.Request, rt *Route) {
	// A stream lasts long and mostly waits: it takes no slot.
	if !rt.Stream {
		select {
		case a.slots <- struct{}{}:
			defer func() { <-a.slots }()
		case <-r.Context().Done():
			writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "the request ended while waiting to be served"})
			return
		}
	}
	info := r.Context().Value(requestInfoKey{}).(*requestInfo)
	c := &call{api: a, route: rt, r: r, ctx: r.Context(), requestID: info.id}
	if rt.Public {
		a.servePublic(w, c)
		return
	}
	if rt.cachedBy != "" && rt.Method == http.MethodGet {
		// The route's page cache needs the auth epoch too: one query
		// reads both, before authenticating.
		if auth, change, err := a.store.Epochs(c.ctx, rt.cachedBy); err == nil {
			c.epochs = callEpochs{read: true, auth: auth, change: change}
		}
	}
	if e := a.authenticate(c); e != nil {
		writeError(w, e)
		return
	}
	info.principal = c.principal.String()
	switch rt.Scope {
	case ScopeAny:
		c.scope = auth.Scope{Any: true}
	case ScopeTenant:
		c.scope = auth.Scope{TenantID: r.PathValue("tenant")}
	case ScopeProject:
		c.scope = auth.Scope{TenantID: r.PathValue("tenant"), ProjectID: r.PathValue("project")}
	}
	if err := auth.Authorize(c.ctx, c.principal, rt.Permission, c.scope); err != nil {
		writeError(w, toError(err, rt.Resource))
		return
	}
	if c.scope.Any {
		c.scope = auth.Scope{}
	}
	if e := checkQuery(r, rt); e != nil {
		writeError(w, e)
		return
	}
	maxBody := a.cfg.MaxBodyBytes
	if rt.MaxBody > 0 {
		maxBody = rt.MaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes", maxBody),
				Details: map[string]string{"field": "body", "limit": strconv.FormatInt(maxBody, 10)}})
			return
		}
		writeError(w, invalid("body", "cannot be read"))
		return
	}
	if rt.Method == http.MethodGet {
		if c.epochs.read {
			a.serveCached(w, c, body)
			return
		}
		resp, e := rt.serve(c, body)
		a.respond(w, c, resp, e)
		return
	}
	a.mutate(w, c, body)
}

// servePublic runs a route that authenticates itself (login): the
// failed-authentication rate limit applies before it, and it takes no
// Idempotency-Key (a retry simply makes another key).
func (a *API) servePublic(w http.ResponseWriter, c *call) {
	if wait := a.limiter.blocked(clientIP(c.r), a.now()); wait > 0 {
		writeError(w, &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests,
			Message: "too many failed authentications from this address", Details: map[string]string{"retryAfterSeconds": strconv.Itoa(int(wait.Seconds()) + 1)}})
		return
	}
	if c.r.Header.Get("Idempotency-Key") != "" {
		writeError(w, invalid("Idempotency-Key", "is not accepted on this route"))
		return
	}
	if e := checkQuery(c.r, c.route); e != nil {
		writeError(w, e)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, c.r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		writeError(w, invalid("body", "cannot be read or is too large"))
		return
	}
	a.mutate(w, c, body)
	if info, ok := c.r.Context().Value(requestInfoKey{}).(*requestInfo); ok && c.principal != nil {
		info.principal = c.principal.String()
	}
}

// checkQuery refuses query parameters the route does not declare.
func checkQuery(r *http.Request, rt *Route) *Error {
	for name := range r.URL.Query() {
		ok := rt.List && (name == "limit" || name == "cursor")
		for _, q := range rt.Query {
			ok = ok || q == name
		}
		if !ok {
			return invalid(name, "unknown query parameter")
		}
	}
	return nil
}

// mutate runs a changing route in one transaction with its audit event
// and, for a create with an Idempotency-Key, its idempotency record.
func (a *API) mutate(w http.ResponseWriter, c *call, body []byte) {
	key := c.r.Header.Get("Idempotency-Key")
	if key != "" && c.route.Method != http.MethodPost {
		writeError(w, invalid("Idempotency-Key", "is only accepted on creates (POST)"))
		return
	}
	if len(key) > 255 {
		writeError(w, invalid("Idempotency-Key", "must be at most 255 characters"))
		return
	}
	sum := sha256.Sum256([]byte(c.route.Pattern() + "\n" + c.r.URL.Path + "\n" + string(body)))
	hash := hex.EncodeToString(sum[:])
	for attempt := 0; ; attempt++ {
		if key != "" {
			rec, err := a.store.GetIdempotency(c.ctx, c.principal.UserID, key)
			switch {
			case err == nil && rec.RequestHash != hash:
				writeError(w, &Error{Status: http.StatusUnprocessableEntity, Code: CodeIdempotencyMismatch,
					Message: "this Idempotency-Key was used for a different request", Details: map[string]string{"field": "Idempotency-Key"}})
				return
			case err == nil:
				w.Header().Set("Idempotent-Replayed", "true")
				writeJSON(w, rec.Status, json.RawMessage(rec.Response))
				return
			case !errors.Is(err, store.ErrNotFound):
				a.respond(w, c, nil, toError(err, c.route.Resource))
				return
			}
		}
		var resp any
		var apiErr *Error
		err := a.store.InTx(c.ctx, func(ctx context.Context) error {
			c.ctx = ctx
			resp, apiErr = c.route.serve(c, body)
			if apiErr != nil {
				return apiErr
			}
			if key == "" {
				return nil
			}
			// The stored copy is redacted: a replay never returns a secret
			// (such as a new API key) a second time.
			stored, err := audit.Redact(resp)
			if err != nil {
				return err
			}
			return a.store.PutIdempotency(ctx, &store.IdempotencyRecord{Principal: c.principal.UserID, Key: key,
				RequestHash: hash, Status: c.route.Status, Response: stored})
		})
		c.ctx = c.r.Context()
		after := c.after
		c.after = nil
		if err == nil {
			for _, fn := range after {
				fn()
			}
		}
		if err != nil && key != "" && attempt == 0 {
			// A twin request with the same key may have won the race (its
			// create made ours fail, or it stored the key first): replay
			// what it stored.
			if _, gerr := a.store.GetIdempotency(c.ctx, c.principal.UserID, key); gerr == nil {
				continue
			}
		}
		if err != nil && apiErr == nil {
			apiErr = toError(err, c.route.Resource)
		}
		a.respond(w, c, resp, apiErr)
		return
	}
}

func (a *API) respond(w http.ResponseWriter, c *call, resp any, e *Error) {
	switch {
	case e != nil:
		if e.Status == http.StatusInternalServerError {
			a.log.Error("Request failed", "requestId", c.requestID, "route", c.route.Pattern())
		}
		writeError(w, e)
	case c.raw != nil:
		c.raw(w)
	case c.route.Response == nil:
		w.WriteHeader(c.route.Status)
	default:
		writeJSON(w, c.route.Status, resp)
	}
}

// authenticate finds the caller from its bearer API key. Failed attempts
// are rate limited per client IP.
func (a *API) authenticate(c *call) *Error {
	ip := clientIP(c.r)
	if wait := a.limiter.blocked(ip, a.now()); wait > 0 {
		return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests,
			Message: "too many failed authentications from this address", Details: map[string]string{"retryAfterSeconds": strconv.Itoa(int(wait.Seconds()) + 1)}}
	}
	key, ok := auth.BearerToken(c.r.Header.Get("Authorization"))
	if !ok {
		a.limiter.fail(ip, a.now())
		return toError(auth.ErrUnauthenticated, "")
	}
	var p *auth.Principal
	var err error
	if c.epochs.read {
		p, err = a.authn.AuthenticateAt(c.ctx, key, a.now(), c.epochs.auth)
	} else {
		p, err = a.authn.Authenticate(c.ctx, key, a.now())
	}
	if errors.Is(err, auth.ErrUnauthenticated) {
		a.limiter.fail(ip, a.now())
		a.log.Info("Authentication failed", "requestId", c.requestID, "client", ip)
		return toError(err, "")
	}
	if err != nil {
		a.log.Error("Authentication error", "requestId", c.requestID, "err", err)
		return toError(err, "")
	}
	c.principal = p
	return nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ipLimiter rate limits failed authentications per client IP.
type ipLimiter struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	m     map[string]*rate.Limiter
}

// maxTracked bounds the limiter's memory; past it, the table starts over.
const maxTracked = 100000

// blocked returns how long ip must wait before trying again, or 0.
func (l *ipLimiter) blocked(ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[ip]
	if !ok || lim.TokensAt(now) >= 1 {
		return 0
	}
	return time.Duration((1 - lim.TokensAt(now)) / float64(l.limit) * float64(time.Second))
}

func (l *ipLimiter) fail(ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[ip]
	if !ok {
		if len(l.m) >= maxTracked {
			l.m = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.m[ip] = lim
	}
	lim.AllowN(now, 1)
}

// jsonBuffers are the buffers responses are encoded into.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON encodes v in full first, so that the response has a
// Content-Length and goes out in one write (over HTTP/2: the headers and
// the data frames at once).
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			jsonBuffers.Put(buf)
		}
	}()
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		_ = json.NewEncoder(buf).Encode(&Error{Status: status, Code: CodeInternal, Message: "the response could not be encoded"})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, e *Error) {
	writeJSON(w, e.Status, e)
}
