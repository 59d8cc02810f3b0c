package fleet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// TestQuorum: the default majority quorum through Record and Evaluate.
func TestQuorum(t *testing.T) {
	for _, c := range []struct {
		name  string
		votes []model.Health
		want  model.Health
	}{
		{"1 of 3 down stays up", []model.Health{model.HealthDown, model.HealthUp, model.HealthUp}, model.HealthUp},
		{"2 of 3 down goes down", []model.Health{model.HealthDown, model.HealthDown, model.HealthUp}, model.HealthDown},
		{"3 of 3 down", []model.Health{model.HealthDown, model.HealthDown, model.HealthDown}, model.HealthDown},
		{"a tie stays up", []model.Health{model.HealthDown, model.HealthUp}, model.HealthUp},
		{"unknown votes are not counted", []model.Health{model.HealthDown, model.HealthUnknown, model.HealthUnknown}, model.HealthDown},
		{"only unknown votes: no verdict", []model.Health{model.HealthUnknown, model.HealthUnknown}, model.HealthUnknown},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := newTestEnv(t)
			for i, h := range c.votes {
				env.report(fmt.Sprintf("c%d", i+1), false, ballot{fra1, h, map[bool]string{true: "connection refused"}[h == model.HealthDown]})
			}
			changes := env.evaluate()
			if got := env.health(fra1); got != c.want {
				t.Fatalf("health = %s, want %s (verdict %+v)", got, c.want, env.verdict(fra1))
			}
			if c.want == model.HealthUnknown {
				if len(changes) != 0 || env.verdict(fra1) != nil {
					t.Errorf("changes %+v, verdict %+v; want none", changes, env.verdict(fra1))
				}
				return
			}
			if len(changes) != 1 || changes[0].Before != model.HealthUnknown || changes[0].After != c.want || changes[0].Endpoint != fra1 {
				t.Errorf("changes = %+v", changes)
			}
			// Endpoints nobody voted on have no verdict.
			if v := env.verdict(fra2); v != nil {
				t.Errorf("verdict on %s without votes: %+v", fra2, v)
			}
		})
	}
}

// TestVerdictEvents: each change is stored once with an event naming the
// endpoint, before and after, and the down votes' errors; an unchanged
// verdict adds no event.
func TestVerdictEvents(t *testing.T) {
	env := newTestEnv(t)
	for _, c := range []string{"c1", "c2", "c3"} {
		env.report(c, false, up(fra1), up(iad1))
	}
	if ch := env.evaluate(); len(ch) != 2 {
		t.Fatalf("cold start: %d changes, want 2: %+v", len(ch), ch)
	}
	if ch := env.evaluate(); len(ch) != 0 {
		t.Fatalf("second pass: changes %+v", ch)
	}

	env.at(5 * time.Second)
	env.report("c1", false, down(fra1, "connection refused"), up(iad1))
	env.report("c2", false, down(fra1, "timed out after 2s"), up(iad1))
	env.report("c3", false, up(fra1), up(iad1))
	changes := env.evaluate()
	if len(changes) != 1 {
		t.Fatalf("changes = %+v", changes)
	}
	c := changes[0]
	if c.Service != app || c.Endpoint != fra1 || c.Datacenter != "fra" || c.Before != model.HealthUp ||
		c.After != model.HealthDown || !c.At.Equal(t0.Add(5*time.Second)) || len(c.Votes) != 3 {
		t.Errorf("change = %+v", c)
	}
	v := env.verdict(fra1)
	if v.Health != model.HealthDown || !v.Since.Equal(t0.Add(5*time.Second)) || v.Datacenter != "fra" || len(v.Votes) != 3 || v.Votes[0].Revision != 0 {
		t.Errorf("verdict = %+v", v)
	}
	evs := env.events("verdict")
	if len(evs) != 3 {
		t.Fatalf("%d verdict events, want 3: %+v", len(evs), evs)
	}
	last := evs[2]
	if last.Object != "endpoint/app.example.org./A/192.0.2.1" || last.Before != "up" || last.After != "down" || last.Actor != Actor {
		t.Errorf("event = %+v", last)
	}
	for _, want := range []string{"2 of 3 fresh votes down", "c1: connection refused", "c2: timed out after 2s"} {
		if !strings.Contains(last.Detail, want) {
			t.Errorf("event detail %q lacks %q", last.Detail, want)
		}
	}
	if strings.Contains(last.Detail, "c3") {
		t.Errorf("event detail %q names the up vote", last.Detail)
	}
}

