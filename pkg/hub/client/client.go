// Package client is the Go client of the hub's API (/api/v1): the one every
// front end uses (`nest login`, the CLI in hub mode, the Terraform provider,
// tests). Request and response bodies are the hub's own types
// (pkg/hub/api for requests, pkg/hub/store for objects), so the client and
// the server cannot disagree about a field.
//
// Failed requests return *Error, the hub's uniform error with the HTTP
// status and request id; IsNotFound, IsConflict, IsForbidden... test it.
// Creates carry an Idempotency-Key (the caller's, or a generated one), so
// the client can retry them after a network failure without making a
// second object. Updates carry the resourceVersion they read and deletes
// may, so concurrent changes fail with a conflict instead of being lost.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config configures a Client.
type Config struct {
	// URL is the hub's base URL, such as https://127.0.0.1:8443 (a path
	// prefix is kept; /api/v1 is added by the client).
	URL string
	// APIKey is sent as "Authorization: Bearer KEY". It is never logged
	// nor part of an error.
	APIKey string
	// CACert is the PEM of the certificate authorities (or the self-signed
	// certificate) to trust besides the system's; Insecure skips
	// verification altogether (tests and throwaway hubs only).
	CACert   []byte
	Insecure bool
	// Timeout bounds one HTTP request, retries excluded (default 30s).
	Timeout time.Duration
	// Retries is how many times a request that is safe to repeat (a GET, or
	// a create with its Idempotency-Key) is retried after a network error
	// or a 502/503/504 (default 2; negative for none).
	Retries int
	// UserAgent is sent with every request (default nest-hub-client).
	UserAgent string
	// HTTPClient, when set, is used as is instead of one built from
	// CACert, Insecure and Timeout.
	HTTPClient *http.Client
}

func (c *Config) validate(requireKey bool) (*url.URL, error) {
	if c.URL == "" {
		return nil, errors.New("hub client: the hub URL is required")
	}
	u, err := url.Parse(strings.TrimRight(c.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("hub client: URL %q: want https://HOST[:PORT]", c.URL)
	}
	if c.APIKey == "" && requireKey {
		return nil, errors.New("hub client: an API key is required")
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 2
	}
	if c.UserAgent == "" {
		c.UserAgent = "nest-hub-client"
	}
	return u, nil
}

// Client calls the hub's API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	key     string
	http    *http.Client
	retries int
	agent   string
	backoff time.Duration
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) { return newClient(cfg, true) }

func newClient(cfg Config, requireKey bool) (*Client, error) {
	base, err := cfg.validate(requireKey)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // an explicit, documented choice of the caller
		if len(cfg.CACert) > 0 {
			roots, err := x509.SystemCertPool()
			if err != nil || roots == nil {
				roots = x509.NewCertPool()
			}
			if !roots.AppendCertsFromPEM(cfg.CACert) {
				return nil, errors.New("hub client: the CA certificate holds no PEM certificate")
			}
			tlsCfg.RootCAs = roots
		}
		tr := &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tlsCfg,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
		hc = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	}
	return &Client{base: base, key: cfg.APIKey, http: hc, retries: max(cfg.Retries, 0), agent: cfg.UserAgent, backoff: 200 * time.Millisecond}, nil
}

// URL returns the hub's base URL.
func (c *Client) URL() string { return c.base.String() }

// Error is a failed request: the hub's uniform error ({"code", "message",
// "details"}) with the HTTP status, the request id and what was asked.
type Error struct {
	Status    int
	Code      string
	Message   string
	Details   map[string]string
	RequestID string
	Method    string
	Path      string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: %s (%d %s)", e.Method, e.Path, e.Message, e.Status, e.Code)
	if f := e.Details["field"]; f != "" && !strings.HasPrefix(e.Message, f+":") {
		msg += ", field " + f
	}
	if e.RequestID != "" {
		msg += ", request id " + e.RequestID
	}
	return msg
}

// Field is the request field the hub refused, or "".
func (e *Error) Field() string { return e.Details["field"] }

// Error codes of the hub (the same as pkg/hub/api's).
const (
	CodeInvalidArgument     = "invalid_argument"
	CodeUnauthenticated     = "unauthenticated"
	CodePermissionDenied    = "permission_denied"
	CodeNotFound            = "not_found"
	CodeConflict            = "conflict"
	CodeAlreadyExists       = "already_exists"
	CodeIdempotencyMismatch = "idempotency_key_reused"
	CodeTooManyRequests     = "too_many_requests"
)

// AsError returns the hub error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func hasCode(err error, codes ...string) bool {
	e := AsError(err)
	if e == nil {
		return false
	}
	for _, c := range codes {
		if e.Code == c {
			return true
		}
	}
	return false
}

