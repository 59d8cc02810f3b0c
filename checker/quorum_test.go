package checker

import (
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

func TestVerdict(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	maxAge := 30 * time.Second
	vote := func(checker string, h model.Health, age time.Duration, err string) model.Vote {
		return model.Vote{Checker: checker, Service: "app.example.com./A", Endpoint: "192.0.2.1", Health: h, At: now.Add(-age), Error: err}
	}
	up := func(c string) model.Vote { return vote(c, model.HealthUp, time.Second, "") }
	down := func(c string) model.Vote { return vote(c, model.HealthDown, time.Second, "refused from "+c) }
	unk := func(c string) model.Vote { return vote(c, model.HealthUnknown, time.Second, "") }
	stale := func(c string, h model.Health) model.Vote { return vote(c, h, maxAge+time.Nanosecond, "") }
	U, D, N := model.HealthUp, model.HealthDown, model.HealthUnknown

	for _, tt := range []struct {
		name    string
		quorum  string
		votes   []model.Vote
		want    model.Health
		whyPart string
	}{
		{"no votes", "", nil, N, "no fresh up or down votes"},
		{"only unknown", "", []model.Vote{unk("a"), unk("b")}, N, "2 unknown"},
		{"only stale", "", []model.Vote{stale("a", D), stale("b", D)}, N, "2 stale"},
		{"vote exactly maxAge old counts", "", []model.Vote{vote("a", D, maxAge, "x")}, D, "1 of 1"},
		{"future vote counts", "", []model.Vote{vote("a", D, -time.Minute, "x")}, D, "1 of 1"},

		{"majority all up", "majority", []model.Vote{up("a"), up("b"), up("c")}, U, "0 of 3"},
		{"majority one of three down", "", []model.Vote{up("a"), up("b"), down("c")}, U, "1 of 3"},
		{"majority two of three down", "", []model.Vote{up("a"), down("b"), down("c")}, D, "2 of 3 fresh votes down"},
		{"majority tie stays up", "majority", []model.Vote{up("a"), up("b"), down("c"), down("d")}, U, "2 of 4"},
		{"majority single checker down", "", []model.Vote{down("a")}, D, "1 of 1"},
		{"majority unknown not counted", "", []model.Vote{up("a"), down("b"), down("c"), unk("d"), unk("e")}, D, "2 unknown"},
		{"majority stale down not counted", "", []model.Vote{up("a"), down("b"), stale("c", D), stale("d", D)}, U, "1 of 2"},
		{"majority stale up not counted", "", []model.Vote{down("a"), stale("b", U), stale("c", U)}, D, "1 of 1"},

		{"any one down", "any", []model.Vote{up("a"), up("b"), down("c")}, D, "refused from c"},
		{"any none down", "any", []model.Vote{up("a"), up("b")}, U, "0 of 2"},
		{"all but one", "all", []model.Vote{up("a"), down("b"), down("c")}, U, "2 of 3"},
		{"all down", "all", []model.Vote{down("a"), down("b"), unk("c")}, D, "2 of 2"},

		{"number reached", "2", []model.Vote{up("a"), down("b"), down("c")}, D, "at least 2"},
		{"number not reached", "2", []model.Vote{up("a"), up("b"), down("c")}, U, "1 of 3"},
		{"number above the checkers stays up", "3", []model.Vote{down("a"), down("b")}, U, "2 of 2"},
		{"number 1 is any", "1", []model.Vote{up("a"), up("b"), down("c")}, D, ""},

		{"invalid quorum is majority", "most", []model.Vote{up("a"), down("b"), down("c")}, D, `quorum "most" is not valid`},
		{"zero quorum is invalid", "0", []model.Vote{up("a"), down("b")}, U, "not valid"},

		// Only a checker's newest vote counts.
		{"newest vote per checker", "", []model.Vote{
			vote("a", D, 3*time.Second, "old"), vote("a", U, time.Second, ""),
			vote("b", U, 3*time.Second, ""), vote("b", D, 2*time.Second, "new"),
		}, U, "1 of 2"},
		{"newest vote stale hides older", "", []model.Vote{vote("a", D, maxAge+time.Second, ""), vote("a", D, maxAge+2*time.Second, "")}, N, "1 stale"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, why := Verdict(tt.votes, tt.quorum, now, maxAge)
			if got != tt.want || !strings.Contains(why, tt.whyPart) {
				t.Fatalf("Verdict = %v, %q; want %v with %q", got, why, tt.want, tt.whyPart)
			}
		})
	}

	// maxAge <= 0: votes never expire.
	if got, _ := Verdict([]model.Vote{vote("a", D, 24*time.Hour, "")}, "", now, 0); got != D {
		t.Fatalf("with no max age an old vote should count; got %v", got)
	}
	// The reason lists every deciding error, in checker order.
	_, why := Verdict([]model.Vote{down("c"), down("a"), up("b")}, "", now, maxAge)
	if !strings.HasSuffix(why, "a: refused from a; c: refused from c") {
		t.Fatalf("why %q does not list the down votes' errors", why)
	}
}

// TestVerdictVotesExpireWithClock walks an injected clock forward: as a
// checker's vote ages past maxAge the verdict is recomputed from the rest.
func TestVerdictVotesExpireWithClock(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	votes := []model.Vote{
		{Checker: "a", Health: model.HealthDown, At: t0},
		{Checker: "b", Health: model.HealthDown, At: t0.Add(10 * time.Second)},
		{Checker: "c", Health: model.HealthUp, At: t0.Add(20 * time.Second)},
	}
	maxAge := 30 * time.Second
	for _, step := range []struct {
		at   time.Duration
		want model.Health
	}{
		{20 * time.Second, model.HealthDown}, // 2 of 3 down
		{31 * time.Second, model.HealthUp},   // a expired: 1 of 2, a tie
		{41 * time.Second, model.HealthUp},   // b expired: 0 of 1
		{51 * time.Second, model.HealthUnknown},
	} {
		if got, why := Verdict(votes, "majority", t0.Add(step.at), maxAge); got != step.want {
			t.Fatalf("at +%v: %v (%s), want %v", step.at, got, why, step.want)
		}
	}
}
