package checker

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// DefaultBatchInterval is a Runner's period between full reports.
const DefaultBatchInterval = time.Second

// reportDelay is how long the reporter waits after a change before it
// reports, so that changes that happen together go out in one report. It
// is real time even with an injected Clock: a latency bound, not a
// schedule.
const reportDelay = 10 * time.Millisecond

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Checker is written into every Report; its Name into every vote.
	Checker model.Checker
	// Options are the probes' options.
	Options Options
	// Clock schedules the probes and the periodic reports; nil means
	// RealClock.
	Clock Clock
	// BatchInterval is the period of full reports; 0 means
	// DefaultBatchInterval.
	BatchInterval time.Duration
	// Report is called with every report, from one goroutine, never
	// concurrently. It may block (an HTTP POST): reports do not pile up
	// meanwhile, the next one carries the latest state. Run waits for a
	// running Report to return, so Report should bound its own time. Nil
	// sends nothing.
	Report func(model.Report)
	// Observe, when set, is called after every probe result has been
	// recorded (metrics). It runs on the job's goroutine and must be cheap.
	Observe func(job model.Job, r Result)
}

// Runner runs one checker's jobs, one goroutine each (Run with a stagger
// of up to one interval, and a Tracker with the check's rise and fall),
// and reports the checker's votes: every BatchInterval, and promptly
// (within about 10ms, changes that happen together coalesced) whenever a
// job's tracker state or the isolation flag changes.
//
// The runner is isolated when the jobs that have had a result span at
// least two data centers and the last result of every one of them is a
// failure: the checker itself is probably cut off. While isolated every
// vote is unknown and says so; the first success ends it.
//
// A Runner's methods are safe for concurrent use.
type Runner struct {
	cfg     RunnerConfig
	clock   Clock
	changed chan struct{} // holds one token while a prompt report is due

	mu     sync.Mutex
	jobs   map[string]*runJob // by model.Job.JobKey
	runCtx context.Context    // non-nil while Run runs; jobs are started under it
	wg     sync.WaitGroup     // every goroutine Run started

	// Isolation, counted over the jobs that have had a result.
	probed   int
	failing  int            // of those, the ones whose last result failed
	dcs      map[string]int // of those, how many per data center
	isolated bool

	goroutines atomic.Int64 // started and not yet ended; for tests
}

// runJob is one job and, under Runner.mu, its last result.
type runJob struct {
	key      string
	job      model.Job
	probe    Probe  // nil when it could not be built
	buildErr string // why not
	created  time.Time
	tracker  *Tracker
	cancel   context.CancelFunc // nil while not running
	done     chan struct{}      // closed when its goroutine has ended

	probed bool
	last   Result
	at     time.Time
}

// NewRunner returns a Runner without jobs; see SetJobs and Run.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.BatchInterval <= 0 {
		cfg.BatchInterval = DefaultBatchInterval
	}
	clock := cfg.Clock
	if clock == nil {
		clock = RealClock{}
	}
	return &Runner{
		cfg:     cfg,
		clock:   clock,
		changed: make(chan struct{}, 1),
		jobs:    make(map[string]*runJob),
		dcs:     make(map[string]int),
	}
}

