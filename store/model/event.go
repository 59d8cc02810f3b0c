package model

import (
	"fmt"
	"time"
)

// Event is one entry of the event log: a change an operator or the health
// system made, with what it was before and after.
type Event struct {
	Meta
	// Seq orders events; the store assigns it.
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Type   string    `json:"type"`             // e.g. "reconcile", "create", "verdict"
	Object string    `json:"object,omitempty"` // kind/name of the object concerned
	Actor  string    `json:"actor,omitempty"`  // a source, a token name or a checker
	Detail string    `json:"detail,omitempty"`
	Before string    `json:"before,omitempty"`
	After  string    `json:"after,omitempty"`
}

func (e *Event) ObjectKind() Kind { return KindEvent }

// ObjectName is the zero-padded sequence number, so that names sort in
// sequence order.
func (e *Event) ObjectName() string { return EventName(e.Seq) }

// EventVerdict is the Type of the events the health engine appends when
// the verdict on an endpoint changes (Object "endpoint/<service>/<address>",
// Before and After the health). Availability is computed from them, so
// the store's retention keeps them longer than other events.
const EventVerdict = "verdict"

// EventName is the stored name of the event with sequence number seq.
func EventName(seq int64) string { return fmt.Sprintf("%020d", seq) }

func (e *Event) Validate() error {
	if e.Type == "" {
		return invalid(KindEvent, "", "type", "required")
	}
	if e.At.IsZero() {
		return invalid(KindEvent, "", "at", "required")
	}
	return nil
}
