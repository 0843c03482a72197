package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nestcluster/nest/pkg/hub/auth"
	"github.com/nestcluster/nest/pkg/hub/store"
)

// Error is the one JSON shape of every failed request. Details name the bad
// field ("field") and whatever else helps ("reason", "limit"...).
type Error struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Details map[string]string `json:"details,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes.
const (
	CodeInvalidArgument     = "invalid_argument"
	CodeUnauthenticated     = "unauthenticated"
	CodePermissionDenied    = "permission_denied"
	CodeNotFound            = "not_found"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeConflict            = "conflict"
	CodeAlreadyExists       = "already_exists"
	CodeIdempotencyMismatch = "idempotency_key_reused"
	CodeTooLarge            = "request_too_large"
	CodeTooManyRequests     = "too_many_requests"
	CodeInternal            = "internal"
)

// invalid is a 400 naming the bad field.
func invalid(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidArgument,
		Message: field + ": " + fmt.Sprintf(format, args...), Details: map[string]string{"field": field}}
}

func notFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " not found"}
}

// toError maps any error of a handler to the API's shape. Unknown errors
// are internal and their text is not shown (it is logged).
func toError(err error, resource string) *Error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, store.ErrNotFound):
		return notFound(resource)
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: resource + " was changed since it was read: get it again and retry with its current resourceVersion",
			Details: map[string]string{"field": "resourceVersion"}}
	case errors.Is(err, store.ErrAlreadyExists):
		return &Error{Status: http.StatusConflict, Code: CodeAlreadyExists,
			Message: "a " + resource + " with this name already exists", Details: map[string]string{"field": "name"}}
	case errors.Is(err, store.ErrReference):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidArgument, Message: resource + " refers to an object that does not exist"}
	case errors.Is(err, store.ErrInvalidCursor):
		return invalid("cursor", "not a cursor returned by this list")
	case errors.Is(err, store.ErrInvalidFilter):
		return &Error{Status: http.StatusBadRequest, Code: CodeInvalidArgument, Message: err.Error()}
	case errors.Is(err, auth.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: auth.ErrUnauthenticated.Error()}
	case errors.Is(err, auth.ErrForbidden):
		return &Error{Status: http.StatusForbidden, Code: CodePermissionDenied, Message: err.Error()}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error: see the hub's log for the request id"}
}
