package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// eventFilter is the query of GET /api/v1/events.
type eventFilter struct {
	since, until time.Time
	object       string // kind/name, or kind/ for every object of a kind
	typ          string
}

func (f eventFilter) match(e *model.Event) bool {
	switch {
	case !f.since.IsZero() && e.At.Before(f.since):
	case !f.until.IsZero() && !e.At.Before(f.until):
	case f.typ != "" && e.Type != f.typ:
	case strings.HasSuffix(f.object, "/") && !strings.HasPrefix(e.Object, f.object):
	case f.object != "" && !strings.HasSuffix(f.object, "/") && e.Object != f.object:
	default:
		return true
	}
	return false
}

// seqParam reads a sequence number cursor: "" is 0.
func seqParam(name, v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badParam(name, "want an event sequence number, not %q", v)
	}
	return n, nil
}

func eventFilterOf(r *http.Request) (eventFilter, error) {
	q := r.URL.Query()
	f := eventFilter{object: q.Get("object"), typ: q.Get("type")}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.since}, {"until", &f.until}} {
		if v := q.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, badParam(t.name, "want an RFC 3339 time such as 2025-01-02T15:04:05Z, not %q", v)
			}
			*t.to = at
		}
	}
	if f.object != "" && !strings.Contains(f.object, "/") {
		return f, badParam("object", "want kind/name (datacenter/fra) or kind/ (datacenter/), not %q", f.object)
	}
	return f, nil
}

// listEvents answers a page of the event log, oldest first: the events
// after ?after=SEQ that match the filters (since inclusive, until
// exclusive). next is the seq of the page's last event.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	p, err := pageOf(r)
	var after int64
	var f eventFilter
	if err == nil {
		after, err = seqParam("after", p.after)
	}
	if err == nil {
		f, err = eventFilterOf(r)
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	items, err := s.scanEvents(r.Context(), after, p.limit+1, f)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, finish(items, p.limit, func(e model.Event) string { return strconv.FormatInt(e.Seq, 10) }))
}

// scanEvents collects up to n events after seq that match f, reading
// the log in batches.
func (s *Server) scanEvents(ctx context.Context, after int64, n int, f eventFilter) ([]model.Event, error) {
	const batch = 1000
	var out []model.Event
	for len(out) < n {
		evs, err := store.ListEvents(ctx, s.st, after, batch)
		if err != nil {
			return nil, err
		}
		for i := range evs {
			if f.match(&evs[i]) {
				out = append(out, evs[i])
				if len(out) == n {
					break
				}
			}
		}
		if len(evs) < batch {
			break
		}
		after = evs[len(evs)-1].Seq
	}
	return out, nil
}

// lastEventSeq finds the highest event sequence number by binary search
// over "is there an event after x?", a seek each: O(log n) without
// reading the log.
func lastEventSeq(tx store.Tx) (int64, error) {
	exists := func(x int64) (bool, error) {
		found := false
		err := tx.List(model.KindEvent, model.EventName(x), 1, func(string, []byte) error {
			found = true
			return nil
		})
		return found, err
	}
	lo, hi := int64(0), int64(1)
	for { // grow hi until no event lies beyond it
		more, err := exists(hi)
		if err != nil {
			return 0, err
		}
		if !more {
			break
		}
		lo, hi = hi, hi*2
	}
	for lo < hi { // the last seq lies in [lo, hi]
		mid := lo + (hi-lo)/2
		more, err := exists(mid)
		if err != nil {
			return 0, err
		}
		if more {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return hi, nil
}
