package fleet

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// TestRecordValidation: bad reports are model.ErrInvalid naming the field
// in the body's JSON terms, and write nothing.
func TestRecordValidation(t *testing.T) {
	env := newTestEnv(t)
	before, _ := env.st.Revision(t.Context())
	bad := 1.5
	for _, c := range []struct {
		name  string
		rep   model.Report
		field string
	}{
		{"no checker name", model.Report{}, "checker.name"},
		{"bad checker name", model.Report{Checker: model.Checker{Name: "a b"}}, "checker.name"},
		{"bad location", model.Report{Checker: model.Checker{Name: "c1", Location: &model.Location{Lat: 91}}}, "checker.location"},
		{"another checker's vote", model.Report{Checker: model.Checker{Name: "c1"},
			Votes: []model.Vote{{Checker: "c2", Service: app, Endpoint: fra1, Health: model.HealthUp}}}, "votes.0.checker"},
		{"no service", model.Report{Checker: model.Checker{Name: "c1"},
			Votes: []model.Vote{{Service: app, Endpoint: fra1, Health: model.HealthUp}, {Endpoint: fra1, Health: model.HealthUp}}}, "votes.1.service"},
		{"no endpoint", model.Report{Checker: model.Checker{Name: "c1"},
			Votes: []model.Vote{{Service: app, Health: model.HealthUp}}}, "votes.0.endpoint"},
		{"bad health", model.Report{Checker: model.Checker{Name: "c1"},
			Votes: []model.Vote{{Service: app, Endpoint: fra1, Health: "sideways"}}}, "votes.0.health"},
		{"no health", model.Report{Checker: model.Checker{Name: "c1"},
			Votes: []model.Vote{{Service: app, Endpoint: fra1}}}, "votes.0.health"},
		{"load out of range", model.Report{Checker: model.Checker{Name: "c1"},
			Votes: []model.Vote{{Service: app, Endpoint: fra1, Health: model.HealthUp, Load: &bad}}}, "votes.0.load"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := env.e.Record(t.Context(), c.rep)
			if !errors.Is(err, model.ErrInvalid) {
				t.Fatalf("Record = %v, want model.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), "report: "+c.field+": ") {
				t.Errorf("error %q does not name %s", err, c.field)
			}
		})
	}
	if after, _ := env.st.Revision(t.Context()); after != before {
		t.Errorf("refused reports wrote: revision %d → %d", before, after)
	}
}

