package api

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// frame is one server-sent event, or a comment.
type frame struct {
	id, event, data, comment string
}

// frames reads SSE frames from body until it ends; the channel closes
// then.
func frames(body io.Reader) <-chan frame {
	ch := make(chan frame, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(body)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				ch <- f
				f = frame{}
				continue
			}
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "":
				f.comment = value
			case "id":
				f.id = value
			case "event":
				f.event = value
			case "data":
				f.data = value
			}
		}
	}()
	return ch
}

// nextEvent skips comments and returns the next event, failing after a
// few seconds.
func nextEvent(t *testing.T, ch <-chan frame) frame {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-ch:
			if !ok {
				t.Fatal("the stream ended")
			}
			if f.comment == "" {
				return f
			}
		case <-deadline:
			t.Fatal("no event within 5s")
		}
	}
}

func eventOf(t *testing.T, f frame) model.Event {
	t.Helper()
	var ev model.Event
	if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
		t.Fatalf("data %q: %v", f.data, err)
	}
	if strconv.FormatInt(ev.Seq, 10) != f.id || ev.Type != f.event {
		t.Errorf("frame id %s event %s, data seq %d type %s", f.id, f.event, ev.Seq, ev.Type)
	}
	return ev
}

func TestStream(t *testing.T) {
	// Short server timeouts: the stream must clear its deadlines.
	e := newEnvServer(t, func(s *http.Server) {
		s.ReadTimeout, s.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	}, func(c *Config) { c.Heartbeat = 50 * time.Millisecond })
	e.post("/api/v1/regions", map[string]any{"name": "eu"}).want(201) // before: not replayed

	res, cancel := e.open("/api/v1/stream", "", nil)
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	ch := frames(res.Body)
	time.Sleep(700 * time.Millisecond) // past both timeouts
	beats := 0
	for len(ch) > 0 {
		if f := <-ch; strings.HasPrefix(f.comment, "heartbeat") {
			beats++
		}
	}
	if beats < 3 {
		t.Errorf("%d heartbeats in 700ms at a 50ms interval", beats)
	}

	// A change made through the API arrives.
	e.post("/api/v1/datacenters", dc("fra", "eu", 50, 8)).want(201)
	ev := eventOf(t, nextEvent(t, ch))
	if ev.Type != "create" || ev.Object != "datacenter/fra" || ev.Actor != EnvAdminActor || !strings.Contains(ev.After, `"fra"`) {
		t.Errorf("streamed event = %+v", ev)
	}
	cancel()

	// Changes while disconnected are replayed after Last-Event-ID, in
	// order, without the one already seen.
	e.put("/api/v1/datacenters/fra", dc("fra", "eu", 51, 8)).want(200)
	e.del("/api/v1/datacenters/fra").want(204)
	res, cancel = e.open("/api/v1/stream", "", map[string]string{"Last-Event-ID": strconv.FormatInt(ev.Seq, 10)})
	ch = frames(res.Body)
	for i, want := range []string{"update", "delete"} {
		got := eventOf(t, nextEvent(t, ch))
		if got.Type != want || got.Seq != ev.Seq+int64(i)+1 {
			t.Errorf("replayed %d: %s seq %d, want %s seq %d", i, got.Type, got.Seq, want, ev.Seq+int64(i)+1)
		}
	}
	cancel()

	// ?after= does the same for clients that cannot set headers.
	res, cancel = e.open("/api/v1/stream?after="+strconv.FormatInt(ev.Seq-1, 10), "", nil)
	if got := eventOf(t, nextEvent(t, frames(res.Body))); got.Seq != ev.Seq {
		t.Errorf("?after=%d replayed seq %d first", ev.Seq-1, got.Seq)
	}
	cancel()

	res, cancel = e.open("/api/v1/stream", "", map[string]string{"Last-Event-ID": "yesterday"})
	if res.StatusCode != 400 {
		t.Errorf("bad Last-Event-ID: %d", res.StatusCode)
	}
	cancel()
}

// TestStreamEndsOnShutdown: CloseStreams (registered with the server's
// shutdown) ends open streams, so Shutdown does not wait for them.
func TestStreamEndsOnShutdown(t *testing.T) {
	e := newEnv(t)
	res, cancel := e.open("/api/v1/stream", "", nil)
	defer cancel()
	ch := frames(res.Body)
	e.srv.CloseStreams()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the stream is still open 5s after CloseStreams")
		}
	}
}
