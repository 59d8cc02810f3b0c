package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// TestAuthMatrix: every role against every class of route, and requests
// without a token, with a wrong one and with a revoked one.
func TestAuthMatrix(t *testing.T) {
	e := newEnv(t)
	e.seed()
	secrets := map[string]string{
		"env-admin": adminSecret,
		"admin":     e.token("ops", model.RoleAdmin),
		"read":      e.token("oncall", model.RoleRead),
		"checker":   e.token("probe-1", model.RoleChecker),
		"none":      "-",
		"wrong":     SecretPrefix + "not-a-token",
	}
	revoked := e.token("old", model.RoleAdmin)
	e.del("/api/v1/tokens/old").want(204)
	secrets["revoked"] = revoked
	// Put a checker in the store (the checker issue adds registration).
	_, err := e.st.Update(t.Context(), func(tx store.Tx) error {
		return store.Put(tx, &model.Checker{Name: "probe-1"}, 0)
	})
	if err != nil {
		t.Fatal(err)
	}

	var n atomic.Int64
	unique := func() string { return fmt.Sprintf("x%d", n.Add(1)) }
	type route struct {
		class        string
		method, path string
		body         func() any
		ok           int
	}
	routes := []route{
		{"read", "GET", "/api/v1/datacenters", nil, 200},
		{"read", "GET", "/api/v1/services/app.example.org", nil, 200},
		{"read", "GET", "/api/v1/events?limit=1", nil, 200},
		{"read", "GET", "/api/v1/explain?name=app.example.org&client=192.0.2.1", nil, 200},
		{"read", "GET", "/api/v1/stream", nil, 200},
		{"write", "POST", "/api/v1/datacenters", func() any { return dc(unique(), "", 1, 1) }, 201},
		{"write", "PUT", "/api/v1/regions/ap", func() any { return map[string]any{"name": "ap"} }, 0},
		{"write", "POST", "/api/v1/overrides", func() any {
			return map[string]any{"target": "datacenter/iad", "action": "drain", "reason": "test"}
		}, 0},
		{"write", "POST", "/api/v1/apply?dry_run=true", func() any { return map[string]any{} }, 200},
		{"read", "GET", "/api/v1/verdicts", nil, 200},
		{"read", "GET", "/api/v1/webhooks", nil, 200},
		{"write", "POST", "/api/v1/webhooks", func() any { return map[string]any{"url": "https://hooks.example/" + unique()} }, 201},
		{"checker", "GET", "/api/v1/checkers", nil, 200},
		{"checker", "GET", "/api/v1/checkers/probe-1", nil, 200},
		{"tokens", "GET", "/api/v1/tokens", nil, 200},
		{"tokens", "POST", "/api/v1/tokens", func() any { return map[string]any{"name": unique(), "role": "read"} }, 201},
	}
	allowed := map[string][]string{
		"env-admin": {"read", "write", "checker", "tokens"},
		"admin":     {"read", "write", "checker", "tokens"},
		"read":      {"read", "checker"},
		"checker":   {"checker"},
	}
	for who, secret := range secrets {
		for _, rt := range routes {
			t.Run(who+" "+rt.method+" "+rt.path, func(t *testing.T) {
				var status int
				var hdr http.Header
				if rt.path == "/api/v1/stream" {
					res, cancel := e.open(rt.path, secret, nil)
					status, hdr = res.StatusCode, res.Header
					cancel()
				} else {
					rq := req{method: rt.method, path: rt.path, token: secret}
					if rt.body != nil {
						rq.body = rt.body()
					}
					r := e.do(rq)
					status, hdr = r.Status, r.Header
					if status >= 400 {
						r.problem()
					}
				}
				switch {
				case allowed[who] == nil: // no valid token
					if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("status %d, WWW-Authenticate %q; want 401 with a Bearer challenge", status, hdr.Get("WWW-Authenticate"))
					}
				case !slices.Contains(allowed[who], rt.class):
					if status != http.StatusForbidden {
						t.Errorf("status %d, want 403", status)
					}
				case rt.ok != 0 && status != rt.ok, status == 401, status == 403:
					t.Errorf("status %d, want %d", status, rt.ok)
				}
			})
		}
	}

	// Writes record who made them.
	evs := e.events()
	actors := map[string]bool{}
	for _, ev := range evs {
		actors[ev.Actor] = true
	}
	for _, want := range []string{EnvAdminActor, "ops"} {
		if !actors[want] {
			t.Errorf("no event by %q; actors %v", want, actors)
		}
	}
}

