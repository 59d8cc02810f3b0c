package api

import (
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// Failed authentications are limited per source address: after the
// burst, every request with a token from that address gets 429 with
// Retry-After (a correct token too), another address is unaffected, the
// allowance refills, and the audit log shows each denial.
func TestAuthFailuresLimited(t *testing.T) {
	const burst, per = 3, 3 * time.Second
	e := newEnv(t, func(c *Config) { c.AuthFailures = AuthFailures{Burst: burst, Per: per} })
	bad := req{method: "GET", path: "/api/v1/datacenters", token: "mer_wrong"}
	for i := 0; i < burst; i++ {
		e.do(bad).want(http.StatusUnauthorized)
	}
	r := e.do(req{method: "GET", path: "/api/v1/datacenters"}).want(http.StatusTooManyRequests) // the admin token
	wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || wait < 1 || wait > int(per/time.Second) {
		t.Errorf("Retry-After = %q, want 1-%d seconds", r.Header.Get("Retry-After"), int(per/time.Second))
	}
	if p := r.problem(); !strings.Contains(p.Detail, "too many failed authentications from 127.0.0.1") {
		t.Errorf("429 detail = %q", p.Detail)
	}

	// Another source address (127.0.0.2 on the same loopback) is fine.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	hr, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/datacenters", nil)
	hr.Header.Set("Authorization", "Bearer "+adminSecret)
	res, err := other.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("from 127.0.0.2: status %d, want 200", res.StatusCode)
	}

	// One failure is refilled every per/burst: after that the correct
	// token works again (this waits out a real refill, a second).
	deadline := time.Now().Add(per)
	for e.do(req{method: "GET", path: "/api/v1/datacenters"}).Status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("still limited after %v", per)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The audit log: each denial, the limit, and no secret.
	var events struct {
		Items []struct{ Type, Actor, Object, Detail string } `json:"items"`
	}
	e.get("/api/v1/events").want(200).decode(&events)
	denied, limited := 0, 0
	for _, ev := range events.Items {
		switch ev.Type {
		case "auth_denied":
			denied++
			if ev.Actor != "127.0.0.1" || ev.Object != "route/GET /api/v1/datacenters" {
				t.Errorf("auth_denied event = %+v", ev)
			}
		case "auth_limited":
			limited++
		}
		if strings.Contains(ev.Detail, "mer_wrong") {
			t.Errorf("an event holds the token: %+v", ev)
		}
	}
	if denied != burst || limited != 1 {
		t.Errorf("%d auth_denied and %d auth_limited events, want %d and 1", denied, limited, burst)
	}
}

// A role that may not use a route is a denied attempt in the audit log.
func TestAccessDeniedAudited(t *testing.T) {
	e := newEnv(t)
	read := e.token("viewer", model.RoleRead)
	e.do(req{method: "POST", path: "/api/v1/datacenters", token: read, body: map[string]any{"name": "x"}}).want(http.StatusForbidden)
	var events struct {
		Items []struct{ Type, Actor, Object string } `json:"items"`
	}
	e.get("/api/v1/events").want(200).decode(&events)
	for _, ev := range events.Items {
		if ev.Type == "access_denied" && ev.Actor == "viewer" && ev.Object == "route/POST /api/v1/datacenters" {
			return
		}
	}
	t.Errorf("no access_denied event for viewer: %+v", events.Items)
}

// whoami tells every role who it is, and is no denied attempt.
func TestWhoami(t *testing.T) {
	e := newEnv(t)
	for _, role := range []model.Role{model.RoleRead, model.RoleChecker, model.RoleAdmin} {
		tok := e.token("t-"+string(role), role)
		var who struct{ Name, Role string }
		e.do(req{method: "GET", path: "/api/v1/whoami", token: tok}).want(http.StatusOK).decode(&who)
		if who.Name != "t-"+string(role) || who.Role != string(role) {
			t.Errorf("whoami for a %s token = %+v", role, who)
		}
	}
	e.do(req{method: "GET", path: "/api/v1/whoami", token: "-"}).want(http.StatusUnauthorized)
	var events struct {
		Items []struct{ Type string } `json:"items"`
	}
	e.get("/api/v1/events").want(200).decode(&events)
	for _, ev := range events.Items {
		if ev.Type == "access_denied" {
			t.Errorf("whoami left an access_denied event")
		}
	}
}
