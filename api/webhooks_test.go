package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

const hookSecret = "0123456789abcdef-very-secret"

// storedWebhook reads a webhook straight from the store, secret included.
func storedWebhook(t *testing.T, e *env, name string) *model.Webhook {
	t.Helper()
	var w *model.Webhook
	err := e.st.View(t.Context(), func(tx store.Tx) error {
		var err error
		w, err = store.Get[model.Webhook](tx, name)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWebhookRoutes: CRUD like data centers; the secret is written,
// kept by a PUT without it, and never answered nor put in an event.
func TestWebhookRoutes(t *testing.T) {
	e := newEnv(t)
	var got map[string]any
	r := e.post("/api/v1/webhooks", map[string]any{"name": "pager", "url": "https://hooks.example/pager", "secret": hookSecret}).want(201)
	r.decode(&got)
	if _, leaked := got["secret"]; leaked || got["has_secret"] != true || got["managed_by"] != "api" || r.Header.Get("Location") != "/api/v1/webhooks/pager" {
		t.Errorf("created = %s", r.Body)
	}
	e.post("/api/v1/webhooks", map[string]any{"name": "pager", "url": "https://hooks.example/other"}).want(409)
	e.post("/api/v1/webhooks", map[string]any{"name": "x", "url": "ftp://hooks.example/"}).want(422)
	p := e.post("/api/v1/webhooks", map[string]any{"name": "x", "url": "https://hooks.example/", "secret": "short"}).want(422).problem()
	if len(p.Errors) != 1 || p.Errors[0].Field != "secret" {
		t.Errorf("short secret: %+v", p)
	}
	// Without a name: the state file's default name.
	r = e.post("/api/v1/webhooks", map[string]any{"url": "https://hooks.example/plain"}).want(201)
	r.decode(&got)
	if got["name"] != model.WebhookName("https://hooks.example/plain") || got["has_secret"] != false {
		t.Errorf("unnamed = %s", r.Body)
	}

	var l List[map[string]any]
	e.get("/api/v1/webhooks").want(200).decode(&l)
	if len(l.Items) != 2 {
		t.Errorf("list = %+v", l)
	}
	e.get("/api/v1/webhooks?limit=1001").want(400)
	r = e.get("/api/v1/webhooks/pager").want(200)
	if strings.Contains(string(r.Body), hookSecret) || r.Header.Get("ETag") == "" {
		t.Errorf("get = %s", r.Body)
	}
	e.get("/api/v1/webhooks/nope").want(404)

	// A GET's answer sent back (has_secret, revision) without the secret
	// keeps the secret.
	r.decode(&got)
	got["url"] = "https://hooks.example/pager2"
	e.put("/api/v1/webhooks/pager", got).want(200)
	if w := storedWebhook(t, e, "pager"); w.Secret != hookSecret || w.URL != "https://hooks.example/pager2" {
		t.Errorf("after a PUT without secret: %+v", w)
	}
	e.put("/api/v1/webhooks/pager", map[string]any{"url": "https://hooks.example/pager2", "secret": ""}).want(200).decode(&got)
	if got["has_secret"] != false || storedWebhook(t, e, "pager").Secret != "" {
		t.Errorf("after \"secret\": \"\": %+v", got)
	}
	e.put("/api/v1/webhooks/pager", map[string]any{"url": "https://hooks.example/pager2", "secret": hookSecret}).want(200)
	e.put("/api/v1/webhooks/pager", map[string]any{"name": "other", "url": "https://hooks.example/"}).want(422)
	e.do(req{method: "PUT", path: "/api/v1/webhooks/pager", body: map[string]any{"url": "https://hooks.example/"}, header: map[string]string{"If-Match": `"1"`}}).want(409)
	e.put("/api/v1/webhooks/new", map[string]any{"url": "https://hooks.example/new", "secret": hookSecret}).want(201)
	e.del("/api/v1/webhooks/new").want(204)
	e.del("/api/v1/webhooks/new").want(404)

	// The audit trail says what happened, without the secret.
	n := 0
	for _, ev := range e.events() {
		if strings.HasPrefix(ev.Object, "webhook/") {
			n++
		}
		if b, _ := json.Marshal(ev); strings.Contains(string(b), hookSecret) {
			t.Errorf("event %d holds the secret: %s", ev.Seq, b)
		}
	}
	if n != 7 {
		t.Errorf("%d webhook events, want 7 (2 creates, 3 updates, 1 create, 1 delete)", n)
	}
}

// TestApplyNotify: the notify key of an apply creates webhooks (named
// as the state file names them) and never answers their secret.
func TestApplyNotify(t *testing.T) {
	e := newEnv(t)
	st := desiredState()
	st["notify"] = []any{
		map[string]any{"url": "https://hooks.example/meridian", "secret": hookSecret},
		map[string]any{"name": "pager", "url": "https://pager.example/hook"},
	}
	r := e.post("/api/v1/apply", st).want(200)
	if strings.Contains(string(r.Body), hookSecret) {
		t.Errorf("the apply answer holds the secret: %s", r.Body)
	}
	var res struct {
		Changes []struct {
			Kind  string         `json:"kind"`
			Name  string         `json:"name"`
			After map[string]any `json:"after"`
		} `json:"changes"`
	}
	r.decode(&res)
	var hooks []string
	for _, c := range res.Changes {
		if c.Kind == "webhook" {
			hooks = append(hooks, c.Name)
			if _, leaked := c.After["secret"]; leaked {
				t.Errorf("change %s shows the secret", c.Name)
			}
		}
	}
	// Without a URL a webhook is invalid, as in the state file.
	bad := desiredState()
	bad["notify"] = []any{map[string]any{"name": "x"}}
	e.post("/api/v1/apply", bad).want(422)

	if len(hooks) != 2 || storedWebhook(t, e, model.WebhookName("https://hooks.example/meridian")).Secret != hookSecret {
		t.Errorf("webhook changes = %q", hooks)
	}
	for _, ev := range e.events() {
		if b, _ := json.Marshal(ev); strings.Contains(string(b), hookSecret) {
			t.Errorf("event %d holds the secret: %s", ev.Seq, b)
		}
	}
}
