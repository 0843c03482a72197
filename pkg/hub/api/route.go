package api

import (
	"context"
	"net/http"
	"reflect"
	"strconv"

	"github.com/nestcluster/nest/pkg/hub/audit"
	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// ScopeKind says where a route's permission is checked, from its path.
type ScopeKind string

// Scope kinds.
const (
	ScopeGlobal  ScopeKind = "global"  // hub-wide objects
	ScopeTenant  ScopeKind = "tenant"  // the {tenant} of the path
	ScopeProject ScopeKind = "project" // the {project} of the path, in {tenant}
	ScopeAny     ScopeKind = "any"     // the permission held at any scope
	ScopeNone    ScopeKind = "none"    // no API key: the route authenticates itself (login)
)

// Route is one row of the route table: everything the server registers and
// the OpenAPI document describes comes from here.
type Route struct {
	ID         string // OpenAPI operationId
	Method     string
	Path       string // a net/http pattern path, also an OpenAPI path
	Summary    string
	Permission auth.Permission // "" = any authenticated caller
	Scope      ScopeKind
	Resource   string   // the kind of object, for errors and audit events
	Query      []string // query parameters besides limit and cursor
	List       bool     // takes limit and cursor, returns nextCursor
	Request    reflect.Type
	Response   reflect.Type
	Status     int // status on success
	// MaxBody bounds the request body when set (else the API's
	// MaxBodyBytes).
	MaxBody int64
	// Public routes take no API key and check no permission: they
	// authenticate the caller themselves (POST /login).
	Public bool
	// Stream routes answer with a text/event-stream that lasts; they
	// take no in-flight slot.
	Stream bool

	serve func(c *call, body []byte) (any, *Error)
	// cachedBy names the store collection (table) whose change epoch,
	// with the auth epoch, keeps the route's encoded responses valid
	// (pageCache); "" caches nothing.
	cachedBy string
}

// Pattern is the net/http pattern of the route.
func (r *Route) Pattern() string { return r.Method + " " + r.Path }

// call is one request being served by a route.
type call struct {
	api       *API
	route     *Route
	r         *http.Request
	ctx       context.Context
	principal *auth.Principal
	scope     auth.Scope
	requestID string
	// raw, when set by a handler, writes the response instead of JSON.
	raw func(w http.ResponseWriter)
	// after run once the call's transaction committed.
	after []func()
	// epochs are the store's epochs read for the page cache.
	epochs callEpochs
}

// callEpochs are the auth epoch and a collection's change epoch, read
// together at the start of a call (store.Epochs).
type callEpochs struct {
	read         bool
	auth, change int64
}

func (c *call) store() *store.Store { return c.api.store }

// path returns a path parameter.
func (c *call) path(name string) string { return c.r.PathValue(name) }

// listOptions reads limit, cursor and the route's filters from the query.
func (c *call) listOptions(filterOf map[string]string) (store.ListOptions, *Error) {
	q := c.r.URL.Query()
	opts := store.ListOptions{Cursor: q.Get("cursor"), Filters: map[string]string{}}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > store.MaxLimit {
			return opts, invalid("limit", "must be a number from 1 to %d", store.MaxLimit)
		}
		opts.Limit = n
	}
	for param, filter := range filterOf {
		if v := q.Get(param); v != "" {
			opts.Filters[filter] = v
		}
	}
	return opts, nil
}

// record appends the audit event of this call's change. Its scope is the
// path's, made precise by the object itself (a new project names its
// project, a new tenant its tenant), so that scoped audit lists find it.
func (c *call) record(id string, before, after any) error {
	return c.recordAs(string(c.route.Permission), c.route.Resource, id, before, after)
}

// recordAs is record with another action and resource: a change that one
// call makes to objects of another kind.
func (c *call) recordAs(action, resource, id string, before, after any) error {
	tenantID, projectID := c.scope.TenantID, c.scope.ProjectID
	obj := after
	if obj == nil {
		obj = before
	}
	switch o := obj.(type) {
	case *store.Tenant:
		tenantID = o.ID
	case *store.Project:
		tenantID, projectID = o.TenantID, o.ID
	case *store.RoleBinding:
		tenantID, projectID = o.TenantID, o.ProjectID
	case *store.VirtualCluster:
		tenantID, projectID = o.TenantID, o.ProjectID
	}
	return audit.Record(c.ctx, c.store(), audit.Change{
		Principal: c.principal.String(), Action: action, Resource: resource,
		ResourceID: id, TenantID: tenantID, ProjectID: projectID, RequestID: c.requestID,
		Before: before, After: after,
	})
}

var noneType = reflect.TypeFor[none]()

func isNone(t reflect.Type) bool { return t == noneType || t == reflect.PointerTo(noneType) }

// route builds a table row from a typed handler: the request and response
// types the OpenAPI document shows are the ones the handler takes and
// returns, so the two cannot drift.
func route[Req, Resp any](id, method, path string, perm auth.Permission, scope ScopeKind, resource, summary string,
	fn func(c *call, req *Req) (Resp, error)) Route {
	r := Route{ID: id, Method: method, Path: path, Summary: summary, Permission: perm, Scope: scope, Resource: resource, Status: http.StatusOK}
	if t := reflect.TypeFor[Req](); !isNone(t) {
		r.Request = t
	}
	if t := reflect.TypeFor[Resp](); !isNone(t) {
		r.Response = t
	} else {
		r.Status = http.StatusNoContent
	}
	if method == http.MethodPost {
		r.Status = http.StatusCreated
	}
	r.serve = func(c *call, body []byte) (any, *Error) {
		req := new(Req)
		if r.Request != nil {
			if err := decode(body, req); err != nil {
				return nil, err
			}
		} else if len(body) > 0 {
			return nil, invalid("body", "this request takes no body")
		}
		resp, err := fn(c, req)
		if err != nil {
			return nil, toError(err, resource)
		}
		if r.Response == nil {
			return nil, nil
		}
		return resp, nil
	}
	return r
}

// streaming marks a route that answers with server-sent events.
func (r Route) streaming() Route {
	r.Stream = true
	return r
}

// withQuery declares the route's query parameters.
func (r Route) withQuery(params ...string) Route {
	r.Query = params
	return r
}

// withStatus sets the status of success.
func (r Route) withStatus(status int) Route {
	r.Status = status
	return r
}

// withMaxBody sets the route's own body limit.
func (r Route) withMaxBody(n int64) Route {
	r.MaxBody = n
	return r
}

// public marks a route that authenticates itself.
func (r Route) public() Route {
	r.Public = true
	r.Scope = ScopeNone
	return r
}

// cached keeps the route's responses while the auth epoch and the change
// epoch of table stay the same: the route reads nothing but auth data and
// that collection.
func (r Route) cached(table string) Route {
	r.cachedBy = table
	return r
}

// asList marks a route as a paged list.
func (r Route) asList(params ...string) Route {
	r.List = true
	r.Query = params
	return r
}
