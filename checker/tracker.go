package checker

import (
	"sync"

	"github.com/meridian-gslb/meridian/store/model"
)

// Tracker applies rise and fall thresholds to one checker's sequence of
// probe results for one endpoint.
//
// It starts unknown. Every success resets the failure count and every
// failure resets the success count. After rise consecutive successes the
// state becomes up, after fall consecutive failures down, whatever it was
// before (so unknown goes to up after rise successes or to down after fall
// failures). Observe reports a change exactly once: on the result that
// reaches the threshold while the state differs. A Tracker is safe for
// concurrent use.
type Tracker struct {
	mu         sync.Mutex
	rise, fall int
	state      model.Health
	ok, bad    int // consecutive successes and failures
}

// NewTracker returns an unknown Tracker; rise or fall below 1 take
// DefaultRise and DefaultFall.
func NewTracker(rise, fall int) *Tracker {
	if rise < 1 {
		rise = DefaultRise
	}
	if fall < 1 {
		fall = DefaultFall
	}
	return &Tracker{rise: rise, fall: fall, state: model.HealthUnknown}
}

// Observe records one result and returns the state after it, and whether
// this result changed the state.
func (t *Tracker) Observe(up bool) (model.Health, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	next := t.state
	if up {
		t.bad = 0
		if t.ok < t.rise { // saturate: no overflow on endless runs
			t.ok++
		}
		if t.ok >= t.rise {
			next = model.HealthUp
		}
	} else {
		t.ok = 0
		if t.bad < t.fall {
			t.bad++
		}
		if t.bad >= t.fall {
			next = model.HealthDown
		}
	}
	changed := next != t.state
	t.state = next
	return next, changed
}

// State returns the current state.
func (t *Tracker) State() model.Health {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}
