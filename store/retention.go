package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// Defaults of Retention, and the floor under the age of verdict events.
const (
	// DefaultMaxAge keeps five weeks of events: the longest availability
	// window (30 days) and five days of margin, so that "what changed
	// last month" can still be answered.
	DefaultMaxAge = 35 * 24 * time.Hour
	// DefaultMaxEvents caps the log against bursts (an automation
	// applying in a loop, a storm of refused requests). At the roughly
	// 1 KiB an audit event carries (an object before and after, as JSON)
	// it bounds the audit part of the log to the order of 100-200 MiB
	// on disk; a deployment that applies a few hundred changes a day
	// keeps its whole 35 days far below it.
	DefaultMaxEvents = 100_000
	// DefaultPruneBatch bounds the deletions of one transaction, so that
	// a large prune never holds the write lock for long: a batch of
	// 1,000 commits in a few milliseconds on bbolt.
	DefaultPruneBatch = 1000
	// MinVerdictAge is how long verdict events are kept whatever the
	// policy: the longest availability window of checker/fleet (30
	// days) and five days of margin for clock steps and nodes that
	// disagree about the time.
	MinVerdictAge = 35 * 24 * time.Hour
)

// pruneScanPage is how many events one read transaction of PruneEvents
// looks at, so that scanning a large log holds no read transaction (and
// with it bbolt's freed pages) for long.
const pruneScanPage = 5000

// Retention is what PruneEvents keeps of the event log. Zero fields take
// their defaults.
type Retention struct {
	// MaxAge: audit events older than this go. Verdict events are kept
	// for at least MinVerdictAge.
	MaxAge time.Duration
	// MaxEvents: when the log holds more events than this, the oldest
	// audit events go until it does not (or none is left to go).
	// Verdict events the availability report needs are never deleted to
	// meet it.
	MaxEvents int
	// Batch is the most events one transaction deletes. A backend with a
	// limit on operations per transaction (etcd: 128 by default) needs a
	// smaller one.
	Batch int
}

// withDefaults fills in the zero fields.
func (r Retention) withDefaults() Retention {
	if r.MaxAge <= 0 {
		r.MaxAge = DefaultMaxAge
	}
	if r.MaxEvents <= 0 {
		r.MaxEvents = DefaultMaxEvents
	}
	if r.Batch <= 0 {
		r.Batch = DefaultPruneBatch
	}
	return r
}

// eventHead is the part of a stored event that retention looks at.
type eventHead struct {
	At     time.Time `json:"at"`
	Type   string    `json:"type"`
	Object string    `json:"object"`
}

// tailFields are the fields json.Marshal writes after at, type and
// object of a model.Event, in that order; the large ones are among them.
// headFields are those three.
var (
	tailFields = [][]byte{[]byte(`,"actor":`), []byte(`,"detail":`), []byte(`,"before":`), []byte(`,"after":`)}
	headFields = [][]byte{[]byte(`,"at":`), []byte(`,"type":`), []byte(`,"object":`)}
)

// decodeHead decodes at, type and object of an event without decoding the
// large fields after them: a scan of the log would spend its time in JSON.
// It decodes the JSON up to the first of tailFields when none of
// headFields follows. Neither sequence can occur inside a JSON string,
// where every '"' is escaped, and a model.Event has no nested object, so
// a match is a key of the event. Otherwise it decodes the whole event. buf
// is scratch space, reused across calls.
func decodeHead(b []byte, buf *[]byte) (eventHead, error) {
	var h eventHead
	for _, f := range tailFields {
		i := bytes.Index(b, f)
		if i <= 0 {
			continue
		}
		if !slices.ContainsFunc(headFields, func(k []byte) bool { return bytes.Contains(b[i:], k) }) {
			*buf = append(append((*buf)[:0], b[:i]...), '}')
			if json.Unmarshal(*buf, &h) == nil {
				return h, nil
			}
			h = eventHead{}
		}
		break
	}
	err := json.Unmarshal(b, &h)
	return h, err
}

// Classes of the events PruneEvents may delete; verdict events within
// the verdict horizon are never candidates.
const (
	classOldAudit   uint8 = iota // older than MaxAge: goes
	classAudit                   // within MaxAge: goes only to meet MaxEvents
	classOldVerdict              // before the verdict horizon: goes unless it is its endpoint's anchor
)

type pruneCandidate struct {
	seq   int64
	obj   int32 // index into the objects of old verdict events
	class uint8
}

// anchor is the latest verdict event of one object before the verdict
// horizon, in the order availability sorts them: time, then sequence.
type anchor struct {
	at  time.Time
	seq int64
}

