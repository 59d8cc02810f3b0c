package checker

import (
	"context"
	"math/rand/v2"
	"time"
)

// Clock is the time source of Run; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time                         { return time.Now() }
func (RealClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Run probes p until ctx is done, calling emit with the time each probe
// started and its result. The first probe waits a random stagger in
// [0, jitter) so that many checks spread out; later probes keep a fixed
// rate, one per interval from the first, skipping ticks that a probe
// overran (it cannot when the timeout is shorter than the interval). Run
// is meant to be the body of one goroutine per check; emit is called on
// that goroutine. A nil clock means RealClock; interval <= 0 means
// DefaultInterval.
func Run(ctx context.Context, p Probe, interval, jitter time.Duration, clock Clock, emit func(at time.Time, r Result)) {
	if clock == nil {
		clock = RealClock{}
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	var stagger time.Duration
	if jitter > 0 {
		stagger = time.Duration(rand.Int64N(int64(jitter)))
	}
	next := clock.Now().Add(stagger)
	for {
		if wait := next.Sub(clock.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-clock.After(wait):
			}
		}
		if ctx.Err() != nil {
			return
		}
		at := clock.Now()
		r := p.Probe(ctx)
		if ctx.Err() != nil {
			return // a probe cut short by shutdown is not a result
		}
		emit(at, r)
		next = next.Add(interval)
		if now := clock.Now(); !next.After(now) {
			// Overran: skip to the first tick still ahead.
			missed := now.Sub(next)/interval + 1
			next = next.Add(missed * interval)
		}
	}
}
