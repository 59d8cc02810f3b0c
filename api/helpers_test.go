package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// The tests wire the Server the way cmd does: a real bbolt store, the
// DNS server's zone-file parser, its snapshot build as the whole-state
// check, and its Explain. Only the test files import dnsserver; the
// package itself must not (TestLayering).

const adminSecret = "test-admin-secret-0123456789"

// env is one running API over a fresh store.
type env struct {
	t   testing.TB
	srv *Server
	ts  *httptest.Server
	st  *store.Bolt
	reg *prometheus.Registry
}

type option func(*Config)

func newEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	return newEnvServer(t, nil, opts...)
}

// newEnvServer is newEnv with a hook to set up the http.Server before it
// starts (timeouts).
func newEnvServer(t testing.TB, setup func(*http.Server), opts ...option) *env {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "meridian.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := Config{
		Store:         st,
		Registerer:    reg,
		Gatherer:      reg,
		ParseZone:     dnsserver.ParseZoneFile,
		ValidateState: validateWithBuild,
		Explain:       explainWith(st),
		Routing:       routingWith(st),
		AdminToken:    adminSecret,
		// The access tests send many bad tokens from one address;
		// TestAuthFailuresLimited tests the limit itself.
		AuthFailures: AuthFailures{Burst: 100000},
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.RegisterOnShutdown(srv.CloseStreams)
	if setup != nil {
		setup(ts.Config)
	}
	ts.Start()
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		_ = st.Close()
	})
	return &env{t: t, srv: srv, ts: ts, st: st, reg: reg}
}

// validateWithBuild is what cmd passes as Config.ValidateState.
func validateWithBuild(st *model.State) error {
	if err := st.Validate(); err != nil {
		return err
	}
	_, err := dnsserver.Build(st, 0, dnsserver.BuildOptions{})
	return err
}

// explainWith is what cmd passes as Config.Explain, reading the store
// instead of the live snapshot.
func explainWith(st store.Store) ExplainFunc {
	return func(ctx context.Context, name, qtype string, client netip.Addr, ecs netip.Prefix) (any, error) {
		state, rev, err := store.LoadState(ctx, st)
		if err != nil {
			return nil, err
		}
		snap, err := dnsserver.Build(state, rev, dnsserver.BuildOptions{})
		if err != nil {
			return nil, err
		}
		return snap.Explain(dnsserver.ExplainQuery{Name: name, Type: qtype, Client: client, ECS: ecs}), nil
	}
}

// routingWith serves the routing of a snapshot built from st.
func routingWith(st store.Store) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		state, rev, err := store.LoadState(ctx, st)
		if err != nil {
			return nil, err
		}
		snap, err := dnsserver.Build(state, rev, dnsserver.BuildOptions{})
		if err != nil {
			return nil, err
		}
		return snap.Routing(), nil
	}
}

// response is a finished request: its status, header and body.
type response struct {
	t      testing.TB
	Status int
	Header http.Header
	Body   []byte
}

