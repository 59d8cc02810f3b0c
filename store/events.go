package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// Sequencer is an optional ability of a Tx: the next number of a sequence
// per kind, committed or rolled back with the transaction. AppendEvent
// uses it for event numbers. A backend's Tx should implement it; without
// it AppendEvent finds the last event by listing them all.
type Sequencer interface {
	NextSequence(kind model.Kind) (int64, error)
}

// AppendEvent assigns e the next sequence number, sets e.At to now when it
// is zero, and stores it in tx. The event commits with the rest of the
// transaction, so an event log entry exists exactly when its change does.
func AppendEvent(tx Tx, e *model.Event) error {
	seq, err := nextEventSeq(tx)
	if err != nil {
		return err
	}
	e.Seq = seq
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	return Put(tx, e, -1)
}

func nextEventSeq(tx Tx) (int64, error) {
	if s, ok := tx.(Sequencer); ok {
		return s.NextSequence(model.KindEvent)
	}
	var last int64
	err := tx.List(model.KindEvent, "", 0, func(name string, _ []byte) error {
		n, err := strconv.ParseInt(name, 10, 64)
		if err != nil {
			return fmt.Errorf("store: event name %q is not a sequence number", name)
		}
		last = max(last, n)
		return nil
	})
	return last + 1, err
}

// ListEvents returns up to limit events (all when limit <= 0) with a
// sequence number above afterSeq, oldest first. To page through the log,
// pass the Seq of the last event of the previous page.
func ListEvents(ctx context.Context, s Store, afterSeq int64, limit int) ([]model.Event, error) {
	after := ""
	if afterSeq > 0 {
		after = model.EventName(afterSeq)
	}
	var out []model.Event
	err := s.View(ctx, func(tx Tx) error {
		out = out[:0]
		return tx.List(model.KindEvent, after, max(limit, 0), func(name string, b []byte) error {
			var e model.Event
			if err := json.Unmarshal(b, &e); err != nil {
				return fmt.Errorf("store: decoding event %s: %w", name, err)
			}
			out = append(out, e)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
