package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// backend is a real HTTP health endpoint on loopback that a test stops
// (its listener closes: connections are refused) and starts again on the
// same address.
type backend struct {
	t    *testing.T
	addr string
	// handler answers /healthz; nil means 200 "ok".
	handler http.HandlerFunc

	mu  sync.Mutex
	srv *http.Server
}

func newBackend(t *testing.T, handler http.HandlerFunc) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{t: t, addr: ln.Addr().String(), handler: handler}
	b.serve(ln)
	t.Cleanup(b.stop)
	return b
}

func (b *backend) serve(ln net.Listener) {
	h := b.handler
	if h == nil {
		h = func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", h)
	b.mu.Lock()
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	srv := b.srv
	b.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

func (b *backend) start() {
	b.t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port was ours a moment ago
		if ln, err = net.Listen("tcp", b.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.t.Fatalf("restarting backend on %s: %v", b.addr, err)
	}
	b.serve(ln)
}

// twoDCState is a state file with one failover service over two data
// centers, each endpoint probed at its backend.
func twoDCState(t *testing.T, check, primary, secondary string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.yaml")
	writeFile(t, path, fmt.Sprintf(`zones:
  - name: gslb.test
    nameservers: [{name: ns1.gslb.test, address: 127.0.0.1}]
datacenters:
  - {name: alpha, location: {lat: 50, lon: 8}}
  - {name: beta, location: {lat: 39, lon: -77}}
services:
  - name: api.gslb.test
    type: A
    policy: failover
    check: %s
    endpoints:
      - {datacenter: alpha, address: 192.0.2.1, priority: 1, check_target: "%s"}
      - {datacenter: beta, address: 192.0.2.2, priority: 2, check_target: "%s"}
`, check, primary, secondary))
	return path
}

// answerOf is the A records of api.gslb.test, sorted.
func answerOf(t *testing.T, p *proc) []string {
	t.Helper()
	return aRecords(query(t, "udp", p.udp, "api.gslb.test.", dns.TypeA))
}

// aRecords is the addresses of the A records of r's answer, sorted.
func aRecords(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

// waitAnswer polls the DNS answer until it equals want, and returns how
// long that took, failing after limit.
func waitAnswer(t *testing.T, p *proc, want []string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := answerOf(t, p)
		if slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("answer %v, want %v, not reached within %v\n%s", got, want, limit, p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verdictOf reads the stored verdict's health on an endpoint, or "".
func verdictOf(t *testing.T, p *proc, token, endpoint string) string {
	t.Helper()
	code, body := apiCall(t, "GET", "http://"+p.http+"/api/v1/verdicts", token, nil)
	if code != http.StatusOK {
		t.Fatalf("GET verdicts: %d %s", code, body)
	}
	var list struct {
		Items []struct {
			Endpoint string `json:"endpoint"`
			Health   string `json:"health"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	for _, v := range list.Items {
		if v.Endpoint == endpoint {
			return v.Health
		}
	}
	return ""
}

// waitVerdict polls until the endpoint's verdict is want.
func waitVerdict(t *testing.T, p *proc, token, endpoint, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for verdictOf(t, p, token, endpoint) != want {
		if time.Now().After(deadline) {
			t.Fatalf("verdict on %s is not %s after %v\n%s", endpoint, want, limit, p.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const testAdminToken = "test-admin-token-0123456789"

// TestFailoverEndToEnd: the real binary, its embedded checker and two
// real HTTP backends behind a failover service. Stopping the primary's
// backend takes it out of the DNS answer within interval × fall + 1 s;
// starting it again brings it back within interval × rise + 1 s.
func TestFailoverEndToEnd(t *testing.T) {
	const (
		interval   = time.Second
		rise, fall = 2, 3
		runs       = 3
	)
	primary, secondary := newBackend(t, nil), newBackend(t, nil)
	check := fmt.Sprintf("{type: http, path: /healthz, interval: %v, timeout: 500ms, rise: %d, fall: %d}", interval, rise, fall)
	state := twoDCState(t, check, primary.addr, secondary.addr)
	p := startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken}, "--state", state, "--data-dir", t.TempDir())

	// Cold start: unknown serves like up, so the primary answers at once.
	if got := answerOf(t, p); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Fatalf("cold start answer %v, want the primary", got)
	}
	waitVerdict(t, p, testAdminToken, "192.0.2.1", "up", interval*rise+5*time.Second)

	downBound, upBound := interval*fall+time.Second, interval*rise+time.Second
	var downs, ups []time.Duration
	for i := 0; i < runs; i++ {
		primary.stop()
		downs = append(downs, waitAnswer(t, p, []string{"192.0.2.2"}, downBound))
		primary.start()
		ups = append(ups, waitAnswer(t, p, []string{"192.0.2.1"}, upBound))
	}
	slices.Sort(downs)
	slices.Sort(ups)
	t.Logf("failover (interval %v, fall %d): out of DNS after %v (median of %d; all %v; bound %v)", interval, fall, downs[runs/2], runs, downs, downBound)
	t.Logf("recovery (interval %v, rise %d): back in DNS after %v (median of %d; all %v; bound %v)", interval, rise, ups[runs/2], runs, ups, upBound)

	// Each change is an event with the votes' errors, on the stream's log.
	code, body := apiCall(t, "GET", "http://"+p.http+"/api/v1/events?object=endpoint/", testAdminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("GET events: %d %s", code, body)
	}
	var events struct {
		Items []struct {
			Type, Object, Before, After, Detail string
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &events); err != nil {
		t.Fatal(err)
	}
	var downEvents int
	for _, e := range events.Items {
		if e.Type == "verdict" && e.After == "down" && e.Before == "up" {
			downEvents++
			if e.Detail == "" {
				t.Errorf("verdict event without detail: %+v", e)
			}
		}
	}
	if downEvents != runs {
		t.Errorf("%d up→down verdict events, want %d: %s", downEvents, runs, body)
	}

	// The checker's metrics: probes by type and result, their latency,
	// verdict changes, the checkers seen and their last report's age.
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`meridian_checker_probes_total{result="down",type="http"}`, `meridian_checker_probes_total{result="up",type="http"}`,
		`meridian_checker_probe_duration_seconds_bucket{type="http"`, `meridian_verdict_changes_total{to="down"} 3`,
		`meridian_checkers{state="fresh"} 1`, `meridian_checker_last_report_age_seconds{checker=`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	p.stop(t)
}

// TestFlappingBackendDoesNotFlapDNS: a backend whose health alternates on
// every probe (the fastest flapping a checker can see: a square wave of
// half the interval phase-locks with a fixed-rate prober, this does not)
// never reaches rise or fall consecutive results, so the answer does not
// move at all.
func TestFlappingBackendDoesNotFlapDNS(t *testing.T) {
	var n, ups, downs atomic.Int64
	flapping := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%2 == 0 {
			downs.Add(1)
			http.Error(w, "flap", http.StatusServiceUnavailable)
			return
		}
		ups.Add(1)
		fmt.Fprintln(w, "ok")
	})
	steady := newBackend(t, nil)
	state := twoDCState(t, "{type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 2}", flapping.addr, steady.addr)
	p := startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken}, "--state", state, "--data-dir", t.TempDir())

	deadline := time.Now().Add(8 * time.Second)
	changes, last := 0, answerOf(t, p)
	for time.Now().Before(deadline) {
		got := answerOf(t, p)
		if !slices.Equal(got, last) {
			changes++
			last = got
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ups.Load() < 3 || downs.Load() < 3 {
		t.Fatalf("the backend did not flap: %d up and %d down answers", ups.Load(), downs.Load())
	}
	if changes != 0 || !slices.Equal(last, []string{"192.0.2.1"}) {
		t.Errorf("answer changed %d times (ending %v) while the backend alternated every probe; rise and fall of 2 allow none", changes, last)
	}
	if h := verdictOf(t, p, testAdminToken, "192.0.2.1"); h == "down" {
		t.Errorf("flapping endpoint's verdict is down")
	}
	t.Logf("flapping backend: %d up and %d down answers, 0 DNS answer changes", ups.Load(), downs.Load())
	p.stop(t)
}