// TestPublicRoutes: health, readiness, metrics and the document need no
// token.
func TestPublicRoutes(t *testing.T) {
	var ready atomic.Bool
	e := newEnv(t, func(c *Config) {
		c.Ready = func() error {
			if !ready.Load() {
				return fmt.Errorf("starting")
			}
			return nil
		}
	})
	e.do(req{method: "GET", path: "/healthz", token: "-"}).want(200)
	var body map[string]string
	e.do(req{method: "GET", path: "/readyz", token: "-"}).want(503).decode(&body)
	if body["reason"] != "starting" {
		t.Errorf("/readyz = %v", body)
	}
	ready.Store(true)
	e.do(req{method: "GET", path: "/readyz", token: "-"}).want(200)
	e.do(req{method: "POST", path: "/readyz", token: "-", body: "{}"}).want(405)
	e.do(req{method: "GET", path: "/metrics", token: "-"}).want(200)
	e.do(req{method: "GET", path: "/api/v1/openapi.json", token: "-"}).want(200)
	e.do(req{method: "GET", path: "/api/v1/zones", token: "-"}).want(401)
	e.do(req{method: "GET", path: "/api/v1/zones", header: map[string]string{"Authorization": "Basic " + adminSecret}, token: "-"}).want(401)
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AdminToken = "" })
	ctx := context.Background()
	secret, err := e.srv.Bootstrap(ctx)
	if err != nil || !strings.HasPrefix(secret, SecretPrefix) {
		t.Fatalf("first Bootstrap = %q, %v", secret, err)
	}
	tokens := storedTokens(t, e.st)
	if len(tokens) != 1 || tokens[0].Name != BootstrapTokenName || tokens[0].Role != model.RoleAdmin {
		t.Fatalf("tokens after bootstrap = %+v", tokens)
	}
	e.do(req{method: "GET", path: "/api/v1/tokens", token: secret}).want(200)
	e.do(req{method: "GET", path: "/api/v1/tokens", token: adminSecret}).want(401) // no env token configured

	// A second start, on the same store, creates nothing.
	again, err := New(Config{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := again.Bootstrap(ctx); s != "" || err != nil {
		t.Errorf("second Bootstrap = %q, %v", s, err)
	}
	if n := len(storedTokens(t, e.st)); n != 1 {
		t.Errorf("%d tokens after the second start", n)
	}
}

func TestBootstrapWithAdminToken(t *testing.T) {
	e := newEnv(t) // AdminToken set
	if s, err := e.srv.Bootstrap(context.Background()); s != "" || err != nil {
		t.Fatalf("Bootstrap = %q, %v", s, err)
	}
	if n := len(storedTokens(t, e.st)); n != 0 {
		t.Errorf("%d tokens stored, want none", n)
	}
	e.post("/api/v1/regions", map[string]any{"name": "eu"}).want(201)
	if evs := e.events(); len(evs) != 1 || evs[0].Actor != EnvAdminActor {
		t.Errorf("events = %+v", evs)
	}
}

func TestBootstrapNameTaken(t *testing.T) {
	e := newEnv(t)
	e.token(BootstrapTokenName, model.RoleRead)
	srv, err := New(Config{Store: e.st})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := srv.Bootstrap(context.Background()); s == "" || err != nil {
		t.Fatalf("Bootstrap = %q, %v", s, err)
	}
	tokens := storedTokens(t, e.st)
	if len(tokens) != 2 || tokens[1].Name != "admin-2" || tokens[1].Role != model.RoleAdmin {
		t.Errorf("tokens = %+v", tokens)
	}
}

func storedTokens(t *testing.T, st store.Store) []model.Token {
	t.Helper()
	var out []model.Token
	err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		out, err = store.List[model.Token](tx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
