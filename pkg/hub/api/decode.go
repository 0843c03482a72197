package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strings"
)

// validator is a request body that checks its own fields.
type validator interface {
	validate() *Error
}

// decode reads one JSON object into dst, refusing unknown fields, wrong
// types and trailing data, then validates it. Errors name the field.
func decode(body []byte, dst any) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid("body", "a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("body", "unexpected data after the JSON object")
	}
	if v, ok := dst.(validator); ok {
		return v.validate()
	}
	return nil
}

func decodeError(err error) *Error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return invalid("body", "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		field := jsonPath(typ.Field)
		if field == "" {
			field = "body"
		}
		return invalid(field, "must be %s, not %s", jsonType(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("body", "truncated JSON")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		if field == "" {
			return invalid("body", "unknown field %s", name)
		}
		return invalid(field, "unknown field")
	}
	// Other decoding errors (bad time formats...) carry no field name.
	return invalid("body", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonPath drops the Go names of embedded structs ("Spec.paused") from a
// decoder's field path: JSON names start with a lower-case letter.
func jsonPath(field string) string {
	var parts []string
	for _, p := range strings.Split(field, ".") {
		if p != "" && (p[0] < 'A' || p[0] > 'Z') {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return "a number"
	}
}

// namePattern is what object names look like: DNS labels, so that they can
// become parts of host names and Kubernetes names later.
var namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func validateName(field, name string) *Error {
	switch {
	case name == "":
		return invalid(field, "is required")
	case len(name) > 63:
		return invalid(field, "must be at most 63 characters")
	case !namePattern.MatchString(name):
		return invalid(field, "must be lower-case letters, digits and '-', starting and ending with a letter or digit")
	}
	return nil
}

func validateText(field, s string, max int) *Error {
	if len(s) > max {
		return invalid(field, "must be at most %d characters", max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return invalid(field, "must not contain control characters")
		}
	}
	return nil
}

func validateVersion(rv int64) *Error {
	if rv <= 0 {
		return invalid("resourceVersion", "is required: send the resourceVersion of the object you read")
	}
	return nil
}

// firstError returns the first non-nil error.
func firstError(errs ...*Error) *Error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
