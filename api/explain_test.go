package api

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestExplain(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var ex struct {
		Rcode  string   `json:"rcode"`
		Kind   string   `json:"kind"`
		Answer []string `json:"answer"`
	}
	e.get("/api/v1/explain?name=app.example.org&type=a&client=192.0.2.77").want(200).decode(&ex)
	if ex.Rcode != "NOERROR" || ex.Kind != "service" || len(ex.Answer) == 0 {
		t.Errorf("explain = %+v", ex)
	}
	e.get("/api/v1/explain?name=app.example.org&client=2.2.3.0/24&resolver=192.0.2.53").want(200)
	e.get("/api/v1/explain?name=nope.example.com&client=192.0.2.1").want(200).decode(&ex)
	if ex.Rcode != "REFUSED" {
		t.Errorf("a name outside the zones: %+v", ex)
	}
	for _, bad := range []string{
		"?client=192.0.2.1",
		"?name=a..b&client=192.0.2.1",
		"?name=app.example.org",
		"?name=app.example.org&client=somewhere",
		"?name=app.example.org&client=2.2.3.4/24",
		"?name=app.example.org&client=192.0.2.1&resolver=192.0.2.53",
		"?name=app.example.org&client=2.2.3.0/24&resolver=x",
		"?name=app.example.org&type=A*&client=192.0.2.1",
	} {
		p := e.get("/api/v1/explain" + bad).want(400).problem()
		if len(p.Errors) != 1 {
			t.Errorf("%s: %+v", bad, p)
		}
	}

	// The query reaches Explain as parsed.
	var got []any
	e2 := newEnv(t, func(c *Config) {
		c.Explain = func(_ context.Context, name, qtype string, client netip.Addr, ecs netip.Prefix) (any, error) {
			got = []any{name, qtype, client.String(), ecs.String()}
			if name == "down.example.org." {
				return nil, errors.New("no snapshot yet")
			}
			return map[string]any{"query": map[string]any{}, "rcode": "NOERROR", "kind": "static", "answer": []string{}}, nil
		}
	})
	e2.get("/api/v1/explain?name=App.Example.org&type=aaaa&client=2001:db8::/48").want(200)
	if want := []any{"app.example.org.", "AAAA", "127.0.0.1", "2001:db8::/48"}; !slices.Equal(got, want) {
		t.Errorf("Explain got %v, want %v", got, want)
	}
	e2.get("/api/v1/explain?name=down.example.org&client=192.0.2.1").want(503).problem()
	e3 := newEnv(t, func(c *Config) { c.Explain = nil })
	e3.get("/api/v1/explain?name=app.example.org&client=192.0.2.1").want(501).problem()
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var doc struct {
		Services []struct {
			Service string `json:"service"`
			Regions []struct {
				Region      string   `json:"region"`
				Datacenters []string `json:"datacenters"`
			} `json:"regions"`
		} `json:"services"`
	}
	e.get("/api/v1/routing").want(200).decode(&doc)
	if len(doc.Services) == 0 || len(doc.Services[0].Regions) == 0 {
		t.Fatalf("routing = %+v", doc)
	}
	for _, s := range doc.Services {
		if last := s.Regions[len(s.Regions)-1]; last.Region != "" {
			t.Errorf("%s: the last entry is %q, want the no-region clients", s.Service, last.Region)
		}
	}
	e3 := newEnv(t, func(c *Config) { c.Routing = nil })
	e3.get("/api/v1/routing").want(501).problem()
	e4 := newEnv(t, func(c *Config) {
		c.Routing = func(context.Context) (any, error) { return nil, errors.New("no snapshot yet") }
	})
	e4.get("/api/v1/routing").want(503).problem()
}
