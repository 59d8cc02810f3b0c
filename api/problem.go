package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/meridian-gslb/meridian/api/wire"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Problem and FieldError are the API's error contract, defined once in
// package wire for the server and the client.
type (
	Problem    = wire.Problem
	FieldError = wire.FieldError
)

// Problem types. They are URNs: stable names to switch on, not pages.
const (
	typeMalformed        = "urn:meridian:problem:malformed-request"
	typeUnauthorized     = "urn:meridian:problem:unauthorized"
	typeForbidden        = "urn:meridian:problem:forbidden"
	typeNotFound         = "urn:meridian:problem:not-found"
	typeMethodNotAllowed = "urn:meridian:problem:method-not-allowed"
	typeRevision         = "urn:meridian:problem:revision-mismatch"
	typeExists           = "urn:meridian:problem:already-exists"
	typeReferenced       = "urn:meridian:problem:still-referenced"
	typeTooLarge         = "urn:meridian:problem:body-too-large"
	typeMediaType        = "urn:meridian:problem:unsupported-media-type"
	typeInvalid          = "urn:meridian:problem:invalid"
	typeNotImplemented   = "urn:meridian:problem:not-implemented"
	typeUnavailable      = "urn:meridian:problem:unavailable"
	typeInternal         = "urn:meridian:problem:internal"
	typeTooMany          = "urn:meridian:problem:too-many-requests"
)

var titles = map[string]string{
	typeMalformed:        "Malformed request",
	typeUnauthorized:     "Unauthorized",
	typeForbidden:        "Forbidden",
	typeNotFound:         "Not found",
	typeMethodNotAllowed: "Method not allowed",
	typeRevision:         "Revision mismatch",
	typeExists:           "Already exists",
	typeReferenced:       "Still referenced",
	typeTooLarge:         "Request body too large",
	typeMediaType:        "Unsupported media type",
	typeInvalid:          "Invalid content",
	typeNotImplemented:   "Not implemented",
	typeUnavailable:      "Service unavailable",
	typeInternal:         "Internal server error",
	typeTooMany:          "Too many requests",
}

func problemf(status int, typ, format string, args ...any) *Problem {
	return &Problem{Type: typ, Title: titles[typ], Status: status, Detail: fmt.Sprintf(format, args...)}
}

// Errors the handlers return, mapped by problemOf.
type (
	// invalidError is content that fails validation (422): an object's
	// Validate, the whole-state check, or a bad zone file.
	invalidError struct{ err error }
	// conflictError is an If-Match that does not match (409).
	conflictError struct {
		object  string
		current int64
	}
	// referencedError is a delete of an object others still use (409).
	referencedError struct {
		object string
		by     []string
	}
)

func (e *invalidError) Error() string { return e.err.Error() }
func (e *invalidError) Unwrap() error { return e.err }
func (e *conflictError) Error() string {
	return fmt.Sprintf("%s is at revision %d", e.object, e.current)
}
func (e *referencedError) Error() string {
	return fmt.Sprintf("%s is still used by %s", e.object, strings.Join(e.by, ", "))
}

// problemOf maps an error to its problem: the one place where store and
// model errors become HTTP statuses.
func problemOf(err error) *Problem {
	var (
		p   *Problem
		inv *invalidError
		cf  *conflictError
		ref *referencedError
		big *http.MaxBytesError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &big):
		return problemf(http.StatusRequestEntityTooLarge, typeTooLarge, "the body exceeds the limit of %d bytes", big.Limit)
	case errors.As(err, &cf):
		p := problemf(http.StatusConflict, typeRevision, "%s is at revision %d, not the one in If-Match; fetch it again and retry", cf.object, cf.current)
		p.CurrentRevision = &cf.current
		return p
	case errors.As(err, &ref):
		p := problemf(http.StatusConflict, typeReferenced, "%s is still used by %s; change or delete them first", ref.object, strings.Join(ref.by, ", "))
		p.ReferencedBy = ref.by
		return p
	case errors.As(err, &inv), errors.Is(err, model.ErrInvalid):
		p := problemf(http.StatusUnprocessableEntity, typeInvalid, "%s", strings.TrimPrefix(err.Error(), model.ErrInvalid.Error()+": "))
		p.Errors = []FieldError{fieldErrorOf(err)}
		return p
	case errors.Is(err, store.ErrNotFound):
		return problemf(http.StatusNotFound, typeNotFound, "%s", trimStore(err))
	case errors.Is(err, store.ErrExists):
		return problemf(http.StatusConflict, typeExists, "%s; use PUT to replace it", trimStore(err))
	case errors.Is(err, store.ErrConflict):
		return problemf(http.StatusConflict, typeRevision, "%s", trimStore(err))
	case errors.Is(err, store.ErrUnavailable):
		return problemf(http.StatusServiceUnavailable, typeUnavailable, "writes are refused while the shared store is unreachable; this node answers DNS from its last known state (%s)", strings.TrimPrefix(err.Error(), store.ErrUnavailable.Error()+": "))
	case errors.Is(err, store.ErrClosed), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return problemf(http.StatusServiceUnavailable, typeUnavailable, "the store is not available")
	}
	return nil
}

// trimStore drops the "store: " prefix of a sentinel at the end of a
// message: "datacenter \"x\": not found".
func trimStore(err error) string { return strings.Replace(err.Error(), ": store: ", ": ", 1) }

// fieldErrorOf reads the field out of a model validation message, which
// model's invalid() writes as `KIND "NAME": FIELD: MESSAGE` (FIELD and
// its colon absent when the message is about the whole object). Other
// errors (a DNS build failure, a zone file error) keep their whole text.
func fieldErrorOf(err error) FieldError {
	msg := err.Error()
	i := strings.LastIndex(msg, model.ErrInvalid.Error()+": ")
	if i < 0 {
		return FieldError{Message: msg}
	}
	rest := msg[i+len(model.ErrInvalid.Error())+2:]
	// Skip KIND and the quoted NAME, when there is one.
	end := strings.IndexAny(rest, " :")
	if end < 0 {
		return FieldError{Message: rest}
	}
	after := rest[end:]
	if strings.HasPrefix(after, " ") {
		if q, err := strconv.QuotedPrefix(after[1:]); err == nil {
			after = after[1+len(q):]
		}
	}
	after = strings.TrimPrefix(after, ": ")
	if field, text, ok := strings.Cut(after, ": "); ok && isFieldName(field) {
		return FieldError{Field: field, Message: text}
	}
	return FieldError{Message: after}
}

// isFieldName reports whether s looks like a JSON field path:
// "endpoints", "soa.retry".
func isFieldName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && c != '_' && c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// problem writes err as a problem response. Errors that map to no
// problem are logged and answered 500 without their text.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p == nil {
		s.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		p = problemf(http.StatusInternalServerError, typeInternal, "internal error; the server log has the details")
	}
	cp := *p
	cp.Instance = r.URL.Path
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Retry-After", "5") // the store's reachability is probed every second
	}
	if cp.Status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(cp.Status)
	_ = json.NewEncoder(w).Encode(&cp)
}