// PruneEvents deletes from the event log of s what policy does not keep,
// oldest first, in transactions of at most policy.Batch deletions, and
// returns how many events it deleted. It works on any backend through
// the Store interface.
//
// It keeps:
//   - every verdict event (Type model.EventVerdict) from the last
//     max(MaxAge, MinVerdictAge) before now, and for each Object the
//     latest verdict event before that horizon: its state when the
//     horizon starts, which availability needs to measure a window that
//     starts in the middle of an outage;
//   - audit events (every other type) younger than MaxAge, as long as the
//     log holds no more than MaxEvents events; beyond that the oldest of
//     them go;
//   - always the newest event, so that a backend without a Sequencer
//     (which numbers a new event after the last one stored) never reuses
//     a number.
//
// The log is read in pages of short read transactions. Events appended
// while it runs are left for the next run. When ctx ends between two
// transactions, PruneEvents returns what it deleted so far with ctx's
// error; each transaction is all or nothing, and what remains is still
// a log whose oldest events went first. An event that does not decode is
// kept, and reported in an error after the rest was pruned.
func PruneEvents(ctx context.Context, s Store, policy Retention, now time.Time) (int, error) {
	policy = policy.withDefaults()
	auditCutoff := now.Add(-policy.MaxAge)
	verdictCutoff := now.Add(-max(policy.MaxAge, MinVerdictAge))

	var (
		cands   []pruneCandidate
		objects = map[string]int32{}
		anchors []anchor // by object index
		total   int
		newest  int64
		after   string
		scratch []byte
		bad     int   // events that do not decode, kept
		badErr  error // the first one's error
	)
	for {
		var n int
		err := s.View(ctx, func(tx Tx) error {
			n = 0
			return tx.List(model.KindEvent, after, pruneScanPage, func(name string, b []byte) error {
				n++
				after = name
				seq, err := strconv.ParseInt(name, 10, 64)
				if err != nil || model.EventName(seq) != name {
					return nil // not a name AppendEvent gives: leave it alone
				}
				total++
				newest = max(newest, seq)
				h, err := decodeHead(b, &scratch)
				if err != nil {
					// Keep it, and go on: one bad event must not stop
					// retention.
					if bad++; badErr == nil {
						badErr = fmt.Errorf("store: decoding event %s: %w", name, err)
					}
					return nil
				}
				switch {
				case h.Type != model.EventVerdict:
					c := pruneCandidate{seq: seq, class: classAudit}
					if h.At.Before(auditCutoff) {
						c.class = classOldAudit
					}
					cands = append(cands, c)
				case h.At.Before(verdictCutoff):
					i, ok := objects[h.Object]
					if !ok {
						i = int32(len(anchors))
						objects[h.Object] = i
						anchors = append(anchors, anchor{h.At, seq})
					} else if a := anchors[i]; cmp.Or(h.At.Compare(a.at), cmp.Compare(seq, a.seq)) > 0 {
						anchors[i] = anchor{h.At, seq}
					}
					cands = append(cands, pruneCandidate{seq: seq, obj: i, class: classOldVerdict})
				}
				return nil
			})
		})
		if err != nil {
			return 0, err
		}
		if n < pruneScanPage {
			break
		}
	}

	// Pages come in name order, which is sequence order, so cands is
	// sorted: pick the doomed oldest first.
	doomed := make([]int64, 0, len(cands))
	var young []int64 // audit events within MaxAge, oldest first
	for _, c := range cands {
		switch {
		case c.seq == newest:
		case c.class == classOldAudit:
			doomed = append(doomed, c.seq)
		case c.class == classOldVerdict && anchors[c.obj].seq != c.seq:
			doomed = append(doomed, c.seq)
		case c.class == classAudit:
			young = append(young, c.seq)
		}
	}
	cands = nil
	if excess := total - len(doomed) - policy.MaxEvents; excess > 0 {
		doomed = append(doomed, young[:min(excess, len(young))]...)
		slices.Sort(doomed)
	}

	deleted := 0
	for batch := range slices.Chunk(doomed, policy.Batch) {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		var n int
		_, err := s.Update(ctx, func(tx Tx) error {
			n = 0
			for _, seq := range batch {
				switch err := tx.Delete(model.KindEvent, model.EventName(seq)); {
				case err == nil:
					n++
				case errors.Is(err, ErrNotFound): // another pruner got there first
				default:
					return fmt.Errorf("store: pruning event %d: %w", seq, err)
				}
			}
			return nil
		})
		if err != nil {
			return deleted, err
		}
		deleted += n
	}
	if bad > 0 {
		return deleted, fmt.Errorf("%d events could not be decoded and were kept; the first: %w", bad, badErr)
	}
	return deleted, nil
}
