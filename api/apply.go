package api

import (
	"net/http"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// SourceApply manages the objects of POST /api/v1/apply (meridian
// apply): an apply deletes what an earlier apply made and the new one no
// longer names, and leaves the state file's and the API's objects alone.
const SourceApply = "apply"

// applyResult is the answer of POST /api/v1/apply: the store.Diff.
type applyResult struct {
	DryRun bool `json:"dry_run"`
	// Revision is the store revision after the apply (for a dry run, the
	// one it was computed at).
	Revision int64         `json:"revision"`
	Summary  string        `json:"summary"`
	Changes  []applyChange `json:"changes"`
	// Kept lists, as kind/name, objects of other sources the desired
	// state does not name, left alone.
	Kept []string `json:"kept"`
}

type applyChange struct {
	Action string       `json:"action"` // create, update, delete, adopt
	Kind   model.Kind   `json:"kind"`
	Name   string       `json:"name"`
	Before model.Object `json:"before,omitempty"`
	After  model.Object `json:"after,omitempty"`
}

// apply serves POST /api/v1/apply?dry_run=: it makes the objects of
// source "apply" match the desired state in the body (the state file's
// shape, as JSON) with store.Reconcile, in one transaction, and answers
// the diff. Applying the same state twice changes nothing the second
// time; a dry run writes nothing.
func (s *Server) apply(w http.ResponseWriter, r *http.Request) {
	dry, err := boolParam(r, "dry_run")
	var desired model.State
	if err == nil {
		err = decodeJSON(w, r, s.cfg.MaxApplyBody, &desired)
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	for _, obj := range desired.Objects() {
		normalize(obj)
	}
	for i := range desired.Notify {
		if w := &desired.Notify[i]; w.Name == "" && w.URL != "" {
			w.Name = model.WebhookName(w.URL) // as the state file names it
		}
	}
	// Reconcile checks the result with model validation; check it the
	// way every other write is checked first, DNS build included. The
	// result is the desired state plus what other sources keep.
	stored, _, err := store.LoadState(r.Context(), s.st)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if err := s.cfg.ValidateState(resultOf(stored, &desired)); err != nil {
		s.problem(w, r, &invalidError{err})
		return
	}
	diff, rev, err := store.Reconcile(r.Context(), s.st, SourceApply, &desired,
		store.ReconcileOptions{DryRun: dry, Actor: principalOf(r.Context()).name})
	if err != nil {
		s.problem(w, r, err)
		return
	}
	res := applyResult{DryRun: dry, Revision: rev, Summary: diff.Summary(), Changes: []applyChange{}, Kept: diff.Kept}
	if res.Kept == nil {
		res.Kept = []string{}
	}
	for _, c := range diff.Changes {
		res.Changes = append(res.Changes, applyChange{Action: c.Action, Kind: c.Kind, Name: c.Name, Before: redactOrNil(c.Before), After: redactOrNil(c.After)})
	}
	writeJSON(w, http.StatusOK, res)
}

// resultOf is desired plus the stored objects of other sources it does
// not name: what the store holds after the apply.
func resultOf(stored, desired *model.State) *model.State {
	named := map[string]bool{}
	out := &model.State{}
	for _, obj := range desired.Objects() {
		named[objectRef(obj.ObjectKind(), obj.ObjectName())] = true
		_ = out.Add(obj)
	}
	for _, obj := range stored.Objects() {
		if obj.GetMeta().ManagedBy != SourceApply && !named[objectRef(obj.ObjectKind(), obj.ObjectName())] {
			_ = out.Add(obj)
		}
	}
	return out
}

// redactOrNil is redact for a change's before or after, which is nil for
// a create or a delete.
func redactOrNil(obj model.Object) model.Object {
	if obj == nil {
		return nil
	}
	return redact(obj)
}
