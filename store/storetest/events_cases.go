package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// testEvents: AppendEvent numbers events 1, 2, 3… across and within
// transactions, fills in At, and ListEvents pages through them.
func testEvents(t *testing.T, s store.Store) {
	const total = 25
	var seqs []int64
	appendN := func(n int) {
		update(t, s, func(tx store.Tx) error {
			for range n {
				e := &model.Event{Type: "test", Detail: fmt.Sprint("event ", len(seqs)+1)}
				if err := store.AppendEvent(tx, e); err != nil {
					return err
				}
				if e.At.IsZero() {
					t.Error("AppendEvent left At zero")
				}
				seqs = append(seqs, e.Seq)
			}
			return nil
		})
	}
	appendN(3) // several in one transaction
	for len(seqs) < total {
		appendN(1)
	}
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("sequence numbers %v, want 1..%d", seqs, total)
		}
	}

	all, err := store.ListEvents(t.Context(), s, 0, 0)
	if err != nil || len(all) != total {
		t.Fatalf("ListEvents(0, 0): %d events, %v; want %d", len(all), err, total)
	}
	for i, e := range all {
		if e.Seq != int64(i+1) || e.Detail != fmt.Sprint("event ", i+1) || e.Type != "test" {
			t.Fatalf("event %d is %+v", i, e)
		}
	}
	var pages []int
	var after int64
	for {
		page, err := store.ListEvents(t.Context(), s, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if page[0].Seq != after+1 {
			t.Fatalf("page after %d starts at %d", after, page[0].Seq)
		}
		pages = append(pages, len(page))
		after = page[len(page)-1].Seq
	}
	if fmt.Sprint(pages) != "[10 10 5]" || after != total {
		t.Fatalf("pages of 10 had sizes %v and ended at %d, want [10 10 5] ending at %d", pages, after, total)
	}
	if page, err := store.ListEvents(t.Context(), s, total+100, 10); err != nil || len(page) != 0 {
		t.Fatalf("ListEvents past the end: %d events, %v", len(page), err)
	}
}

// testEventsFailedUpdate: an event appended in a failed Update vanishes
// with it, and its number is handed out again.
func testEventsFailedUpdate(t *testing.T, s store.Store) {
	appendOne := func() (int64, error) {
		var seq int64
		_, err := s.Update(t.Context(), func(tx store.Tx) error {
			e := &model.Event{Type: "test"}
			if err := store.AppendEvent(tx, e); err != nil {
				return err
			}
			seq = e.Seq
			return nil
		})
		return seq, err
	}
	if seq, err := appendOne(); err != nil || seq != 1 {
		t.Fatalf("first event: seq %d, %v", seq, err)
	}
	_, err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := store.AppendEvent(tx, &model.Event{Type: "lost"}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("failing Update: %v", err)
	}
	if seq, err := appendOne(); err != nil || seq != 2 {
		t.Fatalf("event after a failed Update: seq %d, %v; want 2", seq, err)
	}
	events, err := store.ListEvents(t.Context(), s, 0, 0)
	if err != nil || len(events) != 2 || events[1].Type != "test" {
		t.Fatalf("events %+v, %v; want the two committed ones", events, err)
	}
}

// testEventsPrune: PruneEvents deletes old audit events, keeps recent
// verdict events and each object's latest older one, keeps the newest
// event, and AppendEvent goes on numbering after the last number given.
func testEventsPrune(t *testing.T, s store.Store) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	evs := []model.Event{
		{Type: "update", At: now.Add(-50 * day)},                                                // 1: old: goes
		{Type: model.EventVerdict, Object: "endpoint/a", After: "down", At: now.Add(-45 * day)}, // 2: goes
		{Type: model.EventVerdict, Object: "endpoint/a", After: "up", At: now.Add(-44 * day)},   // 3: a's latest before the horizon
		{Type: model.EventVerdict, Object: "endpoint/a", After: "down", At: now.Add(-day)},      // 4: recent
		{Type: "update", At: now.Add(-day)},                                                     // 5: recent
		{Type: "update", At: now.Add(-40 * day)},                                                // 6: old, but the newest
	}
	update(t, s, func(tx store.Tx) error {
		for i := range evs {
			if err := store.AppendEvent(tx, &evs[i]); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := store.PruneEvents(t.Context(), s, store.Retention{Batch: 1}, now)
	if err != nil || n != 2 {
		t.Fatalf("PruneEvents: %d, %v; want 2 deleted", n, err)
	}
	var got []int64
	events, err := store.ListEvents(t.Context(), s, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		got = append(got, e.Seq)
	}
	if want := []int64{3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("kept %v, want %v", got, want)
	}
	update(t, s, func(tx store.Tx) error {
		e := &model.Event{Type: "test"}
		if err := store.AppendEvent(tx, e); err != nil {
			return err
		}
		if e.Seq != 7 {
			t.Errorf("event after a prune: seq %d, want 7", e.Seq)
		}
		return nil
	})
}
