// Package wire holds the types of Meridian's API that both the server
// (package api) and its Go client (package api/client) speak, so that the
// error contract is defined once. It imports only the standard library.
package wire

import "fmt"

// Problem is an RFC 9457 problem detail, the body of every error response
// (Content-Type application/problem+json). A client makes one up from the
// status when an answer was not one (a proxy's error page).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Instance is the request path the problem occurred on.
	Instance string `json:"instance,omitempty"`
	// Errors lists the fields at fault, for validation failures (400
	// and 422).
	Errors []FieldError `json:"errors,omitempty"`
	// CurrentRevision is the object's revision when an If-Match failed
	// (409); 0 when the object does not exist.
	CurrentRevision *int64 `json:"current_revision,omitempty"`
	// ReferencedBy names, as "kind/name", the objects that still refer
	// to an object that cannot be deleted (409).
	ReferencedBy []string `json:"referenced_by,omitempty"`
}

// FieldError is one field at fault. Field uses the JSON names of the
// body ("endpoints", "soa.retry"); it is empty when the message is about
// the object as a whole.
type FieldError struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("%d %s", p.Status, p.Title)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}