// SetJobs replaces the runner's jobs (keyed by service and endpoint; of
// two with one key the first counts). A new job starts; a removed one
// stops; a job whose target or check changed (the quorum aside, which the
// checker does not use) restarts with nothing kept; an unchanged one keeps
// running with its tracker and last result (its data center is updated).
// A job whose probe cannot be built is not run: its vote is unknown with
// the build error. SetJobs may be called before, during or after Run.
func (r *Runner) SetJobs(jobs []model.Job) {
	next := make(map[string]model.Job, len(jobs))
	order := make([]string, 0, len(jobs))
	for _, j := range jobs {
		if _, dup := next[j.JobKey()]; !dup {
			next[j.JobKey()] = j
			order = append(order, j.JobKey())
		}
	}
	now := r.clock.Now()

	r.mu.Lock()
	defer r.mu.Unlock()
	for key, old := range r.jobs {
		j, ok := next[key]
		if ok && sameProbe(old.job, j) {
			if old.probed && old.job.Datacenter != j.Datacenter {
				r.uncount(old)
				old.job = j
				r.count(old)
			}
			old.job = j
			delete(next, key)
			continue
		}
		if old.cancel != nil {
			old.cancel()
			old.cancel = nil
		}
		if old.probed {
			r.uncount(old)
		}
		delete(r.jobs, key)
	}
	for _, key := range order {
		j, ok := next[key]
		if !ok {
			continue // kept
		}
		rj := &runJob{key: key, job: j, created: now}
		c := Defaults(j.CheckSpec())
		rj.tracker = NewTracker(c.Rise, c.Fall)
		p, err := New(j.CheckSpec(), j.Target, r.cfg.Options)
		if err != nil {
			rj.buildErr = err.Error()
		} else {
			rj.probe = p
		}
		r.jobs[key] = rj
		if r.runCtx != nil {
			r.start(rj)
		}
	}
	r.updateIsolation()
}

// sameProbe reports whether b probes what a probes, the same way.
func sameProbe(a, b model.Job) bool {
	if a.Target != b.Target {
		return false
	}
	ca, cb := Defaults(a.CheckSpec()), Defaults(b.CheckSpec())
	if !slices.Equal(ca.ExpectStatus, cb.ExpectStatus) {
		return false
	}
	ca.ExpectStatus, cb.ExpectStatus = nil, nil // nil and empty are the same
	ca.Quorum, cb.Quorum = "", ""               // the fleet's rule, not the probe's
	return reflect.DeepEqual(ca, cb)            // every other field, present and future
}

