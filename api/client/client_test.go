package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

// pager serves /api/v1/things as the API pages lists: ?limit= and
// ?after=, answering {"items", "next"}.
func pager(t *testing.T, n int) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"type":"urn:meridian:problem:unauthorized","title":"Unauthorized","status":401,"detail":"no token"}`)
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		if limit < 1 || limit > MaxPageSize {
			t.Errorf("limit %q", r.URL.Query().Get("limit"))
			limit = 100
		}
		start := 0
		if a := r.URL.Query().Get("after"); a != "" {
			start, _ = strconv.Atoi(a)
		}
		page := struct {
			Items []map[string]int `json:"items"`
			Next  string           `json:"next"`
		}{Items: []map[string]int{}}
		for i := start + 1; i <= n && len(page.Items) < limit; i++ {
			page.Items = append(page.Items, map[string]int{"seq": i})
		}
		if last := start + len(page.Items); last < n {
			page.Next = strconv.Itoa(last)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	}))
}

func TestListFollowsPages(t *testing.T) {
	srv := pager(t, 2500)
	defer srv.Close()
	c, err := New(srv.URL, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ max, want int }{{0, 2500}, {1500, 1500}, {3, 3}} {
		items, err := c.List(context.Background(), "/api/v1/things", nil, tt.max)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != tt.want {
			t.Errorf("List(max %d): %d items, want %d", tt.max, len(items), tt.want)
		}
		var last struct{ Seq int }
		_ = json.Unmarshal(items[len(items)-1], &last)
		if last.Seq != tt.want {
			t.Errorf("List(max %d): last seq %d", tt.max, last.Seq)
		}
	}
}

func TestErrors(t *testing.T) {
	srv := pager(t, 1)
	defer srv.Close()
	c, _ := New(srv.URL, "wrong", nil)
	_, err := c.List(context.Background(), "/api/v1/things", nil, 0)
	var p *Problem
	if !errors.As(err, &p) || p.Status != 401 || p.Detail != "no token" || !IsStatus(err, 401) {
		t.Errorf("wrong token: %v", err)
	}

	// Not a problem document: made up from the status.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway from the proxy", http.StatusBadGateway)
	}))
	defer plain.Close()
	c, _ = New(plain.URL, "tok", nil)
	err = c.GetJSON(context.Background(), "/api/v1/x", nil, new(json.RawMessage))
	if !errors.As(err, &p) || p.Status != 502 || p.Title != "Bad Gateway" || p.Detail != "bad gateway from the proxy" {
		t.Errorf("plain error: %#v", err)
	}

	// Nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, _ = New(addr, "tok", nil)
	err = c.GetJSON(context.Background(), "/api/v1/x", nil, new(json.RawMessage))
	var ne *NetworkError
	if !errors.As(err, &ne) || ne.Server != "http://"+addr {
		t.Errorf("closed port: %#v", err)
	}
}

func TestParseServer(t *testing.T) {
	for in, want := range map[string]string{
		"":                          DefaultServer,
		"127.0.0.1:8053":            "http://127.0.0.1:8053",
		"https://gslb.example/":     "https://gslb.example",
		"http://proxy/meridian/":    "http://proxy/meridian",
		"http://[2001:db8::1]:8053": "http://[2001:db8::1]:8053",
	} {
		u, err := ParseServer(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseServer(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "http://x/?a=b", "http://x y"} {
		if _, err := ParseServer(bad); err == nil {
			t.Errorf("ParseServer(%q) accepted", bad)
		}
	}
}

func TestObjectPath(t *testing.T) {
	for _, tt := range []struct {
		kind       model.Kind
		name, path string
		query      string
	}{
		{model.KindDatacenter, "fra", "/api/v1/datacenters/fra", ""},
		{model.KindService, "app.example.test.", "/api/v1/services/app.example.test.", ""},
		{model.KindService, "app.example.test./AAAA", "/api/v1/services/app.example.test.", "type=AAAA"},
		{model.KindOverride, "datacenter/fra", "/api/v1/overrides/datacenter/fra", ""},
		{model.KindOverride, "endpoint/app.example.test./AAAA/2001:db8::1", "/api/v1/overrides/endpoint/app.example.test./AAAA/2001:db8::1", ""},
		{model.KindToken, "a b", "/api/v1/tokens/a%20b", ""},
	} {
		path, q := ObjectPath(tt.kind, tt.name)
		if path != tt.path || q.Encode() != tt.query {
			t.Errorf("ObjectPath(%s, %q) = %s ?%s, want %s ?%s", tt.kind, tt.name, path, q.Encode(), tt.path, tt.query)
		}
	}
}