// TestVoteExpiry: a checker's votes expire three intervals after its
// last report; the verdict is recomputed from the others, and becomes
// unknown (with an event) when every vote has expired.
func TestVoteExpiry(t *testing.T) {
	env := newTestEnv(t) // interval 10 s: votes live 30 s
	env.report("c1", false, down(fra1, "refused"))
	env.report("c2", false, down(fra1, "refused"))
	env.report("c3", false, up(fra1))
	env.evaluate()
	if h := env.health(fra1); h != model.HealthDown {
		t.Fatalf("health = %s, want down", h)
	}
	// Only c3 keeps reporting.
	for _, s := range []time.Duration{10, 20, 30} {
		env.at(s * time.Second)
		env.report("c3", false, up(fra1))
		if ch := env.evaluate(); len(ch) != 0 {
			t.Fatalf("at +%ds: changes %+v; c1 and c2 are still fresh", s, ch)
		}
	}
	env.at(30*time.Second + time.Millisecond)
	changes := env.evaluate()
	if len(changes) != 1 || changes[0].Before != model.HealthDown || changes[0].After != model.HealthUp {
		t.Fatalf("after c1 and c2 expired: changes %+v", changes)
	}
	if r := env.verdict(fra1).Reason; !strings.Contains(r, "0 of 1 fresh votes down") || !strings.Contains(r, "2 stale") {
		t.Errorf("reason = %q", r)
	}
	// c3 falls silent too: its vote lives until +60 s.
	env.at(60 * time.Second)
	if ch := env.evaluate(); len(ch) != 0 {
		t.Fatalf("at +60s: changes %+v", ch)
	}
	env.at(61 * time.Second)
	changes = env.evaluate()
	if len(changes) != 1 || changes[0].Before != model.HealthUp || changes[0].After != model.HealthUnknown {
		t.Fatalf("all expired: changes %+v", changes)
	}
	if v := env.verdict(fra1); v.Health != model.HealthUnknown || len(v.Votes) != 0 || !strings.Contains(v.Reason, "no fresh up or down votes") {
		t.Errorf("verdict = %+v", v)
	}
	evs := env.events("verdict")
	if last := evs[len(evs)-1]; last.Before != "up" || last.After != "unknown" {
		t.Errorf("last event = %+v", last)
	}
	// A checker that comes back brings the endpoint back.
	env.at(70 * time.Second)
	env.report("c1", false, down(fra1, "refused"))
	if ch := env.evaluate(); len(ch) != 1 || ch[0].Before != model.HealthUnknown || ch[0].After != model.HealthDown {
		t.Errorf("return: changes %+v", ch)
	}
}

// TestAbandonedVoteExpires: a vote its checker no longer sends expires
// although the checker keeps reporting other votes.
func TestAbandonedVoteExpires(t *testing.T) {
	env := newTestEnv(t)
	env.report("c1", false, down(fra1, "refused"), up(fra2))
	env.evaluate()
	for s := 10; s <= 60; s += 10 {
		env.at(time.Duration(s) * time.Second)
		env.report("c1", false, up(fra2)) // fra1 left the checker's list
		env.evaluate()
	}
	if h := env.health(fra1); h != model.HealthDown {
		t.Fatalf("at +60s: %s, want still down (recorded at 0, refresh window 30 s, then 3 intervals)", h)
	}
	env.at(61 * time.Second)
	env.evaluate()
	if h := env.health(fra1); h != model.HealthUnknown {
		t.Errorf("at +61s: %s, want unknown", h)
	}
	if h := env.health(fra2); h != model.HealthUp {
		t.Errorf("fra2: %s, want up", h)
	}
}

// TestIsolatedChecker: the votes of a checker that reports itself cut off
// are not counted, and the flag's flips are events.
func TestIsolatedChecker(t *testing.T) {
	env := newTestEnv(t)
	env.report("c1", false, down(fra1, "no route"))
	env.report("c2", false, down(fra1, "no route"))
	env.report("c3", false, up(fra1))
	env.evaluate()
	if h := env.health(fra1); h != model.HealthDown {
		t.Fatalf("health = %s", h)
	}
	env.at(time.Second)
	env.report("c1", true, down(fra1, "no route"))
	env.report("c2", true, down(fra1, "no route"))
	changes := env.evaluate()
	if len(changes) != 1 || changes[0].After != model.HealthUp || len(changes[0].Votes) != 1 || changes[0].Votes[0].Checker != "c3" {
		t.Fatalf("changes = %+v", changes)
	}
	if r := env.verdict(fra1).Reason; !strings.Contains(r, "2 unknown") {
		t.Errorf("reason %q does not count the isolated votes as unknown", r)
	}
	evs := env.events("checker")
	if len(evs) != 2 || evs[0].Object != "checker/c1" || evs[0].Before != "ok" || evs[0].After != "isolated" || evs[0].Actor != "c1" {
		t.Fatalf("checker events = %+v", evs)
	}
	// Still isolated: no new event. Back: one event each way.
	env.report("c1", true, down(fra1, "no route"))
	env.report("c1", false, down(fra1, "no route"))
	evs = env.events("checker")
	if len(evs) != 3 || evs[2].Before != "isolated" || evs[2].After != "ok" {
		t.Errorf("checker events = %+v", evs)
	}
	var c *model.Checker
	_ = env.st.View(t.Context(), func(tx store.Tx) error {
		var err error
		c, err = store.Get[model.Checker](tx, "c2")
		return err
	})
	if c == nil || !c.Isolated || !c.LastSeen.Equal(t0.Add(time.Second)) || c.Region != "eu" || c.ManagedBy != Actor {
		t.Errorf("checker c2 = %+v", c)
	}
}

