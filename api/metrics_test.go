package api

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.get("/api/v1/datacenters/fra").want(200)
	e.get("/api/v1/datacenters/nope").want(404)
	e.get("/api/v1/no-such-route").want(404)
	e.do(req{method: "GET", path: "/api/v1/zones", token: "-"}).want(401)

	// Routes are labelled by pattern, never by path.
	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"/api/v1/datacenters/{name}", "GET", "200", 1},
		{"/api/v1/datacenters/{name}", "GET", "404", 1},
		{"/api/v1/datacenters", "POST", "201", 2},
		{"/api/v1/zones", "GET", "401", 1},
		{unmatchedRoute, "GET", "404", 1},
	} {
		got := testutil.ToFloat64(e.srv.metrics.requests.WithLabelValues(c.route, c.method, c.code))
		if got != c.want {
			t.Errorf("requests{%s %s %s} = %v, want %v", c.route, c.method, c.code, got, c.want)
		}
	}
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if !strings.HasPrefix(mf.GetName(), "meridian_api_") {
			t.Errorf("metric %s does not begin with meridian_api_", mf.GetName())
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), "fra") {
					t.Errorf("route label %q holds a raw path", l.GetValue())
				}
			}
		}
	}
	for _, want := range []string{"meridian_api_requests_total", "meridian_api_request_duration_seconds"} {
		if !names[want] {
			t.Errorf("metric %s missing", want)
		}
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	// /metrics serves the gatherer.
	body := string(e.do(req{method: "GET", path: "/metrics", token: "-"}).want(200).Body)
	if !strings.Contains(body, `meridian_api_requests_total{code="200",method="GET",route="/api/v1/datacenters/{name}"}`) {
		t.Errorf("/metrics lacks the request counter:\n%s", body)
	}

	// A second server on the same registry shares the collectors.
	if _, err := New(Config{Store: e.st, Registerer: e.reg}); err != nil {
		t.Errorf("second New on one registry: %v", err)
	}
}
