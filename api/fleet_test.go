package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/api/client"
	"github.com/meridian-gslb/meridian/checker/fleet"
	"github.com/meridian-gslb/meridian/store/model"
)

// The fleet routes run against the real health engine over the test's
// bbolt store, wrapped as cmd wraps it. Only test files import
// checker/fleet (TestLayering).

// fleetAdapter is what cmd passes as Config.Fleet.
type fleetAdapter struct{ *fleet.Engine }

func (a fleetAdapter) Availability(ctx context.Context) (any, error) {
	return a.Engine.Availability(ctx)
}
func (a fleetAdapter) Status(ctx context.Context) (any, error) { return a.Engine.Status(ctx) }

// testClock is the engine's clock in these tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withFleet gives the env a health engine over its store.
func withFleet(t testing.TB, eng **fleet.Engine, clock *testClock) option {
	return func(c *Config) {
		e, err := fleet.New(fleet.Config{Store: c.Store, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		*eng = e
		c.Fleet = fleetAdapter{e}
	}
}

// fleetEnv is an env with a health engine, seeded, whose A service
// app.example.org. is checked over http.
func fleetEnv(t *testing.T) (*env, *fleet.Engine, *testClock) {
	t.Helper()
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	var eng *fleet.Engine
	e := newEnv(t, withFleet(t, &eng, clock))
	e.seed()
	svc := service("app.example.org.", "A", "fra", "192.0.2.1", "iad", "198.51.100.1")
	svc["check"] = map[string]any{"type": "http", "path": "/health", "interval": "10s"}
	e.put("/api/v1/services/app.example.org?type=A", svc).want(200)
	return e, eng, clock
}

func reportBody(name string, votes ...map[string]any) map[string]any {
	if votes == nil {
		votes = []map[string]any{}
	}
	return map[string]any{"checker": map[string]any{"name": name, "region": "eu"}, "votes": votes}
}

func vote(endpoint, health, errText string) map[string]any {
	v := map[string]any{"service": "app.example.org./A", "endpoint": endpoint, "health": health}
	if errText != "" {
		v["error"] = errText
	}
	return v
}

// TestFleetAccess: a checker token runs the fleet's routes and nothing
// else; a read token may read them but not report; no token is 401.
func TestFleetAccess(t *testing.T) {
	e, _, _ := fleetEnv(t)
	probe := e.token("probe-1", model.RoleChecker)
	oncall := e.token("oncall", model.RoleRead)
	body := reportBody("probe-1", vote("192.0.2.1", "up", ""))

	e.do(req{method: "GET", path: "/api/v1/checks", token: probe}).want(200)
	e.do(req{method: "POST", path: "/api/v1/checkers/probe-1/report", token: probe, body: body}).want(204)
	e.do(req{method: "GET", path: "/api/v1/checkers/probe-1", token: probe}).want(200)
	e.do(req{method: "GET", path: "/api/v1/services", token: probe}).want(403).problem()
	e.do(req{method: "GET", path: "/api/v1/verdicts", token: probe}).want(403)
	e.do(req{method: "DELETE", path: "/api/v1/checkers/probe-1", token: probe}).want(403)

	p := e.do(req{method: "POST", path: "/api/v1/checkers/probe-1/report", token: oncall, body: body}).want(403).problem()
	if !strings.Contains(p.Detail, "oncall") {
		t.Errorf("403 detail %q", p.Detail)
	}
	e.do(req{method: "GET", path: "/api/v1/checks", token: oncall}).want(200)
	e.do(req{method: "GET", path: "/api/v1/status", token: oncall}).want(200)

	for _, rq := range []req{
		{method: "GET", path: "/api/v1/checks", token: "-"},
		{method: "POST", path: "/api/v1/checkers/probe-1/report", token: "-", body: body},
		{method: "GET", path: "/api/v1/availability", token: "-"},
	} {
		if r := e.do(rq).want(401); !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: WWW-Authenticate %q", rq.path, r.Header.Get("WWW-Authenticate"))
		}
	}
}

// TestReport: the report route's validation, and a report turning into a
// verdict listed by /verdicts after an evaluation.
func TestReport(t *testing.T) {
	e, eng, clock := fleetEnv(t)
	path := "/api/v1/checkers/probe-1/report"

	p := e.post(path, reportBody("probe-2", vote("192.0.2.1", "up", ""))).want(422).problem()
	if len(p.Errors) != 1 || p.Errors[0].Field != "checker.name" {
		t.Errorf("name mismatch: %+v", p)
	}
	p = e.post(path, reportBody("", vote("192.0.2.1", "sideways", ""))).want(422).problem()
	if len(p.Errors) != 1 || p.Errors[0].Field != "votes.0.health" {
		t.Errorf("bad health: %+v", p)
	}
	p = e.post(path, reportBody("probe-1", map[string]any{"service": "app.example.org./A", "endpoint": "192.0.2.1", "health": "up", "checker": "other"})).want(422).problem()
	if len(p.Errors) != 1 || p.Errors[0].Field != "votes.0.checker" {
		t.Errorf("another checker's vote: %+v", p)
	}
	e.post("/api/v1/checkers/bad%20name/report", reportBody("")).want(422)
	e.post(path, `{"checker": {"name": "probe-1"}, "votes": [], "colour": 1}`).want(400)
	e.post(path, `{"checker": `).want(400)
	e.do(req{method: "POST", path: path, body: `{}`, contentType: "text/plain"}).want(415)
	e.post(path, reportBody("probe-1", vote("192.0.2.1", "down", strings.Repeat("x", 2<<20)))).want(413)
	if evs := e.events(); evs[len(evs)-1].Type == "checker" {
		t.Errorf("a refused report left an event: %+v", evs[len(evs)-1])
	}

	// Three checkers, two of them say 192.0.2.1 is down: a name left out
	// of the body is the path's.
	e.post(path, reportBody("", vote("192.0.2.1", "down", "connection refused"), vote("198.51.100.1", "up", ""))).want(204)
	e.post("/api/v1/checkers/probe-2/report", reportBody("probe-2", vote("192.0.2.1", "down", "timeout"), vote("198.51.100.1", "up", ""))).want(204)
	e.post("/api/v1/checkers/probe-3/report", reportBody("probe-3", vote("192.0.2.1", "up", ""), vote("198.51.100.1", "up", ""))).want(204)
	var vl List[model.Verdict]
	e.get("/api/v1/verdicts").want(200).decode(&vl)
	if len(vl.Items) != 0 {
		t.Fatalf("verdicts before any evaluation: %+v", vl.Items)
	}
	clock.add(time.Second)
	if _, err := eng.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.get("/api/v1/verdicts").want(200).decode(&vl)
	if len(vl.Items) != 2 || vl.Items[0].Endpoint != "192.0.2.1" || vl.Items[0].Health != model.HealthDown ||
		!strings.Contains(vl.Items[0].Reason, "probe-1: connection refused") || vl.Items[1].Health != model.HealthUp || vl.Next != "" {
		t.Errorf("verdicts = %+v", vl)
	}
	e.get("/api/v1/verdicts?limit=1").want(200).decode(&vl)
	if len(vl.Items) != 1 || vl.Next != "app.example.org./A|192.0.2.1" {
		t.Errorf("first page = %+v", vl)
	}
	e.get("/api/v1/verdicts?limit=1&after=" + vl.Next).want(200).decode(&vl)
	if len(vl.Items) != 1 || vl.Items[0].Endpoint != "198.51.100.1" || vl.Next != "" {
		t.Errorf("second page = %+v", vl)
	}
	for filter, n := range map[string]int{"app.example.org./A": 2, "APP.example.org/a": 2, "app.example.org": 2, "app.example.org./AAAA": 0, "other.example.org": 0} {
		e.get("/api/v1/verdicts?service=" + filter).want(200).decode(&vl)
		if len(vl.Items) != n {
			t.Errorf("?service=%s: %d verdicts, want %d", filter, len(vl.Items), n)
		}
	}
	e.get("/api/v1/verdicts?service=bad%20name").want(400)
	e.get("/api/v1/verdicts?limit=0").want(400)

	var ch model.Checker
	e.get("/api/v1/checkers/probe-1").want(200).decode(&ch)
	if ch.Region != "eu" || ch.LastSeen.IsZero() {
		t.Errorf("checker = %+v", ch)
	}
}

// TestChecks: the check list with its defaults, its ETag and 304.
func TestChecks(t *testing.T) {
	e, _, _ := fleetEnv(t)
	r := e.get("/api/v1/checks").want(200)
	var l List[model.Job]
	r.decode(&l)
	tag := r.Header.Get("ETag")
	if len(l.Items) != 2 || tag == "" {
		t.Fatalf("checks = %s, ETag %q", r.Body, tag)
	}
	j := l.Items[0]
	if j.Service != "app.example.org./A" || j.Endpoint != "192.0.2.1" || j.Datacenter != "fra" || j.Target != "192.0.2.1:80" ||
		j.Check.Interval.D() != 10*time.Second || j.Check.Timeout.D() != 2*time.Second || j.Check.Rise != 2 || j.Check.Fall != 3 || j.Check.Quorum != "majority" {
		t.Errorf("job = %+v", j)
	}
	for _, h := range []string{tag, "W/" + tag, `"other", ` + tag, "*"} {
		r := e.do(req{method: "GET", path: "/api/v1/checks", header: map[string]string{"If-None-Match": h}}).want(304)
		if len(r.Body) != 0 || r.Header.Get("ETag") != tag {
			t.Errorf("If-None-Match %s: body %q, ETag %q", h, r.Body, r.Header.Get("ETag"))
		}
	}
	e.do(req{method: "GET", path: "/api/v1/checks", header: map[string]string{"If-None-Match": `"other"`}}).want(200)

	// A changed check changes the list and its tag.
	svc := service("app.example.org.", "A", "fra", "192.0.2.1", "iad", "198.51.100.1")
	svc["check"] = map[string]any{"type": "tcp", "port": 443}
	e.put("/api/v1/services/app.example.org?type=A", svc).want(200)
	r = e.do(req{method: "GET", path: "/api/v1/checks", header: map[string]string{"If-None-Match": tag}}).want(200)
	r.decode(&l)
	if r.Header.Get("ETag") == tag || l.Items[0].Target != "192.0.2.1:443" {
		t.Errorf("after the change: ETag %q, jobs %+v", r.Header.Get("ETag"), l.Items)
	}
}

// TestAvailabilityAndStatus: both reports, through the document's
// schemas.
func TestAvailabilityAndStatus(t *testing.T) {
	e, eng, clock := fleetEnv(t)
	e.post("/api/v1/checkers/probe-1/report", reportBody("probe-1", vote("192.0.2.1", "up", ""), vote("198.51.100.1", "up", ""))).want(204)
	if _, err := eng.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.add(time.Minute)
	e.post("/api/v1/checkers/probe-1/report", reportBody("probe-1", vote("192.0.2.1", "down", "refused"), vote("198.51.100.1", "up", ""))).want(204)
	if _, err := eng.Evaluate(t.Context()); err != nil {
		t.Fatal(err)
	}
	clock.add(36 * time.Minute)

	var av fleet.AvailabilityReport
	e.get("/api/v1/availability").want(200).decode(&av)
	if len(av.Endpoints) != 2 || av.Endpoints[0].Windows["24h"].Availability != 0.975 || len(av.Datacenters) != 2 || len(av.Services) != 1 {
		t.Errorf("availability = %+v", av)
	}
	var st fleet.Status
	e.get("/api/v1/status").want(200).decode(&st)
	if len(st.Datacenters) != 2 || st.Datacenters[0].Name != "fra" || st.Datacenters[0].Status != fleet.StatusDown ||
		len(st.Checkers) != 1 || st.Checkers[0].State != fleet.StateStale {
		t.Errorf("status = %+v", st)
	}
}

// TestFleetUnavailable: without a health engine the fleet's routes
// answer 503; stored verdicts are still listed.
func TestFleetUnavailable(t *testing.T) {
	e := newEnv(t)
	e.get("/api/v1/checks").want(503).problem()
	e.post("/api/v1/checkers/probe-1/report", reportBody("probe-1")).want(503)
	e.get("/api/v1/availability").want(503)
	e.get("/api/v1/status").want(503)
	e.get("/api/v1/verdicts").want(200)
}

// TestClientFleet: the Go client's fleet methods against the server,
// and 401/403 told apart.
func TestClientFleet(t *testing.T) {
	e, eng, _ := fleetEnv(t)
	ctx := t.Context()
	c, err := client.New(e.ts.URL, e.token("probe-1", model.RoleChecker), nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs, tag, notModified, err := c.Checks(ctx, "")
	if err != nil || len(jobs) != 2 || tag == "" || notModified {
		t.Fatalf("Checks = %d jobs, %q, %v, %v", len(jobs), tag, notModified, err)
	}
	jobs, again, notModified, err := c.Checks(ctx, tag)
	if err != nil || jobs != nil || again != tag || !notModified {
		t.Errorf("Checks(etag) = %v, %q, %v, %v", jobs, again, notModified, err)
	}
	rep := model.Report{Checker: model.Checker{Name: "probe-1"}, Votes: []model.Vote{{Service: jobs0(t, c).Service, Endpoint: "192.0.2.1", Health: model.HealthDown, Error: "refused"}}}
	if err := c.Report(ctx, rep); err != nil {
		t.Fatal(err)
	}
	bad := rep
	bad.Votes = []model.Vote{{Service: "app.example.org./A", Endpoint: "192.0.2.1", Health: "maybe"}}
	if err := c.Report(ctx, bad); !client.IsStatus(err, http.StatusUnprocessableEntity) {
		t.Errorf("bad report: %v", err)
	}
	if _, err := c.Verdicts(ctx); !client.IsStatus(err, http.StatusForbidden) {
		t.Errorf("checker token reading verdicts: %v, want 403", err)
	}
	anon, _ := client.New(e.ts.URL, "", nil)
	if err := anon.Report(ctx, rep); !client.IsStatus(err, http.StatusUnauthorized) {
		t.Errorf("no token: %v, want 401", err)
	}

	if _, err := eng.Evaluate(ctx); err != nil {
		t.Fatal(err)
	}
	admin, _ := client.New(e.ts.URL, adminSecret, nil)
	vs, err := admin.Verdicts(ctx)
	if err != nil || len(vs) != 1 || vs[0].Health != model.HealthDown {
		t.Errorf("Verdicts = %+v, %v", vs, err)
	}
	var av fleet.AvailabilityReport
	if err := admin.Availability(ctx, &av); err != nil || len(av.Endpoints) != 2 {
		t.Errorf("Availability = %+v, %v", av, err)
	}
	var st fleet.Status
	if err := admin.Status(ctx, &st); err != nil || len(st.Datacenters) != 2 || st.Datacenters[0].Down != 1 {
		t.Errorf("Status = %+v, %v", st, err)
	}
}

func jobs0(t *testing.T, c *client.Client) model.Job {
	t.Helper()
	jobs, _, _, err := c.Checks(t.Context(), "")
	if err != nil || len(jobs) == 0 {
		t.Fatalf("Checks: %v", err)
	}
	return jobs[0]
}
