// Package storetest is the contract every store.Store backend must pass.
// A backend's test calls Run with a function that opens a new, empty store:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Run runs the contract suite. open is called once per subtest, possibly
// in parallel, and must return a new, empty store whose cleanup it
// registers with t.Cleanup (a Close the suite already made returns
// store.ErrClosed there, which the cleanup should tolerate).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	cases := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"EveryKind", testEveryKind},
		{"TypedHelpers", testTypedHelpers},
		{"Revision", testRevision},
		{"IfRevision", testIfRevision},
		{"FailedUpdateWritesNothing", testFailedUpdate},
		{"PanickingUpdateWritesNothing", testPanickingUpdate},
		{"ViewIsReadOnly", testViewReadOnly},
		{"CancelledContext", testCancelledContext},
		{"List", testList},
		{"Watch", testWatch},
		{"WatchCoalesces", testWatchCoalesces},
		{"WatchClosesOnCancel", testWatchCancel},
		{"Close", testClose},
		{"WatchersRaceClose", testWatchersRaceClose},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"KindRevision", testKindRevision},
		{"Events", testEvents},
		{"EventsFailedUpdate", testEventsFailedUpdate},
		{"EventsPrune", testEventsPrune},
		{"ReconcileCreate", testReconcileCreate},
		{"ReconcileIdempotent", testReconcileIdempotent},
		{"ReconcileUpdateDelete", testReconcileUpdateDelete},
		{"ReconcileDeleteOrder", testReconcileDeleteOrder},
		{"ReconcileKeepsOtherSources", testReconcileKeep},
		{"ReconcileAdopt", testReconcileAdopt},
		{"ReconcileDryRun", testReconcileDryRun},
		{"ReconcileInvalidWritesNothing", testReconcileInvalid},
		{"ReconcileReferences", testReconcileReferences},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, open(t))
		})
	}
}

var errBoom = errors.New("boom")

