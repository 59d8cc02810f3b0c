package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// streamBatch is how many events the stream reads from the log at once.
const streamBatch = 256

// stream serves GET /api/v1/stream: the event log as server-sent
// events, live. Each event is
//
//	id: <seq>
//	event: <type>
//	data: <the event as JSON>
//
// A client that reconnects with Last-Event-ID (browsers' EventSource do
// it by themselves) or ?after=SEQ gets every event after that one first,
// so nothing is lost; without either the stream starts with the next
// change. A comment line every Config.Heartbeat keeps proxies from
// closing an idle connection. The stream ends when the client goes away,
// the store closes, or CloseStreams is called.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	resume := r.Header.Get("Last-Event-ID")
	name := "Last-Event-ID"
	if resume == "" {
		resume, name = r.URL.Query().Get("after"), "after"
	}
	after, err := seqParam(name, strings.TrimSpace(resume))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	// Watch before reading the log: a change committed in between wakes
	// the loop instead of being missed.
	changes := s.st.Watch(ctx)
	if resume == "" {
		err = s.st.View(ctx, func(tx store.Tx) error {
			after, err = lastEventSeq(tx)
			return err
		})
		if err != nil {
			s.problem(w, r, err)
			return
		}
	}
	// A stream outlives the write timeout cmd sets on the server (which
	// would cut it), and its read timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, ": meridian event stream, after event %d\nretry: 2000\n\n", after)
	if err := flush(bw, rc); err != nil {
		return
	}
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		if after, err = s.sendEvents(ctx, bw, after); err == nil {
			err = flush(bw, rc)
		}
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				s.log.Debug("api: stream ends", "err", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.closed:
			return
		case _, ok := <-changes:
			if !ok { // the store closed
				return
			}
		case <-beat.C:
			fmt.Fprintf(bw, ": heartbeat %s\n\n", time.Now().UTC().Format(time.RFC3339))
		}
	}
}

// sendEvents writes every event after seq and returns the last seq sent.
func (s *Server) sendEvents(ctx context.Context, bw *bufio.Writer, seq int64) (int64, error) {
	for {
		evs, err := store.ListEvents(ctx, s.st, seq, streamBatch)
		if err != nil {
			return seq, err
		}
		for i := range evs {
			if err := writeEvent(bw, &evs[i]); err != nil {
				return seq, err
			}
			seq = evs[i].Seq
		}
		if len(evs) < streamBatch {
			return seq, nil
		}
	}
}

func writeEvent(bw *bufio.Writer, e *model.Event) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// Types are single words; keep a stray newline from ending the field.
	typ := strings.NewReplacer("\n", " ", "\r", " ").Replace(e.Type)
	_, err = fmt.Fprintf(bw, "id: %s\nevent: %s\ndata: %s\n\n", strconv.FormatInt(e.Seq, 10), typ, data)
	return err
}

func flush(bw *bufio.Writer, rc *http.ResponseController) error {
	if err := bw.Flush(); err != nil {
		return err
	}
	return rc.Flush()
}
