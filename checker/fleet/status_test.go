package fleet

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/meridian-gslb/meridian/store/model"
)

// TestStatus: data centers up, degraded and down with their counts, and
// the checkers fresh, isolated and stale with their ages.
func TestStatus(t *testing.T) {
	env := newTestEnv(t)
	st, err := env.e.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Datacenters) != 2 || st.Datacenters[0].Status != StatusUp || st.Datacenters[0].Unknown != 2 || len(st.Checkers) != 0 {
		t.Fatalf("cold status = %+v", st)
	}

	env.report("old", false)
	env.at(20 * time.Second)
	env.report("c1", false, down(fra1, "refused"), up(fra2), down(iad1, "refused"))
	env.report("c2", true, up(fra1))
	env.evaluate()
	env.at(31 * time.Second)
	st, err = env.e.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fra, iad := st.Datacenters[0], st.Datacenters[1]
	if fra.Name != "fra" || fra.Region != "eu" || fra.Status != StatusDegraded || fra.Up != 1 || fra.Down != 1 || fra.Unknown != 0 || len(fra.Endpoints) != 2 {
		t.Errorf("fra = %+v", fra)
	}
	if e := fra.Endpoints[0]; e.Service != app || e.Endpoint != fra1 || e.Health != model.HealthDown ||
		!e.Since.Equal(t0.Add(20*time.Second)) || !strings.Contains(e.Reason, "refused") {
		t.Errorf("fra1 = %+v", e)
	}
	if iad.Name != "iad" || iad.Status != StatusDown || iad.Down != 1 {
		t.Errorf("iad = %+v", iad)
	}
	want := map[string]struct {
		state string
		age   float64
	}{"c1": {StateFresh, 11}, "c2": {StateIsolated, 11}, "old": {StateStale, 31}}
	if len(st.Checkers) != 3 {
		t.Fatalf("checkers = %+v", st.Checkers)
	}
	for _, c := range st.Checkers {
		if w := want[c.Name]; c.State != w.state || c.AgeSeconds != w.age || c.Region != "eu" {
			t.Errorf("checker %+v, want %+v", c, w)
		}
	}
}

// TestMetrics: the engine's and the probes' metrics pass promlint and
// count what happened.
func TestMetrics(t *testing.T) {
	env := newTestEnv(t)
	pm, err := NewProbeMetrics(env.reg)
	if err != nil {
		t.Fatal(err)
	}
	pm.Observe(model.Job{Check: &model.Check{Type: "http"}}, true, 3*time.Millisecond)
	pm.Observe(model.Job{Check: &model.Check{Type: "http"}}, false, 2*time.Second)

	env.report("c1", false, down(fra1, "refused"), up(fra2))
	env.report("c2", true, up(fra1))
	env.evaluate()
	env.at(40 * time.Second)
	env.report("c3", false, up(iad1))
	env.evaluate()

	m := env.e.metrics
	for to, n := range map[string]float64{"up": 2, "down": 1, "unknown": 2} {
		if got := testutil.ToFloat64(m.changes.WithLabelValues(to)); got != n {
			t.Errorf("changes to %s = %v, want %v", to, got, n)
		}
	}
	// c1 and c2 have been silent for 40 s: stale.
	for state, n := range map[string]float64{StateFresh: 1, StateIsolated: 0, StateStale: 2} {
		if got := testutil.ToFloat64(m.checkers.WithLabelValues(state)); got != n {
			t.Errorf("checkers %s = %v, want %v", state, got, n)
		}
	}
	if got := testutil.ToFloat64(m.lastReport.WithLabelValues("c1")); got != 40 {
		t.Errorf("c1's report age = %v", got)
	}
	if got := testutil.ToFloat64(pm.probes.WithLabelValues("http", "down")); got != 1 {
		t.Errorf("down probes = %v", got)
	}
	mfs, err := env.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// Another engine on the same registry is refused, not a panic.
	if _, err := New(Config{Store: env.st, Registerer: env.reg}); err == nil {
		t.Error("a second engine registered the same metrics")
	}
}
