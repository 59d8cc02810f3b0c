package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Pagination of list routes.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// List is the body of every list response. Next is the cursor to pass
// as ?after= for the following page, empty on the last page.
type List[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// page is a list request's ?limit= and ?after=.
type page struct {
	limit int
	after string
}

func pageOf(r *http.Request) (page, error) {
	p := page{limit: DefaultLimit, after: r.URL.Query().Get("after")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return p, badParam("limit", "want a whole number from 1 to %d, not %q", MaxLimit, s)
		}
		p.limit = n
	}
	return p, nil
}

// finish trims items to the page and returns the list with its cursor:
// callers fetch limit+1 items to learn whether a next page exists.
func finish[T any](items []T, limit int, cursor func(T) string) List[T] {
	l := List[T]{Items: items}
	if l.Items == nil {
		l.Items = []T{}
	}
	if len(items) > limit {
		l.Items = items[:limit]
		l.Next = cursor(l.Items[limit-1])
	}
	return l
}

// badParam is a 400 problem about a query or path parameter.
func badParam(name, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	p := problemf(http.StatusBadRequest, typeMalformed, "%s: %s", name, msg)
	p.Errors = []FieldError{{Field: name, Message: msg}}
	return p
}

// pathParam returns the route parameter key, percent-decoded (chi routes
// on the raw path when the request escapes characters).
func pathParam(r *http.Request, key string) string {
	v := chi.URLParam(r, key)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// boolParam reads ?name=true|false (default false).
func boolParam(r *http.Request, name string) (bool, error) {
	switch s := strings.ToLower(r.URL.Query().Get(name)); s {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, badParam(name, "want true or false, not %q", s)
	}
}