// Run runs the jobs and the reporter until ctx is done. When it returns,
// every goroutine it started has ended (a Report in progress included).
// Run must not be called again before it has returned.
func (r *Runner) Run(ctx context.Context) {
	r.mu.Lock()
	if r.runCtx != nil {
		r.mu.Unlock()
		panic("checker: Runner.Run called while it runs")
	}
	r.runCtx = ctx
	for _, rj := range r.jobs {
		r.start(rj)
	}
	if r.cfg.Report != nil {
		r.spawn(func() { r.reportLoop(ctx) }, nil)
	}
	r.mu.Unlock()

	<-ctx.Done()

	r.mu.Lock()
	r.runCtx = nil // SetJobs starts nothing from now on
	for _, rj := range r.jobs {
		if rj.cancel != nil {
			rj.cancel()
			rj.cancel = nil
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// spawn runs f on a goroutine that Run waits for, and closes done (when
// not nil) once it has ended. Called with r.mu held while Run runs, so
// that no Add races Run's Wait.
func (r *Runner) spawn(f func(), done chan struct{}) {
	r.wg.Add(1)
	r.goroutines.Add(1)
	go func() {
		defer r.wg.Done()
		if done != nil {
			defer close(done)
		}
		defer r.goroutines.Add(-1)
		f()
	}()
}

// start runs one job's goroutine under r.runCtx. Called with r.mu held.
func (r *Runner) start(rj *runJob) {
	if rj.probe == nil {
		return
	}
	ctx, cancel := context.WithCancel(r.runCtx)
	rj.cancel = cancel
	done := make(chan struct{})
	rj.done = done
	interval := Defaults(rj.job.CheckSpec()).Interval.D()
	p, clock := rj.probe, r.clock
	r.spawn(func() {
		Run(ctx, p, interval, interval, clock, func(at time.Time, res Result) { r.record(rj, at, res) })
	}, done)
}

// record applies one probe result of rj, unless rj has been replaced or
// removed meanwhile.
func (r *Runner) record(rj *runJob, at time.Time, res Result) {
	r.mu.Lock()
	if r.jobs[rj.key] != rj {
		r.mu.Unlock()
		return
	}
	if rj.probed {
		r.uncount(rj)
	}
	rj.probed, rj.last, rj.at = true, res, at
	r.count(rj)
	if _, changed := rj.tracker.Observe(res.Up); changed {
		r.signal()
	}
	r.updateIsolation()
	job := rj.job
	r.mu.Unlock()
	if r.cfg.Observe != nil {
		r.cfg.Observe(job, res)
	}
}

// count and uncount add and remove a job with a result to and from the
// isolation counters. Called with r.mu held.
func (r *Runner) count(rj *runJob) {
	r.probed++
	if !rj.last.Up {
		r.failing++
	}
	r.dcs[rj.job.Datacenter]++
}

func (r *Runner) uncount(rj *runJob) {
	r.probed--
	if !rj.last.Up {
		r.failing--
	}
	if r.dcs[rj.job.Datacenter]--; r.dcs[rj.job.Datacenter] <= 0 {
		delete(r.dcs, rj.job.Datacenter)
	}
}

// updateIsolation recomputes the isolation flag, and asks for a prompt
// report when it changed. Called with r.mu held.
func (r *Runner) updateIsolation() {
	iso := r.probed > 0 && r.failing == r.probed && len(r.dcs) >= 2
	if iso != r.isolated {
		r.isolated = iso
		r.signal()
	}
}

// signal asks the reporter for a prompt report; it never blocks.
func (r *Runner) signal() {
	select {
	case r.changed <- struct{}{}:
	default: // one is due already
	}
}

// reportLoop is the one goroutine that calls Report: every BatchInterval,
// and reportDelay after a change. Changes that arrive while Report runs
// are sent, with the latest state, as soon as it returns.
func (r *Runner) reportLoop(ctx context.Context) {
	tick := r.clock.After(r.cfg.BatchInterval)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			tick = r.clock.After(r.cfg.BatchInterval)
		case <-r.changed:
			t := time.NewTimer(reportDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		for again := true; again && ctx.Err() == nil; {
			rep, ok := r.report()
			if !ok {
				break
			}
			r.cfg.Report(rep)
			select {
			case <-r.changed: // changed while Report ran
			default:
				again = false
			}
		}
	}
}

// report is the report to send now, and false when there is nothing to
// say: there are jobs but none has a result yet. With no jobs at all it
// is a report without votes, which keeps the checker's last-seen fresh.
func (r *Runner) report() (model.Report, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.changed: // this report carries every change made so far
	default:
	}
	votes := r.votesLocked()
	if len(votes) == 0 && len(r.jobs) > 0 {
		return model.Report{}, false
	}
	return model.Report{Checker: r.cfg.Checker, Isolated: r.isolated, Votes: votes}, true
}

// Votes returns the current votes, sorted by service, then endpoint: one
// per job that has had a probe result or whose probe could not be built.
// A job still waiting for its first result has no vote.
func (r *Runner) Votes() []model.Vote {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.votesLocked()
}

// Isolated reports whether the runner believes itself cut off: every job
// with a result, in at least two data centers, failed its last probe.
func (r *Runner) Isolated() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.isolated
}

func (r *Runner) votesLocked() []model.Vote {
	votes := make([]model.Vote, 0, len(r.jobs))
	for _, rj := range r.jobs {
		v := model.Vote{Checker: r.cfg.Checker.Name, Service: rj.job.Service, Endpoint: rj.job.Endpoint}
		switch {
		case rj.probe == nil:
			v.Health, v.Error, v.At = model.HealthUnknown, rj.buildErr, rj.created
		case rj.probed:
			v.Health, v.Error, v.At, v.Latency = rj.tracker.State(), rj.last.Err, rj.at, rj.last.Latency
			if rj.last.Load != nil {
				l := *rj.last.Load
				v.Load = &l
			}
		default:
			continue // no result yet: nothing to say
		}
		if r.isolated {
			v.Health = model.HealthUnknown
			v.Error = fmt.Sprintf("checker isolated: every target in %d data centers is failing (last error: %s)", len(r.dcs), v.Error)
		}
		votes = append(votes, v)
	}
	slices.SortFunc(votes, func(a, b model.Vote) int {
		return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.Endpoint, b.Endpoint))
	})
	return votes
}
