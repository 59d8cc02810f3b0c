package fleet

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Webhook request headers.
const (
	HeaderEvent     = "X-Meridian-Event"
	HeaderDelivery  = "X-Meridian-Delivery"
	HeaderSignature = "X-Meridian-Signature"
)

// Payload is the JSON body of a webhook call about a verdict change.
type Payload struct {
	Type       string       `json:"type"` // "verdict"
	At         string       `json:"at"`   // RFC 3339 with nanoseconds
	Service    string       `json:"service"`
	Endpoint   string       `json:"endpoint"`
	Datacenter string       `json:"datacenter"`
	Before     model.Health `json:"before"`
	After      model.Health `json:"after"`
	Reason     string       `json:"reason"`
	Votes      []model.Vote `json:"votes"`
}

// Signature is the X-Meridian-Signature of body under secret:
// "sha256=" and the hex HMAC-SHA256 of the exact body bytes.
func Signature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// delivery is one webhook call to make, with its retries.
type delivery struct {
	id     string
	hook   model.Webhook
	body   []byte
	change Change
}

// outbox holds the pending deliveries, one FIFO queue per webhook, each
// bounded; a worker per busy webhook sends them in order, so that a slow
// or dead receiver delays only its own calls.
type outbox struct {
	mu     sync.Mutex
	size   int
	queues map[string]*hookQueue
	signal chan struct{} // something was queued
}

type hookQueue struct {
	items []delivery
	busy  bool // a worker drains it
}

func newOutbox(size int) *outbox {
	return &outbox{size: size, queues: map[string]*hookQueue{}, signal: make(chan struct{}, 1)}
}

// enqueue queues the call of h about c; when h's queue is full the oldest
// pending call is dropped, with a webhook_dropped event.
func (e *Engine) enqueue(h model.Webhook, c Change) {
	votes := c.Votes
	if votes == nil {
		votes = []model.Vote{}
	}
	body, err := json.Marshal(Payload{
		Type: "verdict", At: c.At.UTC().Format(time.RFC3339Nano),
		Service: c.Service, Endpoint: c.Endpoint, Datacenter: c.Datacenter,
		Before: c.Before, After: c.After, Reason: c.Reason, Votes: votes,
	})
	if err != nil { // plain strings and numbers: cannot happen
		e.log.Error("fleet: encoding a webhook body", "err", err)
		return
	}
	d := delivery{id: newDeliveryID(), hook: h, body: body, change: c}
	o := e.out
	o.mu.Lock()
	q := o.queues[h.Name]
	if q == nil {
		q = &hookQueue{}
		o.queues[h.Name] = q
	}
	var dropped *delivery
	if len(q.items) >= o.size {
		old := q.items[0]
		dropped = &old
		q.items = q.items[1:]
	}
	q.items = append(q.items, d)
	o.mu.Unlock()
	select {
	case o.signal <- struct{}{}:
	default:
	}
	if dropped != nil {
		e.log.Warn("fleet: webhook queue full, dropped the oldest call", "webhook", h.Name, "delivery", dropped.id)
		e.appendEvent(context.Background(), &model.Event{
			Type: "webhook_dropped", Object: "webhook/" + h.Name, Actor: Actor,
			Detail: fmt.Sprintf("%d calls pending: dropped delivery %s about %s", o.size, dropped.id, describe(dropped.change)),
		})
	}
}

// dispatch starts a worker for every webhook with pending calls and no
// worker, until ctx ends; it returns when its workers have.
func (e *Engine) dispatch(ctx context.Context) {
	o := e.out
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.signal:
		}
		o.mu.Lock()
		for name, q := range o.queues {
			if !q.busy && len(q.items) > 0 {
				q.busy = true
				wg.Go(func() { e.drain(ctx, name) })
			}
		}
		o.mu.Unlock()
	}
}

// drain sends the calls queued for one webhook, in order, until none is
// left or ctx ends.
func (e *Engine) drain(ctx context.Context, name string) {
	o := e.out
	for {
		o.mu.Lock()
		q := o.queues[name]
		if len(q.items) == 0 || ctx.Err() != nil {
			q.busy = false
			if len(q.items) == 0 {
				delete(o.queues, name)
			}
			o.mu.Unlock()
			return
		}
		d := q.items[0]
		q.items = q.items[1:]
		o.mu.Unlock()
		e.deliver(ctx, d)
	}
}

// deliver makes one call with its retries: after each failed attempt it
// waits the next Backoff delay; when the last fails it appends one
// webhook_failed event. Shutdown (ctx) ends it without an event.
func (e *Engine) deliver(ctx context.Context, d delivery) {
	for attempt := 1; ; attempt++ {
		err := e.post(ctx, d)
		if err == nil {
			e.metrics.deliveries.WithLabelValues("ok").Inc()
			e.finished(d.hook.Name, true, attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if attempt > len(e.backoff) {
			e.metrics.deliveries.WithLabelValues("failed").Inc()
			e.log.Warn("fleet: webhook call failed for good", "webhook", d.hook.Name, "delivery", d.id, "attempts", attempt, "err", err)
			e.appendEvent(ctx, &model.Event{
				Type: "webhook_failed", Object: "webhook/" + d.hook.Name, Actor: Actor,
				Detail: fmt.Sprintf("delivery %s failed %d times, the last: %v; about %s", d.id, attempt, err, describe(d.change)),
			})
			e.finished(d.hook.Name, false, attempt)
			return
		}
		e.metrics.deliveries.WithLabelValues("retry").Inc()
		t := time.NewTimer(e.backoff[attempt-1])
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (e *Engine) finished(hook string, ok bool, attempts int) {
	if e.delivered != nil {
		e.delivered(hook, ok, attempts)
	}
}

// post makes one attempt: a 2xx answer is success.
func (e *Engine) post(ctx context.Context, d delivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.hook.URL, bytes.NewReader(d.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "meridian")
	req.Header.Set(HeaderEvent, "verdict")
	req.Header.Set(HeaderDelivery, d.id)
	if d.hook.Secret != "" {
		req.Header.Set(HeaderSignature, Signature(d.hook.Secret, d.body))
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// appendEvent stores one event of its own, logging a failure: the engine
// has no caller to return it to.
func (e *Engine) appendEvent(ctx context.Context, ev *model.Event) {
	if ev.At.IsZero() {
		ev.At = e.now().UTC()
	}
	_, err := e.st.Update(ctx, func(tx store.Tx) error {
		cp := *ev
		return store.AppendEvent(tx, &cp)
	})
	if err != nil {
		e.log.Warn("fleet: appending an event", "type", ev.Type, "object", ev.Object, "err", err)
	}
}

// describe names a change for an event's detail.
func describe(c Change) string {
	return fmt.Sprintf("verdict %s %s → %s at %s", EndpointObject(c.Service, c.Endpoint), c.Before, c.After, c.At.UTC().Format(time.RFC3339))
}

func newDeliveryID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b)
}