// decode decodes the body into v.
func (r *response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		r.t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

func (r *response) problem() Problem {
	r.t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		r.t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p Problem
	r.decode(&p)
	return p
}

// want fails the test unless the status is code.
func (r *response) want(code int) *response {
	r.t.Helper()
	if r.Status != code {
		r.t.Fatalf("status %d, want %d; body %s", r.Status, code, r.Body)
	}
	return r
}

// req describes a request: a JSON body (any value, or raw bytes as is),
// its content type, the token and extra headers.
type req struct {
	method, path string
	body         any
	contentType  string
	token        string // "" = the admin token; "-" = none
	header       map[string]string
}

// do sends rq and checks the answer against the OpenAPI document.
func (e *env) do(rq req) *response {
	e.t.Helper()
	var body []byte
	switch b := rq.body.(type) {
	case nil:
	case []byte:
		body = b
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	hr, err := http.NewRequest(rq.method, e.ts.URL+rq.path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if rq.body != nil {
		ct := rq.contentType
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	switch rq.token {
	case "":
		hr.Header.Set("Authorization", "Bearer "+adminSecret)
	case "-":
	default:
		hr.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		hr.Header.Set(k, v)
	}
	res, err := e.ts.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := &response{t: e.t, Status: res.StatusCode, Header: res.Header, Body: out}
	checkOpenAPI(e.t, hr, body, r)
	return r
}

// Shorthands.
func (e *env) get(path string) *response { e.t.Helper(); return e.do(req{method: "GET", path: path}) }
func (e *env) post(path string, body any) *response {
	e.t.Helper()
	return e.do(req{method: "POST", path: path, body: body})
}
func (e *env) put(path string, body any) *response {
	e.t.Helper()
	return e.do(req{method: "PUT", path: path, body: body})
}
func (e *env) del(path string) *response {
	e.t.Helper()
	return e.do(req{method: "DELETE", path: path})
}

// seed creates a small valid state through the API: zone example.org.
// with a static record, regions eu and us, data centers fra and iad, and
// the A service app.example.org. with an endpoint in each.
func (e *env) seed() {
	e.t.Helper()
	e.post("/api/v1/zones", map[string]any{
		"name": "example.org", "nameservers": []any{map[string]any{"name": "ns1.example.net."}},
		"records": []any{map[string]any{"name": "www.example.org.", "type": "A", "ttl": 300, "data": "192.0.2.10"}},
	}).want(201)
	e.post("/api/v1/regions", map[string]any{"name": "eu", "continents": []string{"EU"}}).want(201)
	e.post("/api/v1/regions", map[string]any{"name": "us", "countries": []string{"US"}}).want(201)
	e.post("/api/v1/datacenters", dc("fra", "eu", 50.1, 8.7)).want(201)
	e.post("/api/v1/datacenters", dc("iad", "us", 38.9, -77.4)).want(201)
	e.post("/api/v1/services", service("app.example.org.", "A", "fra", "192.0.2.1", "iad", "198.51.100.1")).want(201)
}

func dc(name, region string, lat, lon float64) map[string]any {
	return map[string]any{"name": name, "region": region, "location": map[string]any{"lat": lat, "lon": lon}}
}

// service is an A or AAAA service with endpoints given as data center,
// address pairs.
func service(name, typ string, pairs ...string) map[string]any {
	var eps []any
	for i := 0; i+1 < len(pairs); i += 2 {
		eps = append(eps, map[string]any{"datacenter": pairs[i], "address": pairs[i+1], "weight": 1})
	}
	return map[string]any{"name": name, "type": typ, "policy": "geo", "endpoints": eps}
}

// token creates a token of role through the API and returns its secret.
func (e *env) token(name string, role model.Role) string {
	e.t.Helper()
	var c struct {
		Secret string `json:"secret"`
	}
	e.post("/api/v1/tokens", map[string]any{"name": name, "role": role}).want(201).decode(&c)
	if !strings.HasPrefix(c.Secret, SecretPrefix) {
		e.t.Fatalf("secret %q lacks the prefix %q", c.Secret, SecretPrefix)
	}
	return c.Secret
}

// events returns the whole event log.
func (e *env) events() []model.Event {
	e.t.Helper()
	evs, err := store.ListEvents(context.Background(), e.st, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// open sends a GET for a stream and returns the response with its body
// unread, after checking status and headers against the document. The
// stream ends at cancel.
func (e *env) open(path, token string, header map[string]string) (*http.Response, context.CancelFunc) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	hr, err := http.NewRequestWithContext(ctx, "GET", e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	switch token {
	case "":
		hr.Header.Set("Authorization", "Bearer "+adminSecret)
	case "-":
	default:
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		hr.Header.Set(k, v)
	}
	res, err := e.ts.Client().Do(hr)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	r := &response{t: e.t, Status: res.StatusCode, Header: res.Header}
	if res.StatusCode != http.StatusOK {
		r.Body, _ = io.ReadAll(res.Body)
	}
	checkOpenAPIHead(e.t, hr, r)
	return res, func() { cancel(); res.Body.Close() }
}
