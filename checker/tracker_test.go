package checker

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

// parse turns "uudd" into results.
func parse(s string) []bool {
	r := make([]bool, len(s))
	for i, c := range s {
		r[i] = c == 'u'
	}
	return r
}

func TestTrackerSequences(t *testing.T) {
	for _, tt := range []struct {
		rise, fall int
		seq        string
		want       string // state letter after each result: ? u d
		changes    string // '!' where a transition is reported
	}{
		{2, 3, "u", "?", " "},
		{2, 3, "uu", "?u", " !"},
		{2, 3, "uuuu", "?uuu", " !  "},
		{2, 3, "ddd", "??d", "  !"},
		{2, 3, "uuddudddduu", "?uuuuuudddu", " !     !  !"},
		{2, 3, "ududududud", "??????????", "          "}, // flapping never settles
		{1, 1, "uddu", "uddu", "!! !"},
		{0, 0, "uudddd", "?uuudd", " !  ! "}, // zero thresholds take the defaults
		{3, 2, "uudduuu", "???dddu", "   !  !"},
	} {
		tr := NewTracker(tt.rise, tt.fall)
		var got, changes strings.Builder
		for _, up := range parse(tt.seq) {
			s, changed := tr.Observe(up)
			got.WriteByte(map[model.Health]byte{model.HealthUnknown: '?', model.HealthUp: 'u', model.HealthDown: 'd'}[s])
			if changed {
				changes.WriteByte('!')
			} else {
				changes.WriteByte(' ')
			}
		}
		if got.String() != tt.want || changes.String() != tt.changes {
			t.Errorf("rise %d fall %d %q: states %q changes %q, want %q %q", tt.rise, tt.fall, tt.seq, got.String(), changes.String(), tt.want, tt.changes)
		}
		if tr.State() != map[byte]model.Health{'?': model.HealthUnknown, 'u': model.HealthUp, 'd': model.HealthDown}[tt.want[len(tt.want)-1]] {
			t.Errorf("State() = %v after %q", tr.State(), tt.seq)
		}
	}
}

// reference computes the state after each result from the whole history:
// the state is that of the last point at which the trailing run of equal
// results reached its threshold.
func reference(rise, fall int, hist []bool) model.Health {
	state := model.HealthUnknown
	run := 0
	for i, up := range hist {
		if i > 0 && hist[i-1] == up {
			run++
		} else {
			run = 1
		}
		if up && run >= rise {
			state = model.HealthUp
		} else if !up && run >= fall {
			state = model.HealthDown
		}
	}
	return state
}

func TestTrackerRandomAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, th := range [][2]int{{1, 1}, {2, 3}, {3, 2}, {5, 5}, {1, 4}} {
		rise, fall := th[0], th[1]
		for _, pUp := range []float64{0.5, 0.8, 0.2} {
			tr := NewTracker(rise, fall)
			var hist []bool
			prev := model.HealthUnknown
			transitions := 0
			for i := range 10000 {
				up := rng.Float64() < pUp
				hist = append(hist, up)
				got, changed := tr.Observe(up)
				want := reference(rise, fall, hist[max(0, len(hist)-max(rise, fall)*2-1):])
				// The windowed reference can only see unknown at the very start.
				if want == model.HealthUnknown {
					want = prev
				}
				if got != want {
					t.Fatalf("rise %d fall %d p %.1f result %d: state %v, want %v", rise, fall, pUp, i, got, want)
				}
				if changed != (got != prev) {
					t.Fatalf("rise %d fall %d result %d: changed=%v but %v -> %v", rise, fall, i, changed, prev, got)
				}
				if changed {
					transitions++
				}
				prev = got
			}
			if full := reference(rise, fall, hist); full != prev {
				t.Fatalf("final state %v, full reference %v", prev, full)
			}
			t.Logf("rise %d fall %d p(up) %.1f: %d transitions in 10000 results", rise, fall, pUp, transitions)
		}
	}
}

func TestTrackerFlapping(t *testing.T) {
	// Up for fewer than rise results and down for fewer than fall, again and
	// again: once settled, the state never moves.
	tr := NewTracker(3, 3)
	for range 3 {
		tr.Observe(true)
	}
	if tr.State() != model.HealthUp {
		t.Fatal("not up after rise successes")
	}
	for i := range 10000 {
		up := i%4 < 2 // u u d d u u d d ...
		if s, changed := tr.Observe(up); changed || s != model.HealthUp {
			t.Fatalf("result %d: %v changed=%v while flapping below the thresholds", i, s, changed)
		}
	}
	// Flapping exactly at the thresholds moves on every run, and each
	// transition is reported once.
	tr = NewTracker(2, 2)
	changes := 0
	for i := range 10000 {
		if _, changed := tr.Observe(i%4 < 2); changed {
			changes++
		}
	}
	if changes != 5000 {
		t.Fatalf("%d transitions, want 5000 (one per run of two)", changes)
	}
}

func TestTrackerConcurrentTransitionsReportedOnce(t *testing.T) {
	tr := NewTracker(5, 5)
	var wg sync.WaitGroup
	var mu sync.Mutex
	changes := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if _, changed := tr.Observe(true); changed {
					mu.Lock()
					changes++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if changes != 1 || tr.State() != model.HealthUp {
		t.Fatalf("%d transitions reported, state %v; want exactly 1 to up", changes, tr.State())
	}
}
