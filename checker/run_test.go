package checker

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock moves only when the test advances it. Each After call is
// announced on waiting, so the test knows Run is blocked.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiting chan time.Duration
	fire    chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), waiting: make(chan time.Duration), fire: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.waiting <- d
	return c.fire
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// scripted returns results in order, advancing the clock by its cost.
type scripted struct {
	clock *fakeClock
	ups   []bool
	cost  []time.Duration
	n     int
}

func (s *scripted) Probe(context.Context) Result {
	i := s.n % len(s.ups)
	s.n++
	s.clock.advance(s.cost[i%len(s.cost)])
	if s.ups[i] {
		return Result{Up: true}
	}
	return Result{Err: "scripted failure"}
}

func TestRunFixedRateWithStagger(t *testing.T) {
	clk := newFakeClock()
	t0 := clk.Now()
	const interval, jitter = 10 * time.Second, 4 * time.Second
	// The third probe overruns two intervals (25s): its next ticks are skipped.
	p := &scripted{clock: clk, ups: []bool{true, false, true, true}, cost: []time.Duration{time.Second, time.Second, 25 * time.Second, time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	type got struct {
		at time.Time
		up bool
	}
	results := make(chan got, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, p, interval, jitter, clk, func(at time.Time, r Result) { results <- got{at, r.Up} })
	}()

	// The stagger: a wait in [0, jitter) before the first probe (or none).
	var stagger time.Duration
	select {
	case stagger = <-clk.waiting:
		if stagger <= 0 || stagger >= jitter {
			t.Fatalf("stagger %v outside (0, %v)", stagger, jitter)
		}
		clk.advance(stagger)
		clk.fire <- clk.Now()
	case r := <-results: // stagger drew 0
		results <- r
	}
	first := t0.Add(stagger)
	wantAt := []time.Duration{0, interval, 2 * interval, 5 * interval} // 3rd overran past 3 and 4
	for i, off := range wantAt {
		r := <-results
		if want := first.Add(off); !r.at.Equal(want) {
			t.Fatalf("probe %d at +%v, want +%v", i, r.at.Sub(t0), want.Sub(t0))
		}
		if r.up != p.ups[i] {
			t.Fatalf("probe %d up=%v, want %v", i, r.up, p.ups[i])
		}
		if i == len(wantAt)-1 {
			break
		}
		// Run now waits for the next tick: move the clock there.
		wait := <-clk.waiting
		if want := first.Add(wantAt[i+1]).Sub(clk.Now()); wait != want {
			t.Fatalf("after probe %d Run waits %v, want %v", i, wait, want)
		}
		clk.advance(wait)
		clk.fire <- clk.Now()
	}
	// Cancel while Run waits: it returns without another probe.
	<-clk.waiting
	cancel()
	<-done
	if p.n != len(wantAt) {
		t.Fatalf("%d probes, want %d", p.n, len(wantAt))
	}
}

func TestRunRealClockFeedsTracker(t *testing.T) {
	// A short real run: probes at a 10ms interval drive a Tracker up.
	clk := RealClock{}
	tr := NewTracker(2, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := probeFunc(func(context.Context) Result { return Result{Up: true} })
	n := 0
	Run(ctx, p, 10*time.Millisecond, 5*time.Millisecond, clk, func(_ time.Time, r Result) {
		n++
		if _, changed := tr.Observe(r.Up); changed {
			cancel()
		}
	})
	if n != 2 || tr.State() != "up" {
		t.Fatalf("%d probes, state %v; want up after 2", n, tr.State())
	}
}

type probeFunc func(context.Context) Result

func (f probeFunc) Probe(ctx context.Context) Result { return f(ctx) }
