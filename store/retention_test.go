package store_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/meridian-gslb/meridian/checker/fleet"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

const day = 24 * time.Hour

var pruneNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// audit is an audit event at now + d.
func audit(d time.Duration) model.Event {
	return model.Event{Type: "update", Object: "service/app.example.org./A", Actor: "api", At: pruneNow.Add(d)}
}

// verdict is a verdict event on object at now + d.
func verdict(object, after string, d time.Duration) model.Event {
	return model.Event{Type: model.EventVerdict, Object: object, Actor: "fleet", After: after, At: pruneNow.Add(d)}
}

// appendEvents appends evs in order, n per transaction (all in one when
// n is 0), and returns them with their sequence numbers.
func appendEvents(t testing.TB, s store.Store, n int, evs ...model.Event) []model.Event {
	t.Helper()
	out := slices.Clone(evs)
	if n <= 0 {
		n = len(out)
	}
	for chunk := range slices.Chunk(out, max(n, 1)) {
		_, err := s.Update(t.Context(), func(tx store.Tx) error {
			for i := range chunk {
				if err := store.AppendEvent(tx, &chunk[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// seqs lists the sequence numbers of the events in the store.
func seqs(t testing.TB, s store.Store) []int64 {
	t.Helper()
	evs, err := store.ListEvents(t.Context(), s, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func prune(t testing.TB, s store.Store, r store.Retention) int {
	t.Helper()
	n, err := store.PruneEvents(t.Context(), s, r, pruneNow)
	if err != nil {
		t.Fatalf("PruneEvents: %v", err)
	}
	return n
}

// TestPruneEventsByAge: audit events older than MaxAge go; verdict
// events are kept for MinVerdictAge whatever MaxAge says, and the latest
// one before that of each object stays; the newest event stays even when
// it is old.
func TestPruneEventsByAge(t *testing.T) {
	s := openBolt(t)
	appendEvents(t, s, 0,
		audit(-10*day),                         // 1: older than 7 days: goes
		verdict("endpoint/a", "down", -40*day), // 2: before the horizon, not the latest: goes
		verdict("endpoint/a", "up", -38*day),   // 3: a's anchor: stays
		audit(-8*day),                          // 4: goes
		verdict("endpoint/b", "down", -20*day), // 5: within MinVerdictAge: stays
		audit(-6*day),                          // 6: stays
		audit(-1*day),                          // 7: stays
		audit(-9*day),                          // 8: old, but the newest: stays
	)
	if n := prune(t, s, store.Retention{MaxAge: 7 * day}); n != 3 {
		t.Errorf("deleted %d, want 3", n)
	}
	if got, want := seqs(t, s), []int64{3, 5, 6, 7, 8}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if n := prune(t, s, store.Retention{MaxAge: 7 * day}); n != 0 {
		t.Errorf("second prune deleted %d, want 0", n)
	}
}

// TestPruneEventsByCount: beyond MaxEvents the oldest audit events go,
// however young; verdict events the availability needs never do, even
// when the log stays above MaxEvents.
func TestPruneEventsByCount(t *testing.T) {
	s := openBolt(t)
	var evs []model.Event
	for i := range 25 {
		d := time.Duration(i-25) * time.Hour
		if i == 5 || i >= 20 { // seq 6 and 21-25
			evs = append(evs, verdict("endpoint/a", []string{"up", "down"}[i%2], d))
		} else {
			evs = append(evs, audit(d))
		}
	}
	appendEvents(t, s, 0, evs...)
	keep := store.Retention{MaxAge: 1000 * day}

	keep.MaxEvents = 10
	if n := prune(t, s, keep); n != 15 {
		t.Errorf("MaxEvents 10: deleted %d, want 15", n)
	}
	if got, want := seqs(t, s), []int64{6, 17, 18, 19, 20, 21, 22, 23, 24, 25}; !slices.Equal(got, want) {
		t.Errorf("MaxEvents 10: kept %v, want %v", got, want)
	}

	keep.MaxEvents = 3
	if n := prune(t, s, keep); n != 4 {
		t.Errorf("MaxEvents 3: deleted %d, want 4", n)
	}
	if got, want := seqs(t, s), []int64{6, 21, 22, 23, 24, 25}; !slices.Equal(got, want) {
		t.Errorf("MaxEvents 3: kept %v, want only the verdict events %v", got, want)
	}
}

// TestPruneEventsKeepsUndecodable: an event that is not JSON stays, the
// rest is pruned all the same, and the error says so.
func TestPruneEventsKeepsUndecodable(t *testing.T) {
	s := openBolt(t)
	appendEvents(t, s, 0, audit(-50*day), audit(-49*day), audit(-48*day), audit(0))
	if _, err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.Put(model.KindEvent, model.EventName(2), []byte("not json"))
	}); err != nil {
		t.Fatal(err)
	}
	n, err := store.PruneEvents(t.Context(), s, store.Retention{}, pruneNow)
	if n != 2 || err == nil || !strings.Contains(err.Error(), "1 events could not be decoded") {
		t.Errorf("PruneEvents: %d, %v; want 2 and an error about the bad event", n, err)
	}
	var names []string
	if err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.List(model.KindEvent, "", 0, func(name string, _ []byte) error {
			names = append(names, strings.TrimLeft(name, "0"))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"2", "4"}; !slices.Equal(names, want) {
		t.Errorf("kept %v, want %v", names, want)
	}
}

// availabilityLog is 60 days of events ending at pruneNow: endpoints
// flapping at random, an outage that began 40 days ago and never ended,
// an endpoint last heard of 60 days ago, a clock that stepped back, an
// endpoint no service has any more, and audit events throughout.
func availabilityLog() ([]model.Service, []model.Event) {
	check := &model.Check{Type: "http", Path: "/health", Interval: model.Duration(10 * time.Second)}
	services := []model.Service{
		{Name: "app.example.org.", Type: "A", Check: check, Endpoints: []model.Endpoint{
			{Datacenter: "fra", Address: "192.0.2.1"}, {Datacenter: "fra", Address: "192.0.2.2"},
			{Datacenter: "iad", Address: "192.0.2.3"}, {Datacenter: "iad", Address: "192.0.2.4"},
		}},
		{Name: "www.example.org.", Type: "A", Check: check, Endpoints: []model.Endpoint{
			{Datacenter: "sin", Address: "198.51.100.1"}, {Datacenter: "sin", Address: "198.51.100.2"},
		}},
	}
	app, www := services[0].ObjectName(), services[1].ObjectName()
	obj := fleet.EndpointObject
	var evs []model.Event
	// Two endpoints flap at random for 60 days, one of them rarely.
	rng := rand.New(rand.NewPCG(1, 2))
	for _, f := range []struct {
		object string
		mean   time.Duration
	}{{obj(app, "192.0.2.1"), 3 * time.Hour}, {obj(www, "198.51.100.1"), 4 * day}} {
		health := "up"
		for d := -60 * day; d < 0; d += time.Duration(rng.Int64N(int64(2 * f.mean))) {
			evs = append(evs, verdict(f.object, health, d))
			health = map[string]string{"up": "down", "down": "up"}[health]
		}
	}
	// Down 40 days ago and never back: down over every window.
	evs = append(evs,
		verdict(obj(app, "192.0.2.2"), "up", -50*day),
		verdict(obj(app, "192.0.2.2"), "down", -40*day))
	// Last heard of 60 days ago: up.
	evs = append(evs, verdict(obj(app, "192.0.2.3"), "up", -60*day))
	// The clock stepped back: the later event in the log is the earlier
	// one in time, so the state 36 days ago is the down of 37 days ago.
	evs = append(evs,
		verdict(obj(app, "192.0.2.4"), "up", -45*day),
		verdict(obj(app, "192.0.2.4"), "down", -37*day),
		verdict(obj(app, "192.0.2.4"), "up", -39*day),
		verdict(obj(app, "192.0.2.4"), "up", -3*day))
	// An endpoint no service has any more, and a removed one's unknown.
	evs = append(evs,
		verdict(obj(app, "192.0.2.99"), "down", -55*day),
		verdict(obj(app, "192.0.2.99"), "unknown", -52*day))
	// Audit events every 7 hours.
	for d := -60 * day; d < 0; d += 7 * time.Hour {
		evs = append(evs, audit(d))
	}
	// The log is in time order, but for the clock step.
	slices.SortStableFunc(evs, func(a, b model.Event) int {
		if a.Object == obj(app, "192.0.2.4") && b.Object == a.Object {
			return 0
		}
		return a.At.Compare(b.At)
	})
	return services, evs
}

// TestPruneEventsKeepsAvailability: the availability report of
// checker/fleet is the same before and after pruning with the default
// policy, now and up to the end of the margin; and what is kept is
// exactly the verdict events of the last 35 days, each object's latest
// before them, the audit events of the last 35 days.
func TestPruneEventsKeepsAvailability(t *testing.T) {
	s := openBolt(t)
	services, evs := availabilityLog()
	evs = appendEvents(t, s, 50, evs...)
	all, err := store.ListEvents(t.Context(), s, 0, 0)
	if err != nil {
		t.Fatal(err)
	}

	// The kept set, worked out independently.
	horizon := pruneNow.Add(-store.MinVerdictAge)
	latest := map[string]model.Event{}
	for _, e := range evs {
		if e.Type != model.EventVerdict || !e.At.Before(horizon) {
			continue
		}
		if l, ok := latest[e.Object]; !ok || cmp.Or(e.At.Compare(l.At), cmp.Compare(e.Seq, l.Seq)) > 0 {
			latest[e.Object] = e
		}
	}
	var want []int64
	for _, e := range evs {
		young := !e.At.Before(pruneNow.Add(-store.DefaultMaxAge))
		if e.Type == model.EventVerdict {
			young = !e.At.Before(horizon)
		}
		if young || latest[e.Object].Seq == e.Seq && e.Type == model.EventVerdict || e.Seq == evs[len(evs)-1].Seq {
			want = append(want, e.Seq)
		}
	}

	n := prune(t, s, store.Retention{})
	got := seqs(t, s)
	t.Logf("%d events, %d deleted, %d kept (%d objects with an anchor)", len(all), n, len(got), len(latest))
	if !slices.Equal(got, want) {
		t.Errorf("kept %v\nwant %v", got, want)
	}
	if n != len(all)-len(want) || n < len(all)/3 {
		t.Errorf("deleted %d of %d", n, len(all))
	}

	kept, err := store.ListEvents(t.Context(), s, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The report is the same now, and as long as the margin lasts.
	for _, later := range []time.Duration{0, time.Hour, 4 * day, store.MinVerdictAge - 30*day} {
		at := pruneNow.Add(later)
		before := fleet.ComputeAvailability(all, services, at)
		after := fleet.ComputeAvailability(kept, services, at)
		if d := gocmp.Diff(before, after); d != "" {
			t.Errorf("availability %v after the prune differs (-before +after):\n%s", later, d)
		}
		if later == 0 {
			for _, row := range before.Endpoints {
				t.Logf("%s %s: 24h %.5f, 7d %.5f, 30d %.5f", row.Service, row.Name,
					row.Windows["24h"].Availability, row.Windows["7d"].Availability, row.Windows["30d"].Availability)
			}
		}
	}
	// Sanity of the scenario: the outage that began 40 days ago is the
	// whole 30 days, which only the kept anchor can tell.
	rep := fleet.ComputeAvailability(kept, services, pruneNow)
	for _, row := range rep.Endpoints {
		if row.Name == "192.0.2.2" && row.Windows["30d"].Availability != 0 {
			t.Errorf("192.0.2.2 over 30d: %v, want 0", row.Windows["30d"].Availability)
		}
	}
}

// headOf is what a full decode finds of an event's at, type and object.
func headOf(t testing.TB, b []byte) (time.Time, string, string) {
	t.Helper()
	var e model.Event
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return e.At, e.Type, e.Object
}

// checkHead: DecodeEventHead agrees with a full decode of b.
func checkHead(t testing.TB, b []byte) {
	t.Helper()
	at, typ, obj, err := store.DecodeEventHead(b)
	wantAt, wantTyp, wantObj := headOf(t, b)
	if err != nil || !at.Equal(wantAt) || typ != wantTyp || obj != wantObj {
		t.Errorf("%s:\nhead %v %q %q, %v; want %v %q %q", b, at, typ, obj, err, wantAt, wantTyp, wantObj)
	}
}

// TestDecodeEventHead: the shortcut that reads an event's head without
// its large fields agrees with a full decode, for the store's own
// encoding with misleading text in every field, and for other orders of
// keys (which it must notice and decode in full).
func TestDecodeEventHead(t *testing.T) {
	tricky := `x","type":"update",,"object":"y\\","at":"` + "\u0022,\"object\":"
	e := model.Event{Meta: model.Meta{Revision: 7, ManagedBy: tricky}, Seq: 9, At: pruneNow, Type: model.EventVerdict,
		Object: "endpoint/" + tricky, Actor: tricky, Detail: tricky, Before: tricky, After: `{"object":"z"}`}
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	checkHead(t, b)
	at := `"at":"2026-03-01T12:00:00Z"`
	for _, j := range []string{
		`{` + at + `,"type":"verdict","object":"o","actor":"a","detail":"d"}`, // the store's order
		`{` + at + `,"type":"verdict","actor":"a","object":"o"}`,              // object after the cut
		`{"type":"verdict","actor":"a",` + at + `,"object":"o"}`,              // at and object after it
		`{` + at + `,"detail":"d","type":"verdict","object":"o"}`,
		`{"detail":"d",` + at + `,"type":"verdict","object":"o"}`,
		`{` + at + `,"type":"update","object":"o","actor":"a","type":"verdict"}`, // a later duplicate wins
		`{` + at + `,"type":"verdict","object":"o"}`,                             // no tail at all
	} {
		checkHead(t, []byte(j))
	}
	if _, _, _, err := store.DecodeEventHead([]byte(`{"at":"x","actor":"a"}`)); err == nil {
		t.Error("a bad time decoded")
	}
}

// FuzzDecodeEventHead: for any field values, the head of an event as the
// store encodes it is what a full decode finds.
func FuzzDecodeEventHead(f *testing.F) {
	f.Add("verdict", "endpoint/app.example.org./A/192.0.2.1", "fleet", "reason", "up", "down", int64(0))
	f.Add(`a","type":"b`, `,"object":`, `,"at":`, `\"`, "", `{"type":"x"}`, int64(1<<40))
	f.Fuzz(func(t *testing.T, typ, object, actor, detail, before, after string, ns int64) {
		e := model.Event{Seq: 1, At: time.Unix(0, ns).UTC(), Type: typ, Object: object, Actor: actor,
			Detail: detail, Before: before, After: after}
		b, err := json.Marshal(&e)
		if err != nil {
			t.Skip()
		}
		checkHead(t, b)
	})
}

// plainStore hides the Sequencer of its backend's transactions, like a
// backend without one: AppendEvent then numbers after the last event.
type plainStore struct{ store.Store }

type plainTx struct{ store.Tx }

func (p plainStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return p.Store.View(ctx, func(tx store.Tx) error { return fn(plainTx{tx}) })
}

func (p plainStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	return p.Store.Update(ctx, func(tx store.Tx) error { return fn(plainTx{tx}) })
}

// TestPruneEventsSequenceContinues: after a prune, AppendEvent goes on
// from the last number it gave, with and without a Sequencer; gaps stay
// gaps.
func TestPruneEventsSequenceContinues(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    store.Store
	}{{"bolt", openBolt(t)}, {"no sequencer", plainStore{openBolt(t)}}} {
		t.Run(tc.name, func(t *testing.T) {
			var evs []model.Event
			for i := range 30 {
				evs = append(evs, audit(time.Duration(i-100)*day))
			}
			appendEvents(t, tc.s, 7, evs...)
			if n := prune(t, tc.s, store.Retention{}); n != 29 {
				t.Errorf("deleted %d, want 29", n)
			}
			if got := seqs(t, tc.s); !slices.Equal(got, []int64{30}) {
				t.Fatalf("kept %v, want the newest, 30", got)
			}
			more := appendEvents(t, tc.s, 0, audit(0), audit(0))
			if more[0].Seq != 31 || more[1].Seq != 32 {
				t.Errorf("after the prune: %d and %d, want 31 and 32", more[0].Seq, more[1].Seq)
			}
			page, err := store.ListEvents(t.Context(), tc.s, 0, 2)
			if err != nil || len(page) != 2 || page[0].Seq != 30 || page[1].Seq != 31 {
				t.Errorf("ListEvents(0, 2) across the gap: %v, %v", page, err)
			}
		})
	}
}

// countingStore records how many deletions each of its Updates made.
type countingStore struct {
	store.Store
	mu      sync.Mutex
	deletes []int
	took    []time.Duration
}

type countingTx struct {
	store.Tx
	n *int
}

func (c *countingTx) Delete(kind model.Kind, name string) error {
	*c.n++
	return c.Tx.Delete(kind, name)
}

func (c *countingStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	var n int
	start := time.Now()
	rev, err := c.Store.Update(ctx, func(tx store.Tx) error {
		n = 0
		return fn(&countingTx{Tx: tx, n: &n})
	})
	took := time.Since(start)
	c.mu.Lock()
	c.deletes = append(c.deletes, n)
	c.took = append(c.took, took)
	c.mu.Unlock()
	return rev, err
}

// TestPruneEventsBoundedTransactions: no transaction deletes more than
// Batch events (DefaultPruneBatch by default), oldest first; a cancelled
// prune stops between transactions with what it deleted so far.
func TestPruneEventsBoundedTransactions(t *testing.T) {
	var evs []model.Event
	for i := range 2500 {
		evs = append(evs, audit(-40*day+time.Duration(i)*time.Minute))
	}
	for _, tc := range []struct {
		batch int
		want  []int
	}{
		{0, []int{1000, 1000, 499}},
		{128, append(slices.Repeat([]int{128}, 19), 2499-19*128)},
	} {
		t.Run(fmt.Sprint("batch ", tc.batch), func(t *testing.T) {
			cs := &countingStore{Store: openBolt(t)}
			appendEvents(t, cs.Store, 500, evs...)
			start := time.Now()
			if n := prune(t, cs, store.Retention{Batch: tc.batch}); n != 2499 {
				t.Errorf("deleted %d, want 2499", n)
			}
			t.Logf("prune of 2,499 events: %v; %d transactions, the longest %v", time.Since(start), len(cs.deletes), slices.Max(cs.took))
			if !slices.Equal(cs.deletes, tc.want) {
				t.Errorf("deletions per transaction %v, want %v", cs.deletes, tc.want)
			}
		})
	}

	// Cancel after the first transaction: the oldest thousand are gone.
	cs := &countingStore{Store: openBolt(t)}
	appendEvents(t, cs.Store, 500, evs...)
	ctx, cancel := context.WithCancel(t.Context())
	stop := &cancelAfterUpdate{Store: cs.Store, cancel: cancel}
	n, err := store.PruneEvents(ctx, stop, store.Retention{}, pruneNow)
	if n != 1000 || err == nil {
		t.Errorf("cancelled prune: %d, %v; want 1000 and context.Canceled", n, err)
	}
	if got := seqs(t, cs.Store); got[0] != 1001 || len(got) != 1500 {
		t.Errorf("after a cancelled prune: %d events from %d, want 1500 from 1001", len(got), got[0])
	}
}

// cancelAfterUpdate cancels its context after its first Update.
type cancelAfterUpdate struct {
	store.Store
	cancel context.CancelFunc
}

func (c *cancelAfterUpdate) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	defer c.cancel()
	return c.Store.Update(ctx, fn)
}

// TestPruneEventsReusesFreePages: under a steady load of appends and
// prunes the data file stops growing, because bbolt reuses the pages
// the prunes free; without prunes it grows with every round.
func TestPruneEventsReusesFreePages(t *testing.T) {
	const (
		rounds    = 40
		perRound  = 500 // events per round, appended 25 per transaction
		maxEvents = 2000
	)
	filler := strings.Repeat("x", 900) // an object's JSON, about
	load := func(s *store.Bolt, pruned bool) (sizes, highs []int64) {
		for range rounds {
			evs := make([]model.Event, perRound)
			for i := range evs {
				evs[i] = model.Event{Type: "update", Object: "service/app.example.org./A", Actor: "soak", After: filler}
			}
			appendEvents(t, s, 25, evs...)
			if pruned {
				if _, err := store.PruneEvents(t.Context(), s, store.Retention{MaxEvents: maxEvents}, time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			fi, err := os.Stat(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, fi.Size())
			highs = append(highs, store.BoltHighWater(s))
		}
		return sizes, highs
	}
	pruned := openBolt(t)
	sizes, highs := load(pruned, true)
	if n := len(seqs(t, pruned)); n != maxEvents {
		t.Errorf("%d events left, want %d", n, maxEvents)
	}
	if err := store.CheckBolt(pruned); err != nil {
		t.Errorf("bbolt check: %v", err)
	}
	grown, grownHighs := load(openBolt(t), false)
	kib := func(v []int64, i int) int64 { return v[i] / 1024 }
	t.Logf("with pruning to %d events, after rounds 1/10/20/30/40: file %d/%d/%d/%d/%d KiB, in use %d/%d/%d/%d/%d KiB, %d free pages at the end",
		maxEvents, kib(sizes, 0), kib(sizes, 9), kib(sizes, 19), kib(sizes, 29), kib(sizes, 39),
		kib(highs, 0), kib(highs, 9), kib(highs, 19), kib(highs, 29), kib(highs, 39), store.BoltFreePages(pruned))
	t.Logf("without: file %d/%d/%d/%d/%d KiB, in use %d/%d/%d/%d/%d KiB",
		kib(grown, 0), kib(grown, 9), kib(grown, 19), kib(grown, 29), kib(grown, 39),
		kib(grownHighs, 0), kib(grownHighs, 9), kib(grownHighs, 19), kib(grownHighs, 29), kib(grownHighs, 39))

	// From round 10 on, the log holds maxEvents events after each prune:
	// the file must not grow from then on.
	if last, settled := sizes[rounds-1], slices.Max(sizes[:10]); last > settled {
		t.Errorf("file grew from %d to %d bytes after the log stopped growing", settled, last)
	}
	if last, settled := highs[rounds-1], slices.Max(highs[:10]); last > settled {
		t.Errorf("pages in use grew from %d to %d bytes after the log stopped growing", settled, last)
	}
	// Events are appended in name order, so the event bucket fills its
	// pages (bbolt's default would split them half full: about 2 bytes on
	// disk per byte of JSON).
	ev := model.Event{Seq: 12345, At: time.Now(), Type: "update", Object: "service/app.example.org./A", Actor: "soak", After: filler}
	js, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	perEvent := float64(grownHighs[rounds-1]) / (rounds * perRound)
	t.Logf("without pruning: %.0f bytes in use per event of %d bytes of JSON", perEvent, len(js))
	if perEvent > 1.6*float64(len(js)) {
		t.Errorf("%.0f bytes in use per event of %d bytes: pages are not filled", perEvent, len(js))
	}
	if grownHighs[rounds-1] < 4*highs[rounds-1] {
		t.Errorf("without pruning the file uses %d bytes, with %d: the load is too light to show anything",
			grownHighs[rounds-1], highs[rounds-1])
	}
}

// TestPrunerRun: Run prunes at once and logs what it deleted at info
// level; a run that deletes nothing logs nothing; Run returns nil when
// its context ends.
func TestPrunerRun(t *testing.T) {
	s := openBolt(t)
	appendEvents(t, s, 0, audit(-40*day), audit(-39*day), audit(-1*day))
	var buf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	p := store.NewPruner(s, store.PrunerConfig{Logger: log, Now: func() time.Time { return pruneNow }, Interval: time.Hour})

	ctx, cancel := context.WithCancel(t.Context())
	pruned := s.Watch(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-pruned:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not prune at once")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := seqs(t, s); !slices.Equal(got, []int64{3}) {
		t.Errorf("kept %v, want [3]", got)
	}
	mu.Lock()
	out := buf.String()
	buf.Reset()
	mu.Unlock()
	if !strings.Contains(out, "level=INFO msg=\"event log pruned\" deleted=2") {
		t.Errorf("log:\n%s\nwant an info line with deleted=2", out)
	}
	if !p.Prune(t.Context()) {
		t.Error("Prune with nothing to do reported the end")
	}
	if buf.Len() != 0 {
		t.Errorf("a prune that deleted nothing logged:\n%s", buf.String())
	}
	_ = s.Close()
	if p.Prune(t.Context()) {
		t.Error("Prune on a closed store did not report the end")
	}
	if buf.Len() != 0 {
		t.Errorf("a prune of a closed store logged:\n%s", buf.String())
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// BenchmarkPruneEventsSteady is the pruner's steady state: a log of
// 100,000 events of about 1 KiB, nothing to delete. The read it costs
// every 10 minutes.
func BenchmarkPruneEventsSteady(b *testing.B) {
	s := openBolt(b)
	evs := make([]model.Event, 100_000)
	for i := range evs {
		evs[i] = model.Event{Type: "update", Object: "service/app.example.org./A", Actor: "bench",
			After: strings.Repeat("x", 900), At: pruneNow.Add(-time.Duration(len(evs)-i) * time.Second)}
	}
	appendEvents(b, s, 1000, evs...)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n, err := store.PruneEvents(b.Context(), s, store.Retention{MaxEvents: 200_000}, pruneNow); err != nil || n != 0 {
			b.Fatalf("PruneEvents: %d, %v", n, err)
		}
	}
}
