package fleet

import (
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/storetest"
)

// TestIdlePassesReadNothing: once a pass found nothing to do, the passes
// after it read no vote and no verdict until a kind they depend on is
// written or fullPassEvery passes; a report makes the next pass a full
// one, which sees it.
func TestIdlePassesReadNothing(t *testing.T) {
	var cs *storetest.Counting
	env := newTestEnv(t, func(c *Config) {
		cs = &storetest.Counting{Store: c.Store}
		c.Store = cs
	})
	env.report("c1", false, up(fra1), up(fra2), up(iad1))
	env.evaluate() // writes the verdicts
	env.evaluate() // reads them back: nothing to do
	full := cs.Lists(model.KindVote)
	for ms := 100; ms < 5000; ms += 700 {
		env.at(time.Duration(ms) * time.Millisecond)
		if ch := env.evaluate(); len(ch) != 0 {
			t.Fatalf("idle pass at %d ms changed %+v", ms, ch)
		}
	}
	if n := cs.Lists(model.KindVote) - full; n != 0 {
		t.Fatalf("idle passes read the votes %d times, want none", n)
	}
	env.at(5 * time.Second)
	env.evaluate()
	if n := cs.Lists(model.KindVote) - full; n != 1 {
		t.Fatalf("after fullPassEvery the votes were read %d times, want once", n)
	}

	env.at(5100 * time.Millisecond)
	env.report("c1", false, down(fra1, "refused"), up(fra2), up(iad1))
	ch := env.evaluate()
	if len(ch) != 1 || ch[0].Endpoint != fra1 || ch[0].After != model.HealthDown {
		t.Fatalf("the pass after a report changed %+v, want fra1 down", ch)
	}
}

// TestSkippedPassesExpireVotesOnTime: votes expire at their deadline
// even while passes are skipped, not at the next full pass.
func TestSkippedPassesExpireVotesOnTime(t *testing.T) {
	var cs *storetest.Counting
	env := newTestEnv(t, func(c *Config) {
		cs = &storetest.Counting{Store: c.Store}
		c.Store = cs
	})
	// A check every second: votes live 3 s, less than fullPassEvery.
	st := testState(&model.Check{Type: "http", Path: "/health", Interval: model.Duration(time.Second)})
	if _, err := env.st.Update(t.Context(), func(tx store.Tx) error { return store.Put(tx, &st.Services[0], 0) }); err != nil {
		t.Fatal(err)
	}
	env.report("c1", false, up(fra1), up(fra2), up(iad1))
	env.evaluate()
	env.evaluate()
	if got := env.health(fra1); got != model.HealthUp {
		t.Fatalf("fra1 is %s, want up", got)
	}
	full := cs.Lists(model.KindVote)
	env.at(3 * time.Second) // the last moment c1's votes are fresh
	if ch := env.evaluate(); len(ch) != 0 || cs.Lists(model.KindVote) != full {
		t.Fatalf("pass at 3 s: changes %+v, votes read %d times; want none and none", ch, cs.Lists(model.KindVote)-full)
	}
	env.at(3*time.Second + time.Millisecond)
	ch := env.evaluate()
	if len(ch) != 3 {
		t.Fatalf("pass after the votes' deadline changed %+v, want all three to unknown", ch)
	}
	for _, c := range ch {
		if c.After != model.HealthUnknown {
			t.Errorf("%s went %s, want unknown", c.Endpoint, c.After)
		}
	}
}

// TestDecideAllocatesOnlyToWrite: deciding an endpoint with nothing to
// write allocates nothing, so that a full pass over 400,000 endpoints
// (100,000 services) makes no garbage.
func TestDecideAllocatesOnlyToWrite(t *testing.T) {
	env := newTestEnv(t)
	in, err := env.e.read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	j := &in.jobs[0]
	key := endpointKey{j.Service, j.Endpoint}
	now, due := env.clock.Now(), env.clock.Now().Add(time.Hour)
	allocs := testing.AllocsPerRun(100, func() {
		if _, write := env.e.decide(j, key, in, now, &due); write {
			t.Fatal("an endpoint without votes or verdict is written")
		}
	})
	if allocs != 0 {
		t.Fatalf("deciding an endpoint with nothing to write allocates %.0f times", allocs)
	}
}
