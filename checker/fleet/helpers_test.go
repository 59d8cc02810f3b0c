package fleet

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// The tests run the engine over a real bbolt store in t.TempDir(), with
// an injected clock (no sleeps) and real HTTP receivers for webhooks.

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Endpoints of the test state: app.example.org./A has two in fra and
// one in iad, checked over http every 10 s; api.example.org./A has one in
// each, without a check.
const (
	app   = "app.example.org./A"
	api   = "api.example.org./A"
	fra1  = "192.0.2.1"
	fra2  = "192.0.2.2"
	iad1  = "198.51.100.1"
	apiEP = "192.0.2.9"
)

func testState(check *model.Check) *model.State {
	return &model.State{
		Zones: []model.Zone{{Name: "example.org.", Nameservers: []model.Nameserver{{Name: "ns1.example.net."}}}},
		Regions: []model.Region{
			{Name: "eu", Continents: []string{"EU"}},
			{Name: "us", Countries: []string{"US"}},
		},
		Datacenters: []model.Datacenter{
			{Name: "fra", Region: "eu", Location: model.Location{Lat: 50.1, Lon: 8.7}},
			{Name: "iad", Region: "us", Location: model.Location{Lat: 38.9, Lon: -77.4}},
		},
		Services: []model.Service{
			{
				Name: "app.example.org.", Type: "A", Policy: model.Policy{Preset: "geo"}, Check: check,
				Endpoints: []model.Endpoint{
					{Datacenter: "fra", Address: fra1, Weight: 1},
					{Datacenter: "fra", Address: fra2, Weight: 1},
					{Datacenter: "iad", Address: iad1, Weight: 1},
				},
			},
			{
				Name: "api.example.org.", Type: "A", Policy: model.Policy{Preset: "all"},
				Endpoints: []model.Endpoint{{Datacenter: "fra", Address: apiEP, Weight: 1}},
			},
		},
	}
}

func httpCheck() *model.Check {
	return &model.Check{Type: "http", Path: "/health", Interval: model.Duration(10 * time.Second)}
}

// testEnv is an engine over a fresh store holding testState.
type testEnv struct {
	t     *testing.T
	e     *Engine
	st    *store.Bolt
	clock *clock
	reg   *prometheus.Registry
}

func newTestEnv(t *testing.T, opts ...func(*Config)) *testEnv {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "meridian.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, _, err := store.Reconcile(t.Context(), st, model.SourceStateFile, testState(httpCheck()), store.ReconcileOptions{}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: t0}
	reg := prometheus.NewRegistry()
	cfg := Config{Store: st, Now: c.Now, Registerer: reg}
	for _, o := range opts {
		o(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{t: t, e: e, st: st, clock: c, reg: reg}
}

// at sets the clock to t0 + d.
func (env *testEnv) at(d time.Duration) { env.clock.set(t0.Add(d)) }

// ballot is a vote in a test report.
type ballot struct {
	endpoint string
	health   model.Health
	err      string
}

func up(ep string) ballot { return ballot{ep, model.HealthUp, ""} }
func down(ep, why string) ballot {
	return ballot{ep, model.HealthDown, why}
}

// report records a report of checker about app's endpoints.
func (env *testEnv) report(checker string, isolated bool, ballots ...ballot) {
	env.t.Helper()
	rep := model.Report{Checker: model.Checker{Name: checker, Region: "eu"}, Isolated: isolated}
	for _, b := range ballots {
		rep.Votes = append(rep.Votes, model.Vote{Service: app, Endpoint: b.endpoint, Health: b.health, Error: b.err})
	}
	if err := env.e.Record(env.t.Context(), rep); err != nil {
		env.t.Fatalf("Record(%s): %v", checker, err)
	}
}

// evaluate runs one pass and fails the test on error.
func (env *testEnv) evaluate() []Change {
	env.t.Helper()
	changes, err := env.e.Evaluate(env.t.Context())
	if err != nil {
		env.t.Fatalf("Evaluate: %v", err)
	}
	return changes
}

// verdict returns the stored verdict on app's endpoint, nil when none.
func (env *testEnv) verdict(endpoint string) *model.Verdict {
	env.t.Helper()
	var v *model.Verdict
	err := env.st.View(env.t.Context(), func(tx store.Tx) error {
		var err error
		v, err = store.Get[model.Verdict](tx, model.VerdictName(app, endpoint))
		if errors.Is(err, store.ErrNotFound) {
			v, err = nil, nil
		}
		return err
	})
	if err != nil {
		env.t.Fatal(err)
	}
	return v
}

// health is the stored verdict's health, unknown when there is none.
func (env *testEnv) health(endpoint string) model.Health {
	env.t.Helper()
	if v := env.verdict(endpoint); v != nil {
		return v.Health
	}
	return model.HealthUnknown
}

// events returns the events of type typ, oldest first.
func (env *testEnv) events(typ string) []model.Event {
	env.t.Helper()
	all, err := store.ListEvents(context.Background(), env.st, 0, 0)
	if err != nil {
		env.t.Fatal(err)
	}
	var out []model.Event
	for _, ev := range all {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// run starts Run and stops it (waiting for it) when the test ends.
func (env *testEnv) run() {
	env.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- env.e.Run(ctx) }()
	env.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			env.t.Errorf("Run: %v", err)
		}
	})
}

// waitFor fails the test unless ch yields within a generous deadline (a
// failure bound, not a synchronisation sleep).
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}