// TestRecordWrites: the checker is upserted at every report; a vote is
// written when its health or error changes or its stored copy is 30 s
// old; votes for what is not a job are ignored; a vote without a checker
// takes the report's.
func TestRecordWrites(t *testing.T) {
	env := newTestEnv(t)
	vote := func(name string) *model.Vote {
		t.Helper()
		var v *model.Vote
		_ = env.st.View(t.Context(), func(tx store.Tx) error {
			v, _ = store.Get[model.Vote](tx, name)
			return nil
		})
		return v
	}
	key := "c1|" + app + "|" + fra1
	load := 0.3
	rep := model.Report{
		Checker: model.Checker{Name: "c1", Region: "eu", Location: &model.Location{Lat: 50, Lon: 8}},
		Votes: []model.Vote{
			{Service: app, Endpoint: fra1, Health: model.HealthUp, Load: &load, Latency: 3 * time.Millisecond, At: t0.Add(-time.Hour)},
			{Service: api, Endpoint: apiEP, Health: model.HealthUp},                  // no check: not a job
			{Service: "gone.example.org./A", Endpoint: fra1, Health: model.HealthUp}, // no such service
		},
	}
	if err := env.e.Record(t.Context(), rep); err != nil {
		t.Fatal(err)
	}
	v := vote(key)
	if v == nil || v.Checker != "c1" || !v.At.Equal(t0) || *v.Load != 0.3 || v.Latency != 3*time.Millisecond {
		t.Fatalf("vote = %+v (At is the server's time of recording)", v)
	}
	if vote("c1|"+api+"|"+apiEP) != nil || vote("c1|gone.example.org./A|"+fra1) != nil {
		t.Error("votes for endpoints that are not jobs were stored")
	}
	rev := v.Revision

	env.at(29 * time.Second)
	if err := env.e.Record(t.Context(), rep); err != nil {
		t.Fatal(err)
	}
	if v := vote(key); v.Revision != rev {
		t.Errorf("an unchanged vote was rewritten within 30 s: %+v", v)
	}
	var c *model.Checker
	_ = env.st.View(t.Context(), func(tx store.Tx) error {
		c, _ = store.Get[model.Checker](tx, "c1")
		return nil
	})
	if c == nil || !c.LastSeen.Equal(t0.Add(29*time.Second)) || c.Location == nil || c.Location.Lat != 50 {
		t.Errorf("checker = %+v", c)
	}

	rep.Votes[0].Error = "slow" // a new error is written at once
	if err := env.e.Record(t.Context(), rep); err != nil {
		t.Fatal(err)
	}
	if v := vote(key); v.Revision == rev || v.Error != "slow" {
		t.Errorf("a changed vote was not written: %+v", v)
	} else {
		rev = v.Revision
	}
	env.at(59 * time.Second)
	if err := env.e.Record(t.Context(), rep); err != nil {
		t.Fatal(err)
	}
	if v := vote(key); v.Revision == rev || !v.At.Equal(t0.Add(59*time.Second)) {
		t.Errorf("a 30 s old vote was not refreshed: %+v", v)
	}

	// Long errors are cut.
	rep.Votes[0].Error = strings.Repeat("é", MaxErrorLen)
	if err := env.e.Record(t.Context(), rep); err != nil {
		t.Fatal(err)
	}
	if v := vote(key); len(v.Error) > MaxErrorLen+len("…") || !strings.HasSuffix(v.Error, "…") {
		t.Errorf("error of %d bytes stored", len(v.Error))
	}
}

// TestRunEvaluatesOnReport: Run evaluates when a report arrives, without
// waiting for its interval.
func TestRunEvaluatesOnReport(t *testing.T) {
	env := newTestEnv(t, func(c *Config) { c.EvalInterval = time.Hour })
	revs := env.st.Watch(t.Context())
	env.run()
	env.report("c1", false, down(fra1, "refused"))
	for env.health(fra1) != model.HealthDown {
		waitFor(t, revs, "the verdict")
	}
}

// A checker that restarts reports unknown until its thresholds are met
// again; its last opinion stands meanwhile, so the verdict does not flap
// up → unknown → up (with events and webhooks) on every node restart.
func TestRestartedCheckerKeepsItsOpinion(t *testing.T) {
	env := newTestEnv(t)
	undecidedVote := ballot{fra1, model.HealthUnknown, ""}
	env.report("c1", false, up(fra1))
	env.evaluate()
	if h := env.health(fra1); h != model.HealthUp {
		t.Fatalf("health = %s, want up", h)
	}
	before := len(env.events("verdict"))

	env.at(2 * time.Second) // restarted: trackers back to unknown
	env.report("c1", false, undecidedVote)
	if changes := env.evaluate(); len(changes) != 0 {
		t.Errorf("a restarted checker's undecided vote changed the verdict: %+v", changes)
	}
	if h := env.health(fra1); h != model.HealthUp || len(env.events("verdict")) != before {
		t.Errorf("health = %s with %d new events, want up and none", h, len(env.events("verdict"))-before)
	}

	// An unknown with a reason (a probe that cannot be built) is news.
	env.report("c1", false, ballot{fra1, model.HealthUnknown, "check_target \"x\" is not host:port"})
	env.evaluate()
	if h := env.health(fra1); h != model.HealthUnknown {
		t.Errorf("health after an unknown with an error = %s, want unknown", h)
	}

	// And an opinion never outlives VoteRefresh of undecided reports.
	env.report("c1", false, down(fra1, "refused"))
	env.evaluate()
	env.at(2*time.Second + VoteRefresh + time.Second)
	env.report("c1", false, undecidedVote)
	env.evaluate()
	if h := env.health(fra1); h != model.HealthUnknown {
		t.Errorf("health after %v of undecided reports = %s, want unknown", VoteRefresh, h)
	}
}
