package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// mode is how a write treats an existing object.
type mode int

const (
	modeCreate  mode = iota // POST: the object must not exist (409)
	modeReplace             // PUT: create or replace
	modeDelete              // DELETE: the object must exist (404)
)

// op is one write through the API: the object, the condition, and what
// to record.
type op struct {
	mode    mode
	kind    model.Kind
	name    string       // stored name
	obj     model.Object // the new object; nil for a delete
	ifMatch ifMatch
	// event is the event type; "" means create, update or delete by
	// what happened.
	event, detail string
	// prepare runs in the transaction, before validation, with the
	// stored object (nil when none): it may complete obj from it or
	// refuse the write. It runs again when the store retries the
	// transaction, so it must set what it completes on every run.
	prepare func(tx store.Tx, old model.Object) error
}

// written is what a write did.
type written struct {
	obj     model.Object // as stored, with its revision; nil after a delete
	created bool
}

// write runs o in one store transaction: the If-Match check, the
// validation of the object and of the whole resulting state (one code
// path with the state file: Config.ValidateState), the reference check
// of a delete, the write itself with store.Put's revision condition, and
// the audit event. Nothing is written unless all of it passes.
func (s *Server) write(ctx context.Context, o op) (written, error) {
	actor := principalOf(ctx).name
	var res written
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		res = written{}
		ref := objectRef(o.kind, o.name)
		old, err := getObject(tx, o.kind, o.name)
		if err != nil {
			return err
		}
		switch {
		case o.mode == modeCreate && old != nil:
			return fmt.Errorf("%s %q: %w", o.kind, o.name, store.ErrExists)
		case o.mode == modeDelete && old == nil:
			return fmt.Errorf("%s %q: %w", o.kind, o.name, store.ErrNotFound)
		}
		if err := o.ifMatch.check(ref, old); err != nil {
			return err
		}
		if o.prepare != nil {
			if err := o.prepare(tx, old); err != nil {
				return err
			}
		}
		if o.obj != nil {
			*o.obj.GetMeta() = model.Meta{ManagedBy: model.SourceAPI}
			if err := o.obj.Validate(); err != nil {
				return &invalidError{err}
			}
		}
		if err := s.checkState(tx, o); err != nil {
			return err
		}
		// store.Put and store.Delete check the revision If-Match named
		// again, inside this transaction: the backend itself refuses a
		// stale write, whatever happened above.
		ifRev := int64(0)
		switch {
		case o.mode == modeCreate:
			ifRev = -1
		case len(o.ifMatch.revs) == 1:
			ifRev = o.ifMatch.revs[0]
		case o.ifMatch.present && old != nil: // "*" or a list: matched above
			ifRev = old.GetMeta().Revision
		}
		if o.obj == nil {
			err = store.Delete(tx, o.kind, o.name, ifRev)
		} else {
			err = store.Put(tx, o.obj, ifRev)
		}
		if err != nil {
			return err
		}
		typ := o.event
		switch {
		case typ != "":
		case o.obj == nil:
			typ = "delete"
		case old == nil:
			typ = "create"
		default:
			typ = "update"
		}
		res = written{obj: o.obj, created: old == nil && o.obj != nil}
		return store.AppendEvent(tx, &model.Event{
			Type: typ, Object: ref, Actor: actor, Detail: o.detail,
			Before: auditJSON(old), After: auditJSON(o.obj),
		})
	})
	return res, err
}

// checkState validates the state the write leaves, and refuses to delete
// what other objects still use.
func (s *Server) checkState(tx store.Tx, o op) error {
	if !isStateKind(o.kind) && o.kind != model.KindOverride {
		return nil
	}
	st, err := stateOf(tx)
	if err != nil {
		return err
	}
	if o.kind == model.KindOverride {
		if o.obj == nil {
			return nil
		}
		return overrideTargetExists(st, o.obj.(*model.Override))
	}
	if o.obj == nil {
		overrides, err := store.List[model.Override](tx)
		if err != nil {
			return err
		}
		if by := referrers(st, overrides, o.kind, o.name); len(by) > 0 {
			return &referencedError{object: objectRef(o.kind, o.name), by: by}
		}
	}
	if err := s.cfg.ValidateState(withChange(st, o.kind, o.name, o.obj)); err != nil {
		if o.obj == nil {
			p := problemf(http.StatusConflict, typeReferenced, "deleting %s would leave an invalid state: %v", objectRef(o.kind, o.name), err)
			return p
		}
		return &invalidError{err}
	}
	return nil
}

// referrers names, as "kind/name", the objects that use kind/name: the
// services in a zone, the data centers and policies naming a region, the
// services and overrides naming a data center, the overrides of a
// service's endpoints.
func referrers(st *model.State, overrides []model.Override, kind model.Kind, name string) []string {
	var by []string
	add := func(k model.Kind, n string) { by = append(by, objectRef(k, n)) }
	policyNames := func(svc *model.Service, region, dc string) bool {
		for _, step := range svc.Policy.Steps {
			for r, dcs := range step.Region {
				if r == region || slices.Contains(dcs, dc) {
					return true
				}
			}
		}
		return false
	}
	switch kind {
	case model.KindZone:
		for i := range st.Services {
			if zoneOf(st, st.Services[i].Name) == name {
				add(model.KindService, st.Services[i].ObjectName())
			}
		}
	case model.KindRegion:
		for _, d := range st.Datacenters {
			if d.Region == name {
				add(model.KindDatacenter, d.Name)
			}
		}
		for i := range st.Services {
			if policyNames(&st.Services[i], name, "\x00") {
				add(model.KindService, st.Services[i].ObjectName())
			}
		}
	case model.KindDatacenter:
		for i := range st.Services {
			svc := &st.Services[i]
			uses := policyNames(svc, "\x00", name)
			for _, e := range svc.Endpoints {
				uses = uses || e.Datacenter == name
			}
			if uses {
				add(model.KindService, svc.ObjectName())
			}
		}
		for _, ov := range overrides {
			if ov.Target == model.DatacenterTarget(name) {
				add(model.KindOverride, ov.Target)
			}
		}
	case model.KindService:
		svcName, typ, _ := strings.Cut(name, "/")
		prefix := model.EndpointTarget(svcName, typ, "")
		for _, ov := range overrides {
			if strings.HasPrefix(ov.Target, prefix) {
				add(model.KindOverride, ov.Target)
			}
		}
	}
	return by
}

// zoneOf returns the apex of the most specific zone that holds name.
func zoneOf(st *model.State, name string) string {
	best := ""
	for _, z := range st.Zones {
		if model.InZone(name, z.Name) && len(z.Name) > len(best) {
			best = z.Name
		}
	}
	return best
}
