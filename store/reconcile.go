package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/meridian-gslb/meridian/store/model"
)

// Actions of a Change.
const (
	ActionCreate = "create" // in desired, not stored
	ActionUpdate = "update" // stored by this source, different in desired
	ActionDelete = "delete" // stored by this source, gone from desired
	ActionAdopt  = "adopt"  // stored by another source, now in desired
)

// Change is one write a reconcile makes (or would make, in a dry run).
type Change struct {
	Action string
	Kind   model.Kind
	Name   string
	// Before is the stored object (nil for a create); After is the object
	// as written (nil for a delete).
	Before, After model.Object
}

// Diff is what a reconcile changed, in the order it applies the changes:
// deletions first, from services back to zones, then creations, updates
// and adoptions from zones forward to services.
type Diff struct {
	Changes []Change
	// Kept lists, as "kind/name", the objects of other sources that are
	// not in the desired state and were left alone.
	Kept []string
}

// Count returns how many changes have action.
func (d *Diff) Count(action string) int {
	n := 0
	for _, c := range d.Changes {
		if c.Action == action {
			n++
		}
	}
	return n
}

// Summary is a one-line account such as "2 created, 1 updated, 0 deleted,
// 0 adopted".
func (d *Diff) Summary() string {
	return fmt.Sprintf("%d created, %d updated, %d deleted, %d adopted",
		d.Count(ActionCreate), d.Count(ActionUpdate), d.Count(ActionDelete), d.Count(ActionAdopt))
}

// ReconcileOptions tune Reconcile.
type ReconcileOptions struct {
	// DryRun computes the Diff without writing.
	DryRun bool
	// Actor is recorded in the event log; empty means the source.
	Actor string
}

// Reconcile makes the objects that source manages match desired, in one
// transaction: objects in desired are created, updated when they differ
// (Meta aside) or adopted from another source; objects of source missing
// from desired are deleted; objects of other sources are left alone. The
// result, desired plus the kept objects, must pass model.State.Validate,
// or nothing is written. A change appends one "reconcile" event in the
// same transaction; reconciling an unchanged state writes nothing.
//
// It returns what changed and the store revision afterwards (for a dry
// run, the revision it read at).
func Reconcile(ctx context.Context, s Store, source string, desired *model.State, opts ReconcileOptions) (*Diff, int64, error) {
	if source == "" {
		return nil, 0, errors.New("store: reconcile needs a source name")
	}
	if desired == nil {
		return nil, 0, errors.New("store: reconcile needs a desired state (an empty one deletes everything the source manages)")
	}
	if err := desired.Validate(); err != nil {
		return nil, 0, err
	}
	var diff *Diff
	run := func(tx Tx) error { // may run more than once: no state outside tx
		var err error
		diff, err = reconcileTx(tx, source, desired, opts)
		return err
	}
	if opts.DryRun {
		var rev int64
		err := s.View(ctx, func(tx Tx) error {
			rev = tx.Revision()
			return run(tx)
		})
		if err != nil {
			return nil, 0, err
		}
		return diff, rev, nil
	}
	rev, err := s.Update(ctx, run)
	if err != nil {
		return nil, 0, err
	}
	return diff, rev, nil
}

func reconcileTx(tx Tx, source string, desired *model.State, opts ReconcileOptions) (*Diff, error) {
	d, err := plan(tx, source, desired)
	if err != nil || opts.DryRun || len(d.Changes) == 0 {
		return d, err
	}
	actor := opts.Actor
	if actor == "" {
		actor = source
	}
	return d, apply(tx, source, actor, d)
}

// plan computes the Diff and checks that the result is valid as a whole.
func plan(tx Tx, source string, desired *model.State) (*Diff, error) {
	want := cloneState(desired)
	d := &Diff{}
	var result model.State // desired plus kept: what must validate
	var deletes, writes []Change
	for _, kind := range model.StateKinds {
		stored, err := loadKind(tx, kind)
		if err != nil {
			return nil, err
		}
		inDesired := map[string]bool{}
		for _, obj := range want.objectsOf(kind) {
			name := obj.ObjectName()
			inDesired[name] = true
			_ = result.Add(obj) // a state kind: cannot fail
			old, ok := stored.byName[name]
			*obj.GetMeta() = model.Meta{ManagedBy: source} // Put sets Revision
			switch {
			case !ok:
				writes = append(writes, Change{Action: ActionCreate, Kind: kind, Name: name, After: obj})
			case old.GetMeta().ManagedBy != source:
				writes = append(writes, Change{Action: ActionAdopt, Kind: kind, Name: name, Before: old, After: obj})
			default:
				same, err := equalIgnoringMeta(old, obj)
				if err != nil {
					return nil, err
				}
				if !same {
					writes = append(writes, Change{Action: ActionUpdate, Kind: kind, Name: name, Before: old, After: obj})
				}
			}
		}
		var kindDeletes []Change
		for _, name := range stored.names {
			old := stored.byName[name]
			switch {
			case inDesired[name]:
			case old.GetMeta().ManagedBy == source:
				kindDeletes = append(kindDeletes, Change{Action: ActionDelete, Kind: kind, Name: name, Before: old})
			default:
				d.Kept = append(d.Kept, string(kind)+"/"+name)
				_ = result.Add(old)
			}
		}
		deletes = append(kindDeletes, deletes...) // later kinds go first
	}
	// Without kept objects the result is desired itself, validated already.
	if len(d.Kept) > 0 {
		if err := result.Validate(); err != nil {
			return nil, fmt.Errorf("store: reconciling %s: the resulting state (with %d objects of other sources) is invalid: %w", source, len(d.Kept), err)
		}
	}
	d.Changes = append(deletes, writes...)
	return d, nil
}