// TestVerdictRefresh: with the health unchanged, a verdict is rewritten
// without an event when the load moves by 0.05 or more, at most every
// 5 s; small moves are not written.
func TestVerdictRefresh(t *testing.T) {
	env := newTestEnv(t)
	load := func(l float64) *float64 { return &l }
	rep := func(l float64) {
		t.Helper()
		err := env.e.Record(t.Context(), model.Report{Checker: model.Checker{Name: "c1"},
			Votes: []model.Vote{{Service: app, Endpoint: fra1, Health: model.HealthUp, Load: load(l)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	rep(0.2)
	env.evaluate()
	v := env.verdict(fra1)
	if v.Load == nil || *v.Load != 0.2 {
		t.Fatalf("verdict = %+v", v)
	}
	rev := v.Revision
	// Within VoteRefresh an unchanged vote is not rewritten: the new
	// load reaches the store with the next refresh.
	env.at(10 * time.Second)
	rep(0.6)
	env.evaluate()
	if v := env.verdict(fra1); v.Revision != rev {
		t.Errorf("verdict rewritten within the vote refresh window: %+v", v)
	}
	env.at(30 * time.Second)
	rep(0.6)
	env.evaluate()
	v = env.verdict(fra1)
	if v.Load == nil || *v.Load != 0.6 || !v.Since.Equal(t0) || v.Revision == rev {
		t.Errorf("after the refresh: verdict = %+v (Since should stay %s)", v, t0)
	}
	rev = v.Revision
	env.at(61 * time.Second)
	rep(0.62)
	env.evaluate()
	if v := env.verdict(fra1); v.Revision != rev || *v.Load != 0.6 {
		t.Errorf("a 0.02 move was written: %+v", v)
	}
	if n := len(env.events("verdict")); n != 1 {
		t.Errorf("%d verdict events, want 1 (the cold start)", n)
	}
}

// TestRemovedEndpoint: the verdicts and votes of endpoints that are gone,
// or lost their check, are deleted; a down one leaves an event to
// unknown.
func TestRemovedEndpoint(t *testing.T) {
	env := newTestEnv(t)
	env.report("c1", false, down(fra1, "refused"), up(iad1))
	env.evaluate()
	if env.health(fra1) != model.HealthDown || env.health(iad1) != model.HealthUp {
		t.Fatal("setup failed")
	}
	if _, _, err := store.Reconcile(t.Context(), env.st, model.SourceStateFile, testState(nil), store.ReconcileOptions{}); err != nil {
		t.Fatal(err)
	}
	if ch := env.evaluate(); len(ch) != 0 {
		t.Errorf("changes = %+v", ch)
	}
	if env.verdict(fra1) != nil || env.verdict(iad1) != nil {
		t.Error("verdicts of an unchecked service remain")
	}
	var votes []model.Vote
	_ = env.st.View(t.Context(), func(tx store.Tx) error {
		var err error
		votes, err = store.List[model.Vote](tx)
		return err
	})
	if len(votes) != 0 {
		t.Errorf("votes remain: %+v", votes)
	}
	evs := env.events("verdict")
	if last := evs[len(evs)-1]; len(evs) != 3 || last.Before != "down" || last.After != "unknown" || last.Object != EndpointObject(app, fra1) {
		t.Errorf("verdict events = %+v", evs)
	}
}

// TestConcurrentEngines: two engines sharing one store, evaluating at
// once, record a change once.
func TestConcurrentEngines(t *testing.T) {
	env := newTestEnv(t)
	other, err := New(Config{Store: env.st, Now: env.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	env.report("c1", false, down(fra1, "refused"))
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []Change
	for _, e := range []*Engine{env.e, other} {
		wg.Go(func() {
			<-start
			ch, err := e.Evaluate(context.Background())
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			all = append(all, ch...)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	if len(all) != 1 || len(env.events("verdict")) != 1 {
		t.Errorf("changes %+v, %d events; want one of each", all, len(env.events("verdict")))
	}
}
