package fleet

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// call is one request a receiver got.
type call struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint answering each call with the next
// status of statuses (the last one repeats), and passing every call on.
type receiver struct {
	srv   *httptest.Server
	calls chan call
	mu    sync.Mutex
	n     int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{calls: make(chan call, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		status := statuses[min(r.n, len(statuses)-1)]
		r.n++
		r.mu.Unlock()
		r.calls <- call{req.Header.Clone(), body}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// finished is a delivery's end as the engine reports it to tests.
type finished struct {
	hook     string
	ok       bool
	attempts int
}

// hooks stores webhooks and makes env report finished deliveries.
func (env *testEnv) hooks(hooks ...model.Webhook) <-chan finished {
	env.t.Helper()
	_, err := env.st.Update(env.t.Context(), func(tx store.Tx) error {
		for _, h := range hooks {
			if err := store.Put(tx, &h, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		env.t.Fatal(err)
	}
	ch := make(chan finished, 100)
	env.e.delivered = func(hook string, ok bool, attempts int) { ch <- finished{hook, ok, attempts} }
	return ch
}

func shortBackoff(c *Config) {
	c.Backoff = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}
}

// flip records votes that take fra1 up, then down: the cold start (no
// webhook) and one change that is news.
func (env *testEnv) flip() {
	env.t.Helper()
	env.report("c1", false, up(fra1))
	env.evaluate()
	env.at(time.Second)
	env.report("c1", false, down(fra1, "connection refused"))
	env.evaluate() // or Run's evaluation, which may come first
	if h := env.health(fra1); h != model.HealthDown {
		env.t.Fatalf("health = %s, want down", h)
	}
}

// TestWebhookSigned: the body, its headers and its signature, checked by
// the receiver with the secret; no signature without a secret; a cold
// start (unknown → up) is not sent.
func TestWebhookSigned(t *testing.T) {
	env := newTestEnv(t)
	signed, plain := newReceiver(t, 204), newReceiver(t, 200)
	const secret = "s3cret-s3cret-s3cret"
	done := env.hooks(model.Webhook{Name: "signed", URL: signed.srv.URL + "/hook", Secret: secret},
		model.Webhook{Name: "plain", URL: plain.srv.URL})
	env.run()
	env.flip()

	c := waitFor(t, signed.calls, "the signed call")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(c.body)
	if got, want := c.header.Get("X-Meridian-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "User-Agent": "meridian", "X-Meridian-Event": "verdict"} {
		if got := c.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if id := c.header.Get("X-Meridian-Delivery"); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("delivery id %q", id)
	}
	var body map[string]any
	if err := json.Unmarshal(c.body, &body); err != nil {
		t.Fatal(err)
	}
	at, err := time.Parse(time.RFC3339Nano, body["at"].(string))
	if err != nil || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("at = %v (%v)", body["at"], err)
	}
	want := map[string]any{"type": "verdict", "service": app, "endpoint": fra1, "datacenter": "fra", "before": "up", "after": "down"}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("body[%s] = %v, want %v", k, body[k], v)
		}
	}
	if r, _ := body["reason"].(string); !strings.Contains(r, "c1: connection refused") {
		t.Errorf("reason = %q", r)
	}
	if votes, _ := body["votes"].([]any); len(votes) != 1 || votes[0].(map[string]any)["error"] != "connection refused" {
		t.Errorf("votes = %v", body["votes"])
	}

	p := waitFor(t, plain.calls, "the unsigned call")
	if _, ok := p.header["X-Meridian-Signature"]; ok {
		t.Errorf("a webhook without a secret got a signature: %q", p.header.Get("X-Meridian-Signature"))
	}
	if p.header.Get("X-Meridian-Delivery") == c.header.Get("X-Meridian-Delivery") {
		t.Error("two deliveries share an id")
	}
	for range 2 {
		if f := waitFor(t, done, "deliveries"); !f.ok || f.attempts != 1 {
			t.Errorf("delivery %+v", f)
		}
	}
	if signed.count() != 1 || plain.count() != 1 {
		t.Errorf("calls: %d and %d, want one each (the cold start is not sent)", signed.count(), plain.count())
	}
}

// TestWebhookRetries: a receiver failing twice then answering 200 gets
// three attempts of the same delivery, and no failure is recorded.
func TestWebhookRetries(t *testing.T) {
	env := newTestEnv(t, shortBackoff)
	rcv := newReceiver(t, 500, 502, 200)
	done := env.hooks(model.Webhook{Name: "flaky", URL: rcv.srv.URL})
	env.run()
	env.flip()
	f := waitFor(t, done, "the delivery")
	if !f.ok || f.attempts != 3 || rcv.count() != 3 {
		t.Fatalf("delivery %+v after %d calls, want delivered at the third", f, rcv.count())
	}
	var ids []string
	for range 3 {
		ids = append(ids, (<-rcv.calls).header.Get("X-Meridian-Delivery"))
	}
	if ids[0] != ids[1] || ids[1] != ids[2] {
		t.Errorf("retries changed the delivery id: %q", ids)
	}
	if evs := env.events("webhook_failed"); len(evs) != 0 {
		t.Errorf("failure events: %+v", evs)
	}
	m := env.e.metrics.deliveries
	if ok, retry, failed := testutil.ToFloat64(m.WithLabelValues("ok")), testutil.ToFloat64(m.WithLabelValues("retry")), testutil.ToFloat64(m.WithLabelValues("failed")); ok != 1 || retry != 2 || failed != 0 {
		t.Errorf("deliveries ok %v, retry %v, failed %v", ok, retry, failed)
	}
}

// TestWebhookFailsForGood: a receiver that always fails gets five
// attempts (the default schedule's length), and exactly one
// webhook_failed event is recorded.
func TestWebhookFailsForGood(t *testing.T) {
	env := newTestEnv(t, shortBackoff)
	rcv := newReceiver(t, 503)
	done := env.hooks(model.Webhook{Name: "dead", URL: rcv.srv.URL})
	env.run()
	env.flip()
	f := waitFor(t, done, "the delivery")
	if f.ok || f.attempts != 5 || rcv.count() != 5 {
		t.Fatalf("delivery %+v after %d calls, want a failure after 5", f, rcv.count())
	}
	evs := env.events("webhook_failed")
	if len(evs) != 1 {
		t.Fatalf("%d webhook_failed events, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	for _, want := range []string{"503", "5 times", EndpointObject(app, fra1), "up → down"} {
		if !strings.Contains(ev.Detail, want) {
			t.Errorf("detail %q lacks %q", ev.Detail, want)
		}
	}
	if ev.Object != "webhook/dead" || ev.Actor != Actor {
		t.Errorf("event = %+v", ev)
	}
	if n := testutil.ToFloat64(env.e.metrics.deliveries.WithLabelValues("failed")); n != 1 {
		t.Errorf("failed deliveries = %v", n)
	}
}

// TestWebhookOrder: the calls to one webhook arrive in the order of the
// changes, a retry included; a dead webhook does not hold up another.
func TestWebhookOrder(t *testing.T) {
	env := newTestEnv(t, shortBackoff)
	rcv := newReceiver(t, 500, 200) // the first call needs a retry
	dead := newReceiver(t, 500)
	done := env.hooks(model.Webhook{Name: "a", URL: rcv.srv.URL}, model.Webhook{Name: "b", URL: dead.srv.URL})
	env.flip() // up → down, queued before Run starts
	for i, b := range []ballot{up(fra1), down(fra1, "x"), up(fra1)} {
		env.at(time.Duration(i+2) * time.Second)
		env.report("c1", false, b)
		env.evaluate()
	}
	env.run()
	var got []string
	lastID := ""
	for len(got) < 4 {
		c := waitFor(t, rcv.calls, "calls")
		if id := c.header.Get(HeaderDelivery); id == lastID {
			continue // a retry
		} else {
			lastID = id
		}
		var p Payload
		if err := json.Unmarshal(c.body, &p); err != nil {
			t.Fatal(err)
		}
		got = append(got, string(p.Before)+">"+string(p.After))
	}
	if want := "up>down down>up up>down down>up"; strings.Join(got, " ") != want {
		t.Errorf("order %q, want %q", strings.Join(got, " "), want)
	}
	oks := 0
	for oks < 4 {
		if f := waitFor(t, done, "deliveries"); f.hook == "a" && f.ok {
			oks++
		}
	}
}

// TestWebhookQueueFull: when a webhook's queue is full the oldest call is
// dropped, with an event.
func TestWebhookQueueFull(t *testing.T) {
	env := newTestEnv(t)
	rcv := newReceiver(t, 200)
	done := env.hooks(model.Webhook{Name: "slow", URL: rcv.srv.URL})
	env.e.out.size = 2
	env.flip() // 1: up → down
	for i, b := range []ballot{up(fra1), down(fra1, "x")} {
		env.at(time.Duration(i+2) * time.Second)
		env.report("c1", false, b)
		env.evaluate()
	}
	evs := env.events("webhook_dropped")
	if len(evs) != 1 || evs[0].Object != "webhook/slow" || !strings.Contains(evs[0].Detail, "up → down") {
		t.Fatalf("dropped events = %+v", evs)
	}
	env.run()
	var got []string
	for range 2 {
		waitFor(t, done, "deliveries")
		var p Payload
		_ = json.Unmarshal((<-rcv.calls).body, &p)
		got = append(got, string(p.Before)+">"+string(p.After))
	}
	if strings.Join(got, " ") != "down>up up>down" {
		t.Errorf("delivered %q", got)
	}
}