// apply writes the changes of d in order, with an audit event for each
// (who, what, before and after) and one that sums them up.
func apply(tx Tx, source, actor string, d *Diff) error {
	for _, c := range d.Changes {
		var err error
		if c.Action == ActionDelete {
			err = Delete(tx, c.Kind, c.Name, 0)
		} else {
			err = Put(tx, c.After, 0)
		}
		if err != nil {
			return err
		}
		e := &model.Event{Type: c.Action, Object: string(c.Kind) + "/" + c.Name, Actor: actor,
			Detail: "reconcile of " + source, Before: eventJSON(c.Before), After: eventJSON(c.After)}
		if err := AppendEvent(tx, e); err != nil {
			return err
		}
	}
	return AppendEvent(tx, &model.Event{Type: "reconcile", Actor: actor, Detail: source + ": " + d.Summary()})
}

// eventJSON is obj as an event's before or after; "" for nil. Reconcile
// handles desired-state kinds only, which hold no secrets.
func eventJSON(obj model.Object) string {
	if obj == nil {
		return ""
	}
	var v any = obj
	if w, ok := obj.(*model.Webhook); ok {
		// A webhook's secret never enters the event log: it shows
		// whether there is one, as the API does.
		v = struct {
			Name      string `json:"name"`
			URL       string `json:"url"`
			HasSecret bool   `json:"has_secret"`
		}{w.Name, w.URL, w.Secret != ""}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// storedKind is every stored object of one kind.
type storedKind struct {
	names  []string // in name order
	byName map[string]model.Object
}

func loadKind(tx Tx, kind model.Kind) (storedKind, error) {
	sk := storedKind{byName: map[string]model.Object{}}
	err := tx.List(kind, "", 0, func(name string, b []byte) error {
		obj, err := newStateObject(kind)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, obj); err != nil {
			return fmt.Errorf("store: decoding %s %q: %w", kind, name, err)
		}
		sk.names = append(sk.names, name)
		sk.byName[name] = obj
		return nil
	})
	return sk, err
}

func newStateObject(kind model.Kind) (model.Object, error) {
	if !slices.Contains(model.StateKinds, kind) {
		return nil, fmt.Errorf("store: %s is not part of a desired state", kind)
	}
	obj, _ := model.NewObject(kind)
	return obj, nil
}

// desiredState is a shallow copy of a desired state: Reconcile sets Meta
// on its objects, never on the caller's.
type desiredState struct{ model.State }

func cloneState(s *model.State) desiredState {
	return desiredState{model.State{
		Zones:       slices.Clone(s.Zones),
		Regions:     slices.Clone(s.Regions),
		Datacenters: slices.Clone(s.Datacenters),
		Services:    slices.Clone(s.Services),
		Notify:      slices.Clone(s.Notify),
	}}
}

func (s desiredState) objectsOf(kind model.Kind) []model.Object {
	var out []model.Object
	for _, obj := range s.Objects() {
		if obj.ObjectKind() == kind {
			out = append(out, obj)
		}
	}
	return out
}

// equalIgnoringMeta compares two objects of one kind by their JSON form,
// the form they are stored in, with Meta left out.
func equalIgnoringMeta(a, b model.Object) (bool, error) {
	ja, err := jsonWithoutMeta(a)
	if err != nil {
		return false, err
	}
	jb, err := jsonWithoutMeta(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}

func jsonWithoutMeta(obj model.Object) ([]byte, error) {
	m := obj.GetMeta()
	saved := *m
	*m = model.Meta{}
	defer func() { *m = saved }()
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("store: encoding %s %q: %w", obj.ObjectKind(), obj.ObjectName(), err)
	}
	return b, nil
}
