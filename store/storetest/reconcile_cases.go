package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

var (
	srcFile    = model.SourceStateFile
	ignoreMeta = cmpopts.IgnoreTypes(model.Meta{})
)

func reconcile(t *testing.T, s store.Store, source string, st *model.State, opts store.ReconcileOptions) (*store.Diff, int64) {
	t.Helper()
	d, rev, err := store.Reconcile(t.Context(), s, source, st, opts)
	if err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	return d, rev
}

// changes renders a diff as "action kind/name" lines in order.
func changes(d *store.Diff) []string {
	var out []string
	for _, c := range d.Changes {
		out = append(out, c.Action+" "+string(c.Kind)+"/"+c.Name)
	}
	return out
}

func loadState(t *testing.T, s store.Store) *model.State {
	t.Helper()
	st, _, err := store.LoadState(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func events(t *testing.T, s store.Store) []model.Event {
	t.Helper()
	ev, err := store.ListEvents(t.Context(), s, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// testReconcileCreate: into an empty store, everything is created in
// dependency order, marked with the source, in one revision with one event;
// the caller's state is not modified.
func testReconcileCreate(t *testing.T, s store.Store) {
	desired := baseState()
	d, rev := reconcile(t, s, srcFile, desired, store.ReconcileOptions{})
	want := []string{
		"create zone/example.org.", "create region/eu", "create region/us",
		"create datacenter/fra", "create datacenter/iad", "create service/app.example.org./A",
	}
	if got := changes(d); !slices.Equal(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
	if rev != 1 {
		t.Fatalf("revision %d, want 1 (one transaction)", rev)
	}
	if d := cmp.Diff(baseState(), desired); d != "" {
		t.Fatalf("Reconcile modified the desired state:\n%s", d)
	}
	got := loadState(t, s)
	if d := cmp.Diff(desired, got, ignoreMeta); d != "" {
		t.Fatalf("stored state (-desired +stored):\n%s", d)
	}
	for _, o := range got.Objects() {
		if m := o.GetMeta(); m.ManagedBy != srcFile || m.Revision != 1 {
			t.Errorf("%s %s: meta %+v, want managed by %s at revision 1", o.ObjectKind(), o.ObjectName(), *m, srcFile)
		}
	}
	for _, c := range d.Changes {
		if c.Before != nil || c.After == nil || c.After.GetMeta().ManagedBy != srcFile {
			t.Errorf("%s %s: Before %v, After %v", c.Action, c.Name, c.Before, c.After)
		}
	}
	// One audit event per change (what, before and after), then a summary.
	ev := events(t, s)
	if len(ev) != 7 {
		t.Fatalf("%d events, want 6 changes and a summary: %+v", len(ev), ev)
	}
	for i, c := range d.Changes {
		e := ev[i]
		if e.Type != store.ActionCreate || e.Object != string(c.Kind)+"/"+c.Name || e.Actor != srcFile || e.Before != "" || !strings.Contains(e.After, `"name"`) {
			t.Errorf("event %d = %+v, want a create of %s/%s by %s with the object after", i, e, c.Kind, c.Name, srcFile)
		}
	}
	if last := ev[6]; last.Type != "reconcile" || last.Actor != srcFile || !strings.Contains(last.Detail, "6 created, 0 updated, 0 deleted") {
		t.Fatalf("last event %+v, want a reconcile summary by %s saying 6 created", last, srcFile)
	}
}

// testReconcileIdempotent: the same state again writes nothing at all.
func testReconcileIdempotent(t *testing.T, s store.Store) {
	_, rev1 := reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	before := snapshot(t, s)
	d, rev2 := reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	if len(d.Changes) != 0 || rev2 != rev1 {
		t.Fatalf("second reconcile: changes %q, revision %d→%d; want none", changes(d), rev1, rev2)
	}
	if d := cmp.Diff(before, snapshot(t, s)); d != "" {
		t.Fatalf("second reconcile wrote:\n%s", d)
	}
}

// changedState is baseState with iad gone, fra moved, a new region and the
// service following.
func changedState() *model.State {
	st := baseState()
	st.Datacenters = st.Datacenters[:1]
	st.Datacenters[0].Location.Lat = 50.2
	st.Services[0].Endpoints = st.Services[0].Endpoints[:1]
	st.Regions = append([]model.Region{{Name: "ap", Continents: []string{"AS", "OC"}}}, st.Regions...) // name order, as stored
	return st
}

// testReconcileUpdateDelete: changed objects are updated, missing ones
// deleted, new ones created; Before and After say what changed; the event
// counts them; the actor is recorded.
func testReconcileUpdateDelete(t *testing.T, s store.Store) {
	reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	d, rev := reconcile(t, s, srcFile, changedState(), store.ReconcileOptions{Actor: "alice"})
	want := []string{
		"delete datacenter/iad",
		"create region/ap", "update datacenter/fra", "update service/app.example.org./A",
	}
	if got := changes(d); !slices.Equal(got, want) || rev != 2 {
		t.Fatalf("changes %q at revision %d, want %q at 2", got, rev, want)
	}
	fra := d.Changes[2]
	if fra.Before.(*model.Datacenter).Location.Lat != 50.1 || fra.After.(*model.Datacenter).Location.Lat != 50.2 {
		t.Errorf("update of fra: Before %+v, After %+v", fra.Before, fra.After)
	}
	if fra.After.GetMeta().Revision != 2 || d.Changes[0].After != nil {
		t.Errorf("After of an update at revision %d (want 2); After of a delete %v (want nil)", fra.After.GetMeta().Revision, d.Changes[0].After)
	}
	if diff := cmp.Diff(changedState(), loadState(t, s), ignoreMeta); diff != "" {
		t.Fatalf("stored state (-desired +stored):\n%s", diff)
	}
	ev := events(t, s)
	last := ev[len(ev)-1]
	if last.Type != "reconcile" || last.Actor != "alice" || !strings.Contains(last.Detail, "1 created, 2 updated, 1 deleted") {
		t.Fatalf("last event %+v, want alice's summary with 1 created, 2 updated, 1 deleted", last)
	}
	var updated int
	for _, e := range ev {
		if e.Type == "update" && e.Actor == "alice" {
			updated++
			if e.Before == "" || e.After == "" || e.Before == e.After {
				t.Errorf("update event %+v lacks distinct before and after", e)
			}
		}
	}
	if updated != 2 {
		t.Errorf("%d update events by alice, want 2", updated)
	}
}

// testReconcileDeleteOrder: an empty desired state deletes everything the
// source manages, referencing objects before what they reference.
func testReconcileDeleteOrder(t *testing.T, s store.Store) {
	reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	d, _ := reconcile(t, s, srcFile, &model.State{}, store.ReconcileOptions{})
	want := []string{
		"delete service/app.example.org./A", "delete datacenter/fra", "delete datacenter/iad",
		"delete region/eu", "delete region/us", "delete zone/example.org.",
	}
	if got := changes(d); !slices.Equal(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
	if st := loadState(t, s); len(st.Objects()) != 0 {
		t.Fatalf("left %d objects", len(st.Objects()))
	}
}

// apiDatacenter stores a data center as the API would.
func apiDatacenter(t *testing.T, s store.Store, name, region string) {
	t.Helper()
	dc := &model.Datacenter{Meta: model.Meta{ManagedBy: model.SourceAPI}, Name: name, Region: region, Location: model.Location{Lat: 1.3, Lon: 103.8}}
	put(t, s, dc)
}

// testReconcileKeep: what another source manages survives a reconcile
// that does not mention it, and the diff lists it as kept.
func testReconcileKeep(t *testing.T, s store.Store) {
	reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	apiDatacenter(t, s, "sin", "")
	rev := revision(t, s)
	d, rev2 := reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	if len(d.Changes) != 0 || rev2 != rev || !slices.Equal(d.Kept, []string{"datacenter/sin"}) {
		t.Fatalf("changes %q, kept %q, revision %d→%d; want no change and sin kept", changes(d), d.Kept, rev, rev2)
	}
	d, _ = reconcile(t, s, srcFile, changedState(), store.ReconcileOptions{})
	if !slices.Equal(d.Kept, []string{"datacenter/sin"}) || slices.Contains(changes(d), "delete datacenter/sin") {
		t.Fatalf("changes %q, kept %q; sin must be kept", changes(d), d.Kept)
	}
	if got := names(t, s, model.KindDatacenter); !slices.Equal(got, []string{"fra", "sin"}) {
		t.Fatalf("data centers %q, want fra and sin", got)
	}
}

// testReconcileAdopt: an object of another source named in the desired
// state changes hands, even when its content is the same.
func testReconcileAdopt(t *testing.T, s store.Store) {
	apiDatacenter(t, s, "fra", "")
	put(t, s, &model.Region{Meta: model.Meta{ManagedBy: model.SourceAPI}, Name: "eu", Continents: []string{"EU"}})
	d, _ := reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	want := []string{
		"create zone/example.org.", "adopt region/eu", "create region/us",
		"adopt datacenter/fra", "create datacenter/iad", "create service/app.example.org./A",
	}
	if got := changes(d); !slices.Equal(got, want) || len(d.Kept) != 0 {
		t.Fatalf("changes %q kept %q, want %q and nothing kept", got, d.Kept, want)
	}
	c := d.Changes[3]
	if c.Before.GetMeta().ManagedBy != model.SourceAPI || c.After.GetMeta().ManagedBy != srcFile {
		t.Errorf("adopt: Before managed by %q, After by %q", c.Before.GetMeta().ManagedBy, c.After.GetMeta().ManagedBy)
	}
	for _, o := range loadState(t, s).Objects() {
		if o.GetMeta().ManagedBy != srcFile {
			t.Errorf("%s %s still managed by %q", o.ObjectKind(), o.ObjectName(), o.GetMeta().ManagedBy)
		}
	}
	if d, _ := reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{}); len(d.Changes) != 0 {
		t.Fatalf("after adoption, changes %q, want none", changes(d))
	}
}

// testReconcileDryRun: a dry run reports exactly what the real run then
// does, and writes nothing.
func testReconcileDryRun(t *testing.T, s store.Store) {
	reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	apiDatacenter(t, s, "sin", "")
	before, rev := snapshot(t, s), revision(t, s)
	dry, dryRev := reconcile(t, s, srcFile, changedState(), store.ReconcileOptions{DryRun: true})
	if d := cmp.Diff(before, snapshot(t, s)); d != "" || dryRev != rev || revision(t, s) != rev {
		t.Fatalf("dry run wrote (revision %d→%d, reported %d):\n%s", rev, revision(t, s), dryRev, d)
	}
	real, _ := reconcile(t, s, srcFile, changedState(), store.ReconcileOptions{})
	if !slices.Equal(changes(dry), changes(real)) || !slices.Equal(dry.Kept, real.Kept) || len(dry.Changes) != 4 {
		t.Fatalf("dry run said %q kept %q; the real run did %q kept %q", changes(dry), dry.Kept, changes(real), real.Kept)
	}
	if d := cmp.Diff(dry.Changes, real.Changes, ignoreMeta); d != "" {
		t.Fatalf("dry run objects differ from the real run's (-dry +real):\n%s", d)
	}
}

// testReconcileInvalid: an invalid desired state is refused before
// anything is written, in a dry run too.
func testReconcileInvalid(t *testing.T, s store.Store) {
	reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	before, rev := snapshot(t, s), revision(t, s)
	bad := changedState()
	bad.Services[0].Endpoints = append(bad.Services[0].Endpoints, model.Endpoint{Datacenter: "nowhere", Address: "192.0.2.9"})
	bad.Regions = append(bad.Regions, model.Region{Name: "x", Countries: []string{"germany"}})
	for _, dry := range []bool{false, true} {
		_, _, err := store.Reconcile(t.Context(), s, srcFile, bad, store.ReconcileOptions{DryRun: dry})
		if !errors.Is(err, model.ErrInvalid) {
			t.Fatalf("dry run %v: %v, want model.ErrInvalid", dry, err)
		}
	}
	if _, _, err := store.Reconcile(t.Context(), s, "", baseState(), store.ReconcileOptions{}); err == nil {
		t.Fatal("Reconcile without a source succeeded")
	}
	if d := cmp.Diff(before, snapshot(t, s)); d != "" || revision(t, s) != rev {
		t.Fatalf("an invalid reconcile wrote:\n%s", d)
	}
}

// testReconcileReferences: the state that would result, with the objects
// of other sources, must be valid as a whole; otherwise nothing is written.
func testReconcileReferences(t *testing.T, s store.Store) {
	reconcile(t, s, srcFile, baseState(), store.ReconcileOptions{})
	// Another source relies on the file's region eu and zone example.org.
	apiDatacenter(t, s, "sin", "eu")
	svc := &model.Service{
		Meta: model.Meta{ManagedBy: model.SourceAPI}, Name: "api.example.org.", Type: "A",
		Endpoints: []model.Endpoint{{Datacenter: "sin", Address: "203.0.113.5"}},
	}
	put(t, s, svc)
	before, rev := snapshot(t, s), revision(t, s)

	noEU := baseState()
	noEU.Regions = noEU.Regions[1:]
	noEU.Datacenters[0].Region = ""
	noZone := &model.State{Regions: baseState().Regions}
	for name, st := range map[string]*model.State{"drop region eu": noEU, "drop the zone": noZone} {
		if err := st.Validate(); err != nil {
			t.Fatalf("%s: the desired state alone should be valid: %v", name, err)
		}
		_, _, err := store.Reconcile(t.Context(), s, srcFile, st, store.ReconcileOptions{})
		if !errors.Is(err, model.ErrInvalid) {
			t.Fatalf("%s: %v, want model.ErrInvalid: another source's objects depend on it", name, err)
		}
	}
	if d := cmp.Diff(before, snapshot(t, s)); d != "" || revision(t, s) != rev {
		t.Fatalf("a reconcile that broke references wrote:\n%s", d)
	}
	// Once the API's objects are gone, the same change goes through.
	update(t, s, func(tx store.Tx) error {
		if err := tx.Delete(model.KindService, svc.ObjectName()); err != nil {
			return err
		}
		return tx.Delete(model.KindDatacenter, "sin")
	})
	if d, _ := reconcile(t, s, srcFile, noEU, store.ReconcileOptions{}); !slices.Contains(changes(d), "delete region/eu") {
		t.Fatalf("changes %q, want region eu deleted", changes(d))
	}
}
