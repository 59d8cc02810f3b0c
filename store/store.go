package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/meridian-gslb/meridian/store/model"
)

// Sentinel errors. Callers test them with errors.Is; the API maps them to
// HTTP statuses in one place.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
	ErrConflict = errors.New("store: revision conflict")
	ErrSchema   = errors.New("store: unsupported schema version")
	ErrClosed   = errors.New("store: closed")
)

// Store is the durable state behind Meridian. A backend (bbolt by default,
// etcd for a cluster) implements it; every backend passes the contract
// suite in storetest.
//
// Every Update that writes something commits as exactly one new revision,
// atomically: readers and a crash see all of its writes or none.
type Store interface {
	// View runs fn in a read-only transaction over a consistent view.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil. It returns the revision the store has afterwards, which
	// is unchanged when fn wrote nothing. fn may be called more than once
	// by backends that retry on contention, so it must have no side
	// effects outside tx.
	Update(ctx context.Context, fn func(Tx) error) (int64, error)
	// Revision returns the current revision: 0 for an empty store, one
	// more for every committed change.
	Revision(ctx context.Context) (int64, error)
	// Watch returns a channel that receives the new revision after each
	// committed change. Deliveries are coalesced: a slow reader sees the
	// latest revision, not every one. The channel is closed when ctx ends
	// or the store closes.
	Watch(ctx context.Context) <-chan int64
	Close() error
}

// Tx is a transaction. Values are opaque bytes to the backend; the typed
// helpers in this package encode objects as JSON.
type Tx interface {
	// Revision is the store revision the transaction reads at (View) or
	// will commit as if it writes (Update).
	Revision() int64
	// Get returns the value stored under kind/name, or ErrNotFound.
	Get(kind model.Kind, name string) ([]byte, error)
	// List calls fn for every value of kind whose name sorts after the
	// name given as after ("" for the start), in name order, and stops
	// after limit values (0 for no limit) or when fn returns an error.
	List(kind model.Kind, after string, limit int, fn func(name string, value []byte) error) error
	// Put stores value under kind/name. It fails in a View.
	Put(kind model.Kind, name string, value []byte) error
	// Delete removes kind/name; ErrNotFound when it does not exist.
	Delete(kind model.Kind, name string) error
}

// objectPtr is a pointer to a model type: what the typed helpers accept.
type objectPtr[T any] interface {
	*T
	model.Object
}

// Get decodes the object of type T named name.
func Get[T any, P objectPtr[T]](tx Tx, name string) (*T, error) {
	var obj T
	kind := P(&obj).ObjectKind()
	b, err := tx.Get(kind, name)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", kind, name, err)
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("store: decoding %s %q: %w", kind, name, err)
	}
	return &obj, nil
}

// List decodes every object of type T, in name order.
func List[T any, P objectPtr[T]](tx Tx) ([]T, error) {
	var zero T
	kind := P(&zero).ObjectKind()
	var out []T
	err := tx.List(kind, "", 0, func(name string, b []byte) error {
		var obj T
		if err := json.Unmarshal(b, &obj); err != nil {
			return fmt.Errorf("store: decoding %s %q: %w", kind, name, err)
		}
		out = append(out, obj)
		return nil
	})
	return out, err
}

// Put validates obj and stores it, setting its revision to the
// transaction's. With ifRevision > 0 the stored object must exist and have
// that revision (ErrConflict otherwise); with ifRevision == 0 any existing
// object is replaced; with ifRevision < 0 the object must not exist yet
// (ErrExists).
func Put(tx Tx, obj model.Object, ifRevision int64) error {
	kind, name := obj.ObjectKind(), obj.ObjectName()
	if err := obj.Validate(); err != nil {
		return err
	}
	if ifRevision != 0 {
		old, err := tx.Get(kind, name)
		switch {
		case ifRevision < 0 && err == nil:
			return fmt.Errorf("%s %q: %w", kind, name, ErrExists)
		case ifRevision < 0 && errors.Is(err, ErrNotFound):
		case err != nil:
			return fmt.Errorf("%s %q: %w", kind, name, err)
		default:
			var m model.Meta
			if err := json.Unmarshal(old, &m); err != nil {
				return fmt.Errorf("store: decoding %s %q: %w", kind, name, err)
			}
			if m.Revision != ifRevision {
				return fmt.Errorf("%s %q is at revision %d, not %d: %w", kind, name, m.Revision, ifRevision, ErrConflict)
			}
		}
	}
	obj.GetMeta().Revision = tx.Revision()
	b, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("store: encoding %s %q: %w", kind, name, err)
	}
	return tx.Put(kind, name, b)
}

// Delete removes the object of kind named name. With ifRevision > 0 the
// stored object must have that revision.
func Delete(tx Tx, kind model.Kind, name string, ifRevision int64) error {
	if ifRevision > 0 {
		old, err := tx.Get(kind, name)
		if err != nil {
			return fmt.Errorf("%s %q: %w", kind, name, err)
		}
		var m model.Meta
		if err := json.Unmarshal(old, &m); err != nil {
			return fmt.Errorf("store: decoding %s %q: %w", kind, name, err)
		}
		if m.Revision != ifRevision {
			return fmt.Errorf("%s %q is at revision %d, not %d: %w", kind, name, m.Revision, ifRevision, ErrConflict)
		}
	}
	if err := tx.Delete(kind, name); err != nil {
		return fmt.Errorf("%s %q: %w", kind, name, err)
	}
	return nil
}

// LoadState reads the whole desired state in one consistent view and
// returns it with the revision it was read at.
func LoadState(ctx context.Context, s Store) (*model.State, int64, error) {
	var st *model.State
	var rev int64
	err := s.View(ctx, func(tx Tx) error {
		rev = tx.Revision()
		var err error
		st, err = ReadState(tx)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return st, rev, nil
}

// ReadState reads the whole desired state within tx, so that a caller can
// read more (overrides, health) in the same consistent view.
func ReadState(tx Tx) (*model.State, error) {
	var st model.State
	var err error
	if st.Zones, err = List[model.Zone](tx); err != nil {
		return nil, err
	}
	if st.Regions, err = List[model.Region](tx); err != nil {
		return nil, err
	}
	if st.Datacenters, err = List[model.Datacenter](tx); err != nil {
		return nil, err
	}
	if st.Services, err = List[model.Service](tx); err != nil {
		return nil, err
	}
	return &st, nil
}
