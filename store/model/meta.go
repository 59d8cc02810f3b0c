package model

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is wrapped by every validation error in this package.
var ErrInvalid = errors.New("model: invalid")

// Kind names a type of stored object. It is also the name of its bucket or
// key prefix in a store backend, so the values are part of the on-disk format.
type Kind string

const (
	KindZone       Kind = "zone"
	KindRegion     Kind = "region"
	KindDatacenter Kind = "datacenter"
	KindService    Kind = "service"
	KindChecker    Kind = "checker"
	KindVote       Kind = "vote"
	KindEvent      Kind = "event"
	KindToken      Kind = "token"
	KindOverride   Kind = "override"
	KindVerdict    Kind = "verdict"
	KindWebhook    Kind = "webhook"
)

// Kinds lists every kind, in the order a reconciler applies creations
// (referenced objects before the objects that reference them).
var Kinds = []Kind{KindZone, KindRegion, KindDatacenter, KindService, KindWebhook, KindChecker, KindVote, KindVerdict, KindEvent, KindToken, KindOverride}

// Sources that can manage an object.
const (
	// SourceStateFile is the state file named in a node's config. It is
	// one source whatever the file's path, so that moving or renaming the
	// file does not orphan the objects it manages.
	SourceStateFile = "state"
	// SourceAPI is the REST API and the CLI on it.
	SourceAPI = "api"
)

// Meta is carried by every stored object.
type Meta struct {
	// Revision is the store revision of the object's last change. It is set
	// by the store, never by clients; updates may require it to match.
	Revision int64 `json:"revision,omitempty" yaml:"-"`
	// ManagedBy names the source that owns the object: a state file, an
	// apply, or the API. Reconciling a source touches only its own objects.
	ManagedBy string `json:"managed_by,omitempty" yaml:"-"`
}

// GetMeta returns the object's metadata for the store to fill in.
func (m *Meta) GetMeta() *Meta { return m }

// Object is what a store persists: a named, validated value of one Kind.
type Object interface {
	ObjectKind() Kind
	ObjectName() string
	GetMeta() *Meta
	Validate() error
}

// NewObject returns an empty object of kind, to decode into, or false
// for an unknown kind.
func NewObject(kind Kind) (Object, bool) {
	switch kind {
	case KindZone:
		return &Zone{}, true
	case KindRegion:
		return &Region{}, true
	case KindDatacenter:
		return &Datacenter{}, true
	case KindService:
		return &Service{}, true
	case KindChecker:
		return &Checker{}, true
	case KindVote:
		return &Vote{}, true
	case KindEvent:
		return &Event{}, true
	case KindToken:
		return &Token{}, true
	case KindOverride:
		return &Override{}, true
	case KindVerdict:
		return &Verdict{}, true
	case KindWebhook:
		return &Webhook{}, true
	}
	return nil, false
}

// invalid builds a validation error that names the object and the field.
func invalid(kind Kind, name, field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	var b strings.Builder
	b.WriteString(string(kind))
	if name != "" {
		fmt.Fprintf(&b, " %q", name)
	}
	if field != "" {
		b.WriteString(": ")
		b.WriteString(field)
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalid, b.String(), msg)
}
