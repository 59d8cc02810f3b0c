package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// apiCall makes one API request and returns the status and body.
func apiCall(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// startServeEnv is startServe with extra environment variables (restored
// when the test ends).
func startServeEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	return startServe(t, args...)
}

// TestBootstrapTokenPrintedOnce: the first start with no admin token
// creates one and prints it once; the printed token works; a restart
// prints nothing.
func TestBootstrapTokenPrintedOnce(t *testing.T) {
	data := t.TempDir()
	p := startServe(t, "--data-dir", data)
	var secret string
	for _, line := range strings.Split(p.Logs(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["token"] != nil {
			secret = e["token"].(string)
		}
	}
	if secret == "" {
		t.Fatalf("no admin token in the first start's log:\n%s", p.Logs())
	}
	if code, body := apiCall(t, "GET", "http://"+p.http+"/api/v1/tokens", secret, nil); code != http.StatusOK {
		t.Errorf("the printed token does not work: %d %s", code, body)
	}
	if code, _ := apiCall(t, "GET", "http://"+p.http+"/api/v1/tokens", "wrong", nil); code != http.StatusUnauthorized {
		t.Errorf("a wrong token: %d, want 401", code)
	}
	p.stop(t)
	p = startServe(t, "--data-dir", data)
	if strings.Contains(p.Logs(), secret) || strings.Contains(p.Logs(), "first admin token") {
		t.Errorf("a restart printed a token again:\n%s", p.Logs())
	}
	p.stop(t)
}

// TestAPIChangeReachesDNS: a service changed through the API is answered
// over DNS shortly after; the time is measured and logged.
func TestAPIChangeReachesDNS(t *testing.T) {
	const token = "test-admin-token-0123456789"
	p := startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + token}, "--config", "../../examples/meridian.yaml", "--data-dir", t.TempDir())
	base := "http://" + p.http + "/api/v1"
	if code, body := apiCall(t, "GET", base+"/datacenters/fra", token, nil); code != http.StatusOK {
		t.Fatalf("GET datacenters/fra: %d %s", code, body)
	}
	var took []time.Duration
	for i, addr := range []string{"192.0.2.51", "192.0.2.52", "192.0.2.53", "192.0.2.54", "192.0.2.55"} {
		svc := map[string]any{
			"name": "cdn.gslb.example.test.", "type": "A", "policy": "all",
			"endpoints": []map[string]any{{"datacenter": "fra", "address": addr}},
		}
		start := time.Now()
		code, body := apiCall(t, "PUT", base+"/services/cdn.gslb.example.test?type=A", token, svc)
		if code != http.StatusOK {
			t.Fatalf("PUT service: %d %s", code, body)
		}
		for {
			r := query(t, "udp", p.udp, "cdn.gslb.example.test.", dns.TypeA)
			if len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == addr {
				break
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("change %d not answered after 2s: %v", i, r.Answer)
			}
		}
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(a, b int) bool { return took[a] < took[b] })
	t.Logf("API write to DNS answer, 5 changes: median %v, max %v (HTTP request, commit, rebuild, swap, query)", took[2], took[4])
	if took[2] > 100*time.Millisecond {
		t.Errorf("median %v from API write to DNS answer, want within 100ms", took[2])
	}

	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"meridian_api_requests_total", "meridian_dns_queries_total", "meridian_dns_snapshot_builds_total",
		"meridian_store_revision", "meridian_go_goroutines", "meridian_process_cpu_seconds_total"} {
		if !strings.Contains(string(metrics), name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for _, line := range strings.Split(string(metrics), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "meridian_") {
			t.Errorf("/metrics has a series not named meridian_*: %s", line)
		}
	}
	p.stop(t)
}
