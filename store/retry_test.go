package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/storetest"
)

// errDiscard makes retryStore's first run roll back.
var errDiscard = errors.New("retry test: discard the first run")

// retryStore is a Store whose Update calls fn twice, as a backend that
// retries on contention does: first in a transaction it rolls back, then
// in a fresh one it commits.
type retryStore struct {
	*store.Bolt
	runs int // calls of fn by Update
}

func (s *retryStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	_, err := s.Bolt.Update(ctx, func(tx store.Tx) error {
		s.runs++
		if err := fn(tx); err != nil {
			return err
		}
		return errDiscard
	})
	if !errors.Is(err, errDiscard) {
		return 0, err
	}
	return s.Bolt.Update(ctx, func(tx store.Tx) error {
		s.runs++
		return fn(tx)
	})
}

// TestReconcileRetried: a Reconcile whose transaction function runs twice
// returns, stores and logs exactly what a Reconcile that runs it once
// does: creations, updates, deletions, adoptions and kept objects alike.
func TestReconcileRetried(t *testing.T) {
	open := func(name string) *store.Bolt {
		b, err := store.OpenBolt(filepath.Join(t.TempDir(), name), store.BoltOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	plain := open("plain.db")
	retried := &retryStore{Bolt: open("retried.db")}

	other := &model.State{Regions: []model.Region{
		{Name: "ap", Continents: []string{"AS", "OC"}},
		{Name: "sa", Continents: []string{"SA"}},
	}}
	base := storetest.BaseState
	changed := func() *model.State {
		st := base()
		st.Regions = append([]model.Region{{Name: "ap", Continents: []string{"AS", "OC"}}}, st.Regions...) // adopted
		st.Regions = append(st.Regions, model.Region{Name: "za", Countries: []string{"ZA"}})               // created
		st.Datacenters = st.Datacenters[:1]                                                                // iad deleted
		st.Datacenters[0].Location.Lat = 50.2                                                              // fra updated
		st.Services[0].Endpoints = st.Services[0].Endpoints[:1]                                            // service updated
		return st
	}
	steps := []struct {
		source  string
		desired *model.State
		opts    store.ReconcileOptions
	}{
		{"other", other, store.ReconcileOptions{}},
		{"file", base(), store.ReconcileOptions{}},
		{"file", changed(), store.ReconcileOptions{Actor: "alice"}},
		{"file", changed(), store.ReconcileOptions{}}, // unchanged: writes nothing
	}
	eventOpts := cmpopts.IgnoreFields(model.Event{}, "At") // the clock moves between the stores
	for i, step := range steps {
		want, wantRev, err := store.Reconcile(t.Context(), plain, step.source, step.desired, step.opts)
		if err != nil {
			t.Fatalf("step %d: plain Reconcile: %v", i, err)
		}
		runs := retried.runs
		got, gotRev, err := store.Reconcile(t.Context(), retried, step.source, step.desired, step.opts)
		if err != nil {
			t.Fatalf("step %d: retried Reconcile: %v", i, err)
		}
		if n := retried.runs - runs; n != 2 {
			t.Fatalf("step %d: fn ran %d times, want 2", i, n)
		}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("step %d: diff (-once +twice):\n%s", i, diff)
		}
		if gotRev != wantRev {
			t.Errorf("step %d: revision %d, want %d", i, gotRev, wantRev)
		}
		if i == 2 && (got.Summary() != "1 created, 2 updated, 1 deleted, 1 adopted" || len(got.Kept) != 1) {
			t.Errorf("step %d: %s with %d kept, want 1 created, 2 updated, 1 deleted, 1 adopted with 1 kept", i, got.Summary(), len(got.Kept))
		}

		wantState, _, err := store.LoadState(t.Context(), plain)
		if err != nil {
			t.Fatal(err)
		}
		gotState, _, err := store.LoadState(t.Context(), retried)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(wantState, gotState); diff != "" {
			t.Errorf("step %d: stored state (-once +twice):\n%s", i, diff)
		}
		wantEvents, err := store.ListEvents(t.Context(), plain, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		gotEvents, err := store.ListEvents(t.Context(), retried, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(wantEvents, gotEvents, eventOpts); diff != "" {
			t.Errorf("step %d: event log (-once +twice):\n%s", i, diff)
		}
	}
}