// testEveryKind: every kind round-trips through Put, Get, List and Delete.
func testEveryKind(t *testing.T, s store.Store) {
	for _, kind := range model.Kinds {
		objs := []model.Object{sample(kind, 2), sample(kind, 0), sample(kind, 1)}
		rev := put(t, s, objs...)
		want := []string{objs[1].ObjectName(), objs[2].ObjectName(), objs[0].ObjectName()}
		if got := names(t, s, kind); !slices.Equal(got, want) {
			t.Fatalf("%s: List = %q, want %q", kind, got, want)
		}
		err := s.View(t.Context(), func(tx store.Tx) error {
			for _, o := range objs {
				b, err := tx.Get(kind, o.ObjectName())
				if err != nil {
					return err
				}
				got := decode(t, kind, b)
				if got.GetMeta().Revision != rev {
					t.Errorf("%s %q: revision %d, want %d", kind, o.ObjectName(), got.GetMeta().Revision, rev)
				}
				if d := cmp.Diff(o, got); d != "" {
					t.Errorf("%s %q differs after a round trip (-put +got):\n%s", kind, o.ObjectName(), d)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		gone := objs[1].ObjectName()
		update(t, s, func(tx store.Tx) error { return tx.Delete(kind, gone) })
		err = s.View(t.Context(), func(tx store.Tx) error {
			_, err := tx.Get(kind, gone)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: Get after Delete: %v, want ErrNotFound", kind, err)
		}
		_, err = s.Update(t.Context(), func(tx store.Tx) error { return tx.Delete(kind, gone) })
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: second Delete: %v, want ErrNotFound", kind, err)
		}
		if got := names(t, s, kind); len(got) != 2 {
			t.Fatalf("%s: %d objects left, want 2", kind, len(got))
		}
	}
}

// testTypedHelpers: Get, List and LoadState decode what Put encoded.
func testTypedHelpers(t *testing.T, s store.Store) {
	st := baseState()
	rev := put(t, s, st.Objects()...) // Put sets Meta.Revision on st's objects
	err := s.View(t.Context(), func(tx store.Tx) error {
		dc, err := store.Get[model.Datacenter](tx, "iad")
		if err != nil {
			return err
		}
		if d := cmp.Diff(&st.Datacenters[1], dc); d != "" {
			t.Errorf("Get datacenter (-want +got):\n%s", d)
		}
		if _, err := store.Get[model.Zone](tx, "nope."); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get of a missing zone: %v, want ErrNotFound", err)
		}
		regions, err := store.List[model.Region](tx)
		if d := cmp.Diff(st.Regions, regions); d != "" {
			t.Errorf("List regions (-want +got):\n%s", d)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, gotRev, err := store.LoadState(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if gotRev != rev {
		t.Errorf("LoadState revision %d, want %d", gotRev, rev)
	}
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("LoadState (-want +got):\n%s", d)
	}
}

// testRevision: 0 when empty, +1 per writing Update whatever it wrote,
// unchanged by reads and by failed Updates; tx.Revision is the revision a
// View reads at and the one an Update commits as.
func testRevision(t *testing.T, s store.Store) {
	if rev := revision(t, s); rev != 0 {
		t.Fatalf("empty store at revision %d, want 0", rev)
	}
	var txRev int64
	rev := update(t, s, func(tx store.Tx) error {
		txRev = tx.Revision()
		return store.Put(tx, sample(model.KindRegion, 0), 0)
	})
	if rev != 1 || txRev != 1 || revision(t, s) != 1 {
		t.Fatalf("first write: Update returned %d, tx.Revision %d, Revision %d; want 1", rev, txRev, revision(t, s))
	}
	rev = put(t, s, sample(model.KindRegion, 1), sample(model.KindRegion, 2), sample(model.KindZone, 0))
	if rev != 2 {
		t.Fatalf("three Puts in one Update: revision %d, want 2", rev)
	}
	rev = update(t, s, func(tx store.Tx) error {
		_, err := tx.Get(model.KindRegion, "r00")
		return err
	})
	if rev != 2 || revision(t, s) != 2 {
		t.Fatalf("read-only Update: revision %d/%d, want 2", rev, revision(t, s))
	}
	if _, err := s.Update(t.Context(), func(tx store.Tx) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Fatalf("failing Update returned %v, want fn's error", err)
	}
	if rev := revision(t, s); rev != 2 {
		t.Fatalf("after a failed Update: revision %d, want 2", rev)
	}
	err := s.View(t.Context(), func(tx store.Tx) error {
		txRev = tx.Revision()
		return nil
	})
	if err != nil || txRev != 2 {
		t.Fatalf("View: tx.Revision %d (err %v), want 2", txRev, err)
	}
	update(t, s, func(tx store.Tx) error { return tx.Delete(model.KindRegion, "r00") })
	if rev := revision(t, s); rev != 3 {
		t.Fatalf("a Delete: revision %d, want 3", rev)
	}
}

// testIfRevision: the optimistic-concurrency modes of Put and Delete.
func testIfRevision(t *testing.T, s store.Store) {
	dc := sample(model.KindDatacenter, 0).(*model.Datacenter)
	try := func(fn func(tx store.Tx) error) error {
		_, err := s.Update(t.Context(), fn)
		return err
	}
	if err := try(func(tx store.Tx) error { return store.Put(tx, dc, 5) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Put ifRevision>0 of a missing object: %v, want ErrNotFound", err)
	}
	if err := try(func(tx store.Tx) error { return store.Put(tx, dc, -1) }); err != nil {
		t.Fatalf("create with ifRevision<0: %v", err)
	}
	created := dc.Revision
	if err := try(func(tx store.Tx) error { return store.Put(tx, dc, -1) }); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	if err := try(func(tx store.Tx) error { return store.Put(tx, dc, created+7) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Put with a wrong revision: %v, want ErrConflict", err)
	}
	dc.Drain = true
	if err := try(func(tx store.Tx) error { return store.Put(tx, dc, created) }); err != nil {
		t.Fatalf("Put with the right revision: %v", err)
	}
	if dc.Revision != created+1 {
		t.Fatalf("updated object at revision %d, want %d", dc.Revision, created+1)
	}
	if err := try(func(tx store.Tx) error { return store.Put(tx, dc, created) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Put with a stale revision: %v, want ErrConflict", err)
	}
	if err := try(func(tx store.Tx) error { return store.Delete(tx, model.KindDatacenter, dc.Name, created) }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Delete with a stale revision: %v, want ErrConflict", err)
	}
	if err := try(func(tx store.Tx) error { return store.Delete(tx, model.KindDatacenter, dc.Name, dc.Revision) }); err != nil {
		t.Fatalf("Delete with the right revision: %v", err)
	}
	if err := try(func(tx store.Tx) error { return store.Delete(tx, model.KindDatacenter, dc.Name, 0) }); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete of a missing object: %v, want ErrNotFound", err)
	}
	if err := try(func(tx store.Tx) error { return store.Put(tx, &model.Datacenter{Name: "bad name"}, 0) }); !errors.Is(err, model.ErrInvalid) {
		t.Fatalf("Put of an invalid object: %v, want model.ErrInvalid", err)
	}
}

// testFailedUpdate: an Update whose fn fails after some writes leaves no
// trace: not its Puts, not its Deletes, not a revision.
func testFailedUpdate(t *testing.T, s store.Store) {
	put(t, s, sample(model.KindRegion, 0), sample(model.KindRegion, 1))
	before, rev := snapshot(t, s), revision(t, s)
	_, err := s.Update(t.Context(), func(tx store.Tx) error {
		changed := sample(model.KindRegion, 0).(*model.Region)
		changed.Countries = []string{"JP"}
		for _, o := range []model.Object{changed, sample(model.KindRegion, 5), sample(model.KindZone, 0)} {
			if err := store.Put(tx, o, 0); err != nil {
				return err
			}
		}
		if err := tx.Delete(model.KindRegion, "r01"); err != nil {
			return err
		}
		if _, err := tx.Get(model.KindRegion, "r05"); err != nil {
			t.Errorf("a transaction does not see its own Put: %v", err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	if d := cmp.Diff(before, snapshot(t, s)); d != "" || revision(t, s) != rev {
		t.Fatalf("a failed Update changed the store (revision %d→%d):\n%s", rev, revision(t, s), d)
	}
}

// testPanickingUpdate: a panic in fn reaches the caller, writes nothing
// and leaves the store usable.
func testPanickingUpdate(t *testing.T, s store.Store) {
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic in fn did not reach the caller")
			}
		}()
		_, _ = s.Update(t.Context(), func(tx store.Tx) error {
			if err := store.Put(tx, sample(model.KindRegion, 0), 0); err != nil {
				return err
			}
			panic("in fn")
		})
	}()
	if got := names(t, s, model.KindRegion); len(got) != 0 || revision(t, s) != 0 {
		t.Fatalf("after a panic: regions %q, revision %d; want none and 0", got, revision(t, s))
	}
	if rev := put(t, s, sample(model.KindRegion, 1)); rev != 1 {
		t.Fatalf("write after a panic: revision %d, want 1", rev)
	}
}

// testViewReadOnly: writes fail inside View and leave nothing behind.
func testViewReadOnly(t *testing.T, s store.Store) {
	put(t, s, sample(model.KindRegion, 0))
	before := snapshot(t, s)
	err := s.View(t.Context(), func(tx store.Tx) error {
		if err := tx.Put(model.KindRegion, "r09", []byte(`{"name":"r09"}`)); err == nil {
			t.Error("Put in a View succeeded")
		}
		if err := tx.Delete(model.KindRegion, "r00"); err == nil {
			t.Error("Delete in a View succeeded")
		}
		if err := store.AppendEvent(tx, &model.Event{Type: "x"}); err == nil {
			t.Error("AppendEvent in a View succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, snapshot(t, s)); d != "" || revision(t, s) != 1 {
		t.Fatalf("View wrote:\n%s", d)
	}
}

// testCancelledContext: a cancelled context stops View and Update before
// they run fn.
func testCancelledContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	if err := s.View(ctx, func(store.Tx) error { called = true; return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("View: %v, want context.Canceled", err)
	}
	_, err := s.Update(ctx, func(tx store.Tx) error {
		called = true
		return store.Put(tx, sample(model.KindRegion, 0), 0)
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update: %v, want context.Canceled", err)
	}
	if called || revision(t, s) != 0 {
		t.Fatalf("fn called (%v) or store written (revision %d) with a cancelled context", called, revision(t, s))
	}
}

// testKindRevision: a kind's revision is that of the last commit that
// wrote it; other kinds', failed Updates and reads leave it; an Update
// that wrote the kind cannot tell it. Backends that do not record kind
// revisions skip the case.
func testKindRevision(t *testing.T, s store.Store) {
	kindRev := func(kind model.Kind) int64 {
		t.Helper()
		var rev int64
		var ok bool
		err := s.View(t.Context(), func(tx store.Tx) error {
			rev, ok = store.KindRevision(tx, kind)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Skip("the backend records no kind revisions")
		}
		return rev
	}
	if r := kindRev(model.KindRegion); r != 0 {
		t.Fatalf("empty store: region at %d, want 0", r)
	}
	r1 := put(t, s, sample(model.KindRegion, 0))
	r2 := put(t, s, sample(model.KindZone, 0))
	if got := kindRev(model.KindRegion); got != r1 {
		t.Fatalf("region at %d, want %d (its write)", got, r1)
	}
	if got := kindRev(model.KindZone); got != r2 {
		t.Fatalf("zone at %d, want %d", got, r2)
	}
	r3 := update(t, s, func(tx store.Tx) error { return tx.Delete(model.KindRegion, "r00") })
	if got := kindRev(model.KindRegion); got != r3 {
		t.Fatalf("region at %d after a delete at %d", got, r3)
	}
	_, _ = s.Update(t.Context(), func(tx store.Tx) error {
		if err := store.Put(tx, sample(model.KindZone, 1), 0); err != nil {
			return err
		}
		if _, ok := store.KindRevision(tx, model.KindZone); ok {
			t.Error("an Update that wrote zones tells their revision")
		}
		if rev, ok := store.KindRevision(tx, model.KindRegion); !ok || rev != r3 {
			t.Errorf("in an Update: region at %d (%v), want %d", rev, ok, r3)
		}
		return errBoom
	})
	if got := kindRev(model.KindZone); got != r2 {
		t.Fatalf("zone at %d after a failed Update, want %d", got, r2)
	}
}