// IsNotFound tells whether err is the hub's 404.
func IsNotFound(err error) bool { return hasCode(err, CodeNotFound) }

// IsConflict tells whether err is a stale resourceVersion (or another
// conflicting change) or a name that already exists.
func IsConflict(err error) bool { return hasCode(err, CodeConflict, CodeAlreadyExists) }

// IsAlreadyExists tells whether err is a create whose name is taken.
func IsAlreadyExists(err error) bool { return hasCode(err, CodeAlreadyExists) }

// IsForbidden tells whether the caller lacks the permission.
func IsForbidden(err error) bool { return hasCode(err, CodePermissionDenied) }

// IsUnauthenticated tells whether the API key was refused.
func IsUnauthenticated(err error) bool { return hasCode(err, CodeUnauthenticated) }

// IsInvalid tells whether the hub refused the request's content.
func IsInvalid(err error) bool { return hasCode(err, CodeInvalidArgument) }

// CreateOption configures a create.
type CreateOption interface{ apply(*createOptions) }

type createOptions struct{ idempotencyKey string }

type idempotencyKey string

func (k idempotencyKey) apply(o *createOptions) { o.idempotencyKey = string(k) }

// WithIdempotencyKey sends key as the create's Idempotency-Key: a retry
// with the same key and body gets the first response, never a second
// object. Without it the client generates one per call.
func WithIdempotencyKey(key string) CreateOption { return idempotencyKey(key) }

// NewIdempotencyKey returns a random key for WithIdempotencyKey.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "nest-" + hex.EncodeToString(b[:])
}

func createKey(opts []CreateOption) string {
	o := createOptions{}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if o.idempotencyKey == "" {
		o.idempotencyKey = NewIdempotencyKey()
	}
	return o.idempotencyKey
}

// ListOptions selects one page of a list: Limit (1 to 1000, default 50),
// the Cursor of the previous page's NextCursor, and exact-match Filters
// (such as "name") the route accepts.
type ListOptions struct {
	Limit   int
	Cursor  string
	Filters map[string]string
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	for k, v := range o.Filters {
		q.Set(k, v)
	}
	return q
}

// request is one API call.
type request struct {
	method string
	path   string // under /api/v1, already escaped
	query  url.Values
	body   any
	// idemKey is the Idempotency-Key of a create.
	idemKey string
}

// segment escapes one path parameter.
func segment(s string) string { return url.PathEscape(s) }

// do sends r and decodes a successful response into out (unless nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return fmt.Errorf("encode the body of %s %s: %w", r.method, r.path, err)
		}
		body = b
	}
	u := strings.TrimRight(c.base.String(), "/") + "/api/v1" + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	retryable := r.method == http.MethodGet || r.idemKey != ""
	for attempt := 0; ; attempt++ {
		resp, err := c.send(ctx, r, u, body)
		if err == nil && retryable && attempt < c.retries && isRetryableStatus(resp.StatusCode) {
			resp.Body.Close()
			err = fmt.Errorf("%s", resp.Status)
		} else if err == nil {
			return c.decode(resp, r, out)
		}
		if !retryable || attempt >= c.retries || ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", r.method, r.path, ctx.Err())
		case <-time.After(c.backoff << attempt):
		}
	}
}

func isRetryableStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

func (c *Client) send(ctx context.Context, r request, u string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return nil, err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.agent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.idemKey != "" {
		req.Header.Set("Idempotency-Key", r.idemKey)
	}
	return c.http.Do(req)
}

func (c *Client) decode(resp *http.Response, r request, out any) error {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the response: %w", r.method, r.path, err)
	}
	if resp.StatusCode >= 300 {
		e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-Id"), Method: r.method, Path: r.path}
		if json.Unmarshal(data, e) != nil || e.Code == "" {
			e.Code = "http_" + strconv.Itoa(resp.StatusCode)
			e.Message = strings.TrimSpace(string(data))
			if len(e.Message) > 200 {
				e.Message = e.Message[:200] + "..."
			}
			if e.Message == "" {
				e.Message = resp.Status
			}
		}
		return e
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode the response: %w", r.method, r.path, err)
	}
	return nil
}

// UnmarshalJSON reads the hub's error body without touching the fields
// that come from the HTTP response.
func (e *Error) UnmarshalJSON(data []byte) error {
	var body struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Details map[string]string `json:"details"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return err
	}
	e.Code, e.Message, e.Details = body.Code, body.Message, body.Details
	return nil
}

func deleteQuery(resourceVersion int64) url.Values {
	if resourceVersion <= 0 {
		return nil
	}
	return url.Values{"resourceVersion": {strconv.FormatInt(resourceVersion, 10)}}
}
