package checker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// waitLimit bounds every wait of these tests; reaching it is a failure.
const waitLimit = 10 * time.Second

// stepClock is a fake Clock for many goroutines: After registers a waiter
// that fires when advance moves the time past it.
type stepClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []stepWaiter
	added   chan struct{} // a token after each After call
}

type stepWaiter struct {
	at time.Time
	ch chan time.Time
}

func newStepClock() *stepClock {
	return &stepClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), added: make(chan struct{}, 1)}
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, stepWaiter{c.now.Add(d), ch})
	select {
	case c.added <- struct{}{}:
	default:
	}
	return ch
}

// advance moves the time on and fires (and forgets) the waiters due.
func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(c.now) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.now
	}
	c.waiters = kept
}

// waitPending waits until at least n waiters are registered. A waiter of
// a stopped goroutine stays registered until an advance fires it.
func (c *stepClock) waitPending(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		c.mu.Lock()
		k := len(c.waiters)
		c.mu.Unlock()
		if k >= n {
			return
		}
		select {
		case <-c.added:
		case <-deadline:
			t.Fatalf("%d clock waiters after %v, want %d", k, waitLimit, n)
		}
	}
}

// harness runs a Runner on a stepClock and collects its reports and
// observed results.
type harness struct {
	t        *testing.T
	r        *Runner
	clk      *stepClock
	reports  chan model.Report
	observed chan model.Job
	inReport atomic.Int32
	overlap  atomic.Bool
	cancel   context.CancelFunc
	done     chan struct{}
}

const testInterval = 10 * time.Second

func newHarness(t *testing.T, release <-chan struct{}) *harness {
	h := &harness{t: t, clk: newStepClock(), reports: make(chan model.Report, 1000), observed: make(chan model.Job, 4096)}
	h.r = NewRunner(RunnerConfig{
		Checker:       model.Checker{Name: "chk1", Region: "eu"},
		Clock:         h.clk,
		BatchInterval: time.Hour, // every report the tests see is a prompt one
		Report: func(rep model.Report) {
			if h.inReport.Add(1) > 1 {
				h.overlap.Store(true)
			}
			h.reports <- rep
			if release != nil {
				<-release
			}
			h.inReport.Add(-1)
		},
		Observe: func(j model.Job, _ Result) { h.observed <- j },
	})
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		h.r.Run(ctx)
	}()
	h.t.Cleanup(h.stop)
}

// stop cancels Run and waits for it; every goroutine it started must have
// ended by then, and Report must never have run concurrently.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	select {
	case <-h.done:
	case <-time.After(waitLimit):
		h.t.Fatal("Run did not return")
	}
	if n := h.r.goroutines.Load(); n != 0 {
		h.t.Errorf("%d goroutines of the runner still running after Run returned", n)
	}
	if h.overlap.Load() {
		h.t.Error("Report was called concurrently")
	}
}

// step moves the clock one interval on, which probes every job once, and
// waits for the n results and for the jobs to wait again (pending clock
// waiters, the reporter's included).
func (h *harness) step(n, pending int) {
	h.t.Helper()
	h.clk.advance(testInterval)
	h.waitObserved(n)
	h.clk.waitPending(h.t, pending)
}

func (h *harness) waitObserved(n int) {
	h.t.Helper()
	deadline := time.After(waitLimit)
	for range n {
		select {
		case <-h.observed:
		case <-deadline:
			h.t.Fatalf("fewer than %d probe results after %v", n, waitLimit)
		}
	}
}

// waitReport returns the first report for which ok holds, failing every
// report before it that bad (if set) holds for.
func (h *harness) waitReport(ok, bad func(model.Report) bool) model.Report {
	h.t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case rep := <-h.reports:
			if bad != nil && bad(rep) {
				h.t.Fatalf("unexpected report %s", reportText(rep))
			}
			if ok(rep) {
				return rep
			}
		case <-deadline:
			h.t.Fatalf("no such report within %v; votes now %s", waitLimit, votesText(h.r.Votes()))
		}
	}
}

func reportText(rep model.Report) string {
	return fmt.Sprintf("checker %s isolated=%v votes %s", rep.Checker.Name, rep.Isolated, votesText(rep.Votes))
}

func votesText(votes []model.Vote) string {
	s := make([]string, len(votes))
	for i, v := range votes {
		s[i] = fmt.Sprintf("%s|%s=%s(%s)", v.Service, v.Endpoint, v.Health, v.Error)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// healthOf maps "service|endpoint" to the votes' health.
func healthOf(votes []model.Vote) map[string]model.Health {
	m := make(map[string]model.Health, len(votes))
	for _, v := range votes {
		m[v.Service+"|"+v.Endpoint] = v.Health
	}
	return m
}

func allHealth(want model.Health, n int) func(model.Report) bool {
	return func(rep model.Report) bool {
		if len(rep.Votes) != n {
			return false
		}
		for _, v := range rep.Votes {
			if v.Health != want {
				return false
			}
		}
		return true
	}
}

func anyDown(rep model.Report) bool {
	for _, v := range rep.Votes {
		if v.Health == model.HealthDown {
			return true
		}
	}
	return false
}

// tcpServer accepts and closes connections until the test ends.
func tcpServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// toggled is an HTTP server whose every path answers 200 while ok is set,
// else 503.
func toggled(t *testing.T) (target string, ok *atomic.Bool) {
	t.Helper()
	ok = new(atomic.Bool)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return hostPort(srv), ok
}

func testJob(svc, ep, dc, target, typ string, rise, fall int) model.Job {
	return model.Job{
		Service: svc, Endpoint: ep, Datacenter: dc, Target: target,
		Check: new(Defaults(model.Check{Type: typ, Interval: model.Duration(testInterval), Rise: rise, Fall: fall, Path: "/" + ep})),
	}
}

func TestRunnerReportsPromptlyOnChange(t *testing.T) {
	h := newHarness(t, nil)
	jobs := []model.Job{
		testJob("b.example./A", "192.0.2.2", "fra", tcpServer(t), "tcp", 1, 2),
		testJob("a.example./A", "192.0.2.1", "ams", tcpServer(t), "tcp", 1, 2),
	}
	h.r.SetJobs(jobs)
	h.start()
	h.clk.waitPending(t, 3)
	t0 := h.clk.Now()
	h.clk.advance(testInterval)
	start := time.Now()
	// The periodic report is an hour away: this one is prompt.
	rep := h.waitReport(allHealth(model.HealthUp, 2), nil)
	t.Logf("prompt report %v after the probes were due", time.Since(start))
	if rep.Checker.Name != "chk1" || rep.Checker.Region != "eu" || rep.Isolated {
		t.Errorf("report header %+v isolated=%v", rep.Checker, rep.Isolated)
	}
	if rep.Votes[0].Service != "a.example./A" || rep.Votes[1].Service != "b.example./A" {
		t.Errorf("votes not sorted: %s", votesText(rep.Votes))
	}
	for _, v := range rep.Votes {
		if v.Checker != "chk1" || v.Error != "" || v.Latency <= 0 || !v.At.Equal(t0.Add(testInterval)) {
			t.Errorf("vote %+v", v)
		}
	}
	if got := h.r.Votes(); len(got) != 2 || got[0].Health != model.HealthUp {
		t.Errorf("Votes() = %s", votesText(got))
	}
}

func TestRunnerPeriodicReports(t *testing.T) {
	clk := newStepClock()
	reports := make(chan model.Report, 10)
	r := NewRunner(RunnerConfig{Checker: model.Checker{Name: "chk1"}, Clock: clk, Report: func(rep model.Report) { reports <- rep }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	// No jobs: an empty report every BatchInterval (1s by default).
	for range 2 {
		clk.waitPending(t, 1)
		clk.advance(DefaultBatchInterval)
		select {
		case rep := <-reports:
			if rep.Votes == nil || len(rep.Votes) != 0 || rep.Checker.Name != "chk1" {
				t.Fatalf("report %+v, want one without votes", rep)
			}
		case <-time.After(waitLimit):
			t.Fatal("no periodic report")
		}
	}
	cancel()
	<-done
	if n := r.goroutines.Load(); n != 0 {
		t.Fatalf("%d goroutines left", n)
	}
}

func TestRunnerNothingToSayBeforeFirstResult(t *testing.T) {
	r := NewRunner(RunnerConfig{Checker: model.Checker{Name: "chk1"}})
	target := tcpServer(t)
	r.SetJobs([]model.Job{testJob("a.example./A", "192.0.2.1", "fra", target, "tcp", 1, 1)})
	if rep, ok := r.report(); ok {
		t.Fatalf("report %s before any result", reportText(rep))
	}
	if v := r.Votes(); len(v) != 0 {
		t.Fatalf("votes %s before any result", votesText(v))
	}
	// A job whose probe cannot be built has something to say at once.
	r.SetJobs([]model.Job{
		testJob("a.example./A", "192.0.2.1", "fra", target, "tcp", 1, 1),
		testJob("a.example./A", "192.0.2.2", "fra", target, "icmp", 1, 1),
	})
	rep, ok := r.report()
	if !ok || len(rep.Votes) != 1 {
		t.Fatalf("report %s, %v; want the build error's vote", reportText(rep), ok)
	}
	if v := rep.Votes[0]; v.Endpoint != "192.0.2.2" || v.Health != model.HealthUnknown || !strings.Contains(v.Error, `unknown check type "icmp"`) || v.At.IsZero() {
		t.Fatalf("vote %+v", v)
	}
}

func TestRunnerIsolatedNeverReportsDown(t *testing.T) {
	h := newHarness(t, nil)
	// Four targets in two data centers, all refusing connections.
	jobs := []model.Job{
		testJob("s./A", "192.0.2.1", "fra", refusingAddr(t), "tcp", 1, 2),
		testJob("s./A", "192.0.2.2", "fra", refusingAddr(t), "tcp", 1, 2),
		testJob("s./A", "192.0.2.3", "ams", refusingAddr(t), "tcp", 1, 2),
		testJob("s./A", "192.0.2.4", "ams", refusingAddr(t), "tcp", 1, 2),
	}
	h.r.SetJobs(jobs)
	h.start()
	h.clk.waitPending(t, 5)
	h.step(4, 5)
	// Isolated once jobs in both data centers have failed once: before
	// any tracker is down.
	h.waitReport(func(rep model.Report) bool { return rep.Isolated }, anyDown)
	for range 3 {
		h.step(4, 5)
	}
	if !h.r.Isolated() {
		t.Fatal("not isolated")
	}
	h.stop()
	// No report ever had a down vote, nor left isolation.
	for len(h.reports) > 0 {
		rep := <-h.reports
		if anyDown(rep) || !rep.Isolated {
			t.Fatalf("cut-off checker reported %s", reportText(rep))
		}
	}
	votes := h.r.Votes()
	if len(votes) != 4 {
		t.Fatalf("votes %s", votesText(votes))
	}
	for _, v := range votes {
		if v.Health != model.HealthUnknown ||
			!strings.HasPrefix(v.Error, "checker isolated: every target in 2 data centers is failing (last error: ") ||
			!strings.Contains(v.Error, "refused") {
			t.Errorf("vote %+v", v)
		}
	}
	// The trackers did reach down: isolation is what hides it.
	h.r.mu.Lock()
	for _, rj := range h.r.jobs {
		if s := rj.tracker.State(); s != model.HealthDown {
			t.Errorf("%s tracker %s, want down", rj.key, s)
		}
	}
	h.r.mu.Unlock()
}

func TestRunnerIsolationClearsOnFirstSuccess(t *testing.T) {
	h := newHarness(t, nil)
	web, webOK := toggled(t)
	jobs := []model.Job{
		testJob("s./A", "192.0.2.1", "fra", web, "http", 1, 2),
		testJob("s./A", "192.0.2.2", "fra", refusingAddr(t), "tcp", 1, 2),
		testJob("s./A", "192.0.2.3", "ams", refusingAddr(t), "tcp", 1, 2),
	}
	h.r.SetJobs(jobs)
	h.start()
	h.clk.waitPending(t, 4)
	h.step(3, 4)
	h.waitReport(func(rep model.Report) bool { return rep.Isolated }, anyDown)
	h.step(3, 4)
	if !h.r.Isolated() {
		t.Fatal("not isolated")
	}
	// One target answers again: isolation ends with that result, and the
	// others' trackers (down by now) show at once.
	webOK.Store(true)
	h.step(3, 4)
	if h.r.Isolated() {
		t.Fatal("still isolated after a success")
	}
	rep := h.waitReport(func(rep model.Report) bool { return !rep.Isolated }, nil)
	want := map[string]model.Health{"s./A|192.0.2.1": model.HealthUp, "s./A|192.0.2.2": model.HealthDown, "s./A|192.0.2.3": model.HealthDown}
	if got := healthOf(rep.Votes); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after isolation: %s", reportText(rep))
	}
	for _, v := range rep.Votes {
		if strings.Contains(v.Error, "isolated") {
			t.Errorf("vote %+v still says isolated", v)
		}
	}
}

func TestRunnerOneDatacenterReportsDown(t *testing.T) {
	h := newHarness(t, nil)
	h.r.SetJobs([]model.Job{
		testJob("s./A", "192.0.2.1", "fra", refusingAddr(t), "tcp", 1, 2),
		testJob("s./A", "192.0.2.2", "fra", refusingAddr(t), "tcp", 1, 2),
	})
	h.start()
	h.clk.waitPending(t, 3)
	h.step(2, 3)
	h.step(2, 3)
	rep := h.waitReport(allHealth(model.HealthDown, 2), func(rep model.Report) bool { return rep.Isolated })
	if h.r.Isolated() || !strings.Contains(rep.Votes[0].Error, "refused") {
		t.Fatalf("report %s, isolated %v", reportText(rep), h.r.Isolated())
	}
}

func TestRunnerSetJobs(t *testing.T) {
	h := newHarness(t, nil)
	a := testJob("s./A", "192.0.2.1", "fra", tcpServer(t), "tcp", 2, 2)
	b := testJob("s./A", "192.0.2.2", "fra", tcpServer(t), "tcp", 2, 2)
	c := testJob("s./A", "192.0.2.3", "ams", tcpServer(t), "tcp", 2, 2)
	h.r.SetJobs([]model.Job{a, b, c}) // before Run: started by Run
	h.start()
	h.clk.waitPending(t, 4)
	h.step(3, 4)
	h.step(3, 4)
	h.waitReport(allHealth(model.HealthUp, 3), nil)

	h.r.mu.Lock()
	oldA, oldB, oldC := h.r.jobs[a.JobKey()], h.r.jobs[b.JobKey()], h.r.jobs[c.JobKey()]
	aAt := oldA.at
	h.r.mu.Unlock()

	// a unchanged (moved to another data center), b's check changed, c
	// removed, d new.
	a2 := a
	a2.Datacenter = "ams"
	b2 := b
	b2.Check = new(*b.Check) // checks are shared: change a copy
	b2.Check.Fall = 5
	d := testJob("s./A", "192.0.2.4", "ams", tcpServer(t), "tcp", 2, 2)
	h.r.SetJobs([]model.Job{d, b2, a2})
	for _, done := range []chan struct{}{oldB.done, oldC.done} {
		select {
		case <-done:
		case <-time.After(waitLimit):
			t.Fatal("a removed or changed job's goroutine did not end")
		}
	}
	h.r.mu.Lock()
	if h.r.jobs[a.JobKey()] != oldA || h.r.jobs[b.JobKey()] == oldB || h.r.jobs[c.JobKey()] != nil || len(h.r.jobs) != 3 {
		t.Errorf("jobs after SetJobs: %v", h.r.jobs)
	}
	if oldA.job.Datacenter != "ams" || h.r.dcs["ams"] != 1 || h.r.dcs["fra"] != 0 || h.r.probed != 1 {
		t.Errorf("isolation counters: dcs %v, probed %d", h.r.dcs, h.r.probed)
	}
	h.r.mu.Unlock()
	if n := h.r.goroutines.Load(); n != 4 { // three jobs and the reporter
		t.Errorf("%d goroutines, want 4", n)
	}
	// Only a has a vote, unchanged: b restarted with nothing kept, d has
	// no result yet.
	if v := h.r.Votes(); len(v) != 1 || v[0].Endpoint != a.Endpoint || v[0].Health != model.HealthUp || !v[0].At.Equal(aAt) {
		t.Fatalf("votes after SetJobs %s", votesText(v))
	}

	// Pending: a, b2, d, the reporter, and the stopped b and c (until fired).
	h.clk.waitPending(t, 6)
	h.step(3, 4)
	want := map[string]model.Health{a.JobKey(): model.HealthUp, b.JobKey(): model.HealthUnknown, d.JobKey(): model.HealthUnknown}
	if got := healthOf(h.r.Votes()); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after one more probe: %v, want %v", got, want)
	}
	h.step(3, 4)
	h.waitReport(allHealth(model.HealthUp, 3), nil)

	// The same list again changes nothing.
	h.r.mu.Lock()
	before := map[string]*runJob{}
	for k, rj := range h.r.jobs {
		before[k] = rj
	}
	h.r.mu.Unlock()
	h.r.SetJobs([]model.Job{a2, b2, d, a2}) // a duplicate key counts once
	h.r.mu.Lock()
	for k, rj := range h.r.jobs {
		if before[k] != rj {
			t.Errorf("%s restarted by an identical list", k)
		}
	}
	h.r.mu.Unlock()

	// No jobs: every job goroutine ends; the reporter stays.
	h.r.SetJobs(nil)
	for _, rj := range before {
		select {
		case <-rj.done:
		case <-time.After(waitLimit):
			t.Fatal("a removed job's goroutine did not end")
		}
	}
	if n := h.r.goroutines.Load(); n != 1 {
		t.Errorf("%d goroutines, want only the reporter", n)
	}
	if v := h.r.Votes(); len(v) != 0 {
		t.Errorf("votes %s with no jobs", votesText(v))
	}
}

func TestRunnerCoalescesWhileReportBlocks(t *testing.T) {
	release := make(chan struct{})
	h := newHarness(t, release)
	target, ok := toggled(t)
	ok.Store(true)
	jobs := []model.Job{
		testJob("s./A", "192.0.2.1", "fra", target, "http", 1, 1),
		testJob("s./A", "192.0.2.2", "fra", target, "http", 1, 1),
		testJob("s./A", "192.0.2.3", "fra", target, "http", 1, 1),
	}
	h.r.SetJobs(jobs)
	h.start()
	h.clk.waitPending(t, 4)
	h.step(3, 4)
	// The first report is in Report now, blocked.
	first := h.waitReport(func(model.Report) bool { return true }, nil)
	if len(first.Votes) == 0 || anyDown(first) {
		t.Fatalf("first report %s", reportText(first))
	}
	// Three changes while it blocks: all three targets go down.
	ok.Store(false)
	h.step(3, 4)
	release <- struct{}{}
	// The next report goes out as soon as Report returns, with the latest
	// state — one report, not one per change.
	second := h.waitReport(func(model.Report) bool { return true }, nil)
	if !allHealth(model.HealthDown, 3)(second) {
		t.Fatalf("second report %s, want all three down", reportText(second))
	}
	release <- struct{}{}
	h.stop()
	if n := len(h.reports); n != 0 {
		t.Fatalf("%d more reports after the coalesced one, want none", n)
	}
}

func TestRunnerRunWaitsForGoroutines(t *testing.T) {
	release := make(chan struct{})
	var returned atomic.Bool
	reports := make(chan model.Report, 1)
	r := NewRunner(RunnerConfig{
		Checker: model.Checker{Name: "chk1"},
		Report: func(rep model.Report) {
			select {
			case reports <- rep:
			default:
			}
			<-release
			returned.Store(true)
		},
	})
	fast := &model.Check{Type: "tcp", Interval: model.Duration(20 * time.Millisecond), Rise: 1}
	target := tcpServer(t)
	var jobs []model.Job
	for i := range 5 {
		jobs = append(jobs, model.Job{Service: "s./A", Endpoint: fmt.Sprint(i), Datacenter: "fra", Target: target, Check: fast})
	}
	r.SetJobs(jobs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	select {
	case <-reports: // Report is blocked now
	case <-time.After(waitLimit):
		t.Fatal("no report")
	}
	cancel()
	// The jobs end; Run still waits for the blocked Report.
	r.mu.Lock()
	var dones []chan struct{}
	for _, rj := range r.jobs {
		dones = append(dones, rj.done)
	}
	r.mu.Unlock()
	for _, d := range dones {
		select {
		case <-d:
		case <-time.After(waitLimit):
			t.Fatal("a job did not end")
		}
	}
	select {
	case <-done:
		t.Fatal("Run returned while Report was still running")
	default:
	}
	close(release)
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
	}
	if !returned.Load() || r.goroutines.Load() != 0 {
		t.Fatalf("Run returned with Report returned=%v and %d goroutines", returned.Load(), r.goroutines.Load())
	}
	// After Run, SetJobs starts nothing.
	r.SetJobs(append(jobs[:2:2], model.Job{Service: "s./A", Endpoint: "new", Datacenter: "fra", Target: target, Check: fast}))
	if n := r.goroutines.Load(); n != 0 {
		t.Fatalf("SetJobs after Run started %d goroutines", n)
	}
}

func TestRunnerConcurrentSetJobs(t *testing.T) {
	target := tcpServer(t)
	fast := &model.Check{Type: "tcp", Interval: model.Duration(20 * time.Millisecond), Rise: 1, Fall: 1}
	mk := func(prefix string, n int) []model.Job {
		var jobs []model.Job
		for i := range n {
			jobs = append(jobs, model.Job{Service: prefix + "./A", Endpoint: fmt.Sprint(i), Datacenter: fmt.Sprint("dc", i%3), Target: target, Check: fast})
		}
		return jobs
	}
	listA, listB := mk("a", 10), mk("b", 7)
	seen := make(chan model.Job, 100000)
	r := NewRunner(RunnerConfig{
		Checker:       model.Checker{Name: "chk1"},
		BatchInterval: 5 * time.Millisecond,
		Report:        func(model.Report) {},
		Observe:       func(j model.Job, _ Result) { seen <- j },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if (g+i)%2 == 0 {
					r.SetJobs(listA)
				} else {
					r.SetJobs(listB)
				}
				r.Votes()
				r.Isolated()
			}
		})
	}
	wg.Wait()
	r.SetJobs(listA)
	for len(seen) > 0 {
		<-seen // results from before the final list
	}
	// Every job of the final list gets a result.
	want := map[string]bool{}
	for _, j := range listA {
		want[j.JobKey()] = true
	}
	deadline := time.After(waitLimit)
	for len(want) > 0 {
		select {
		case j := <-seen:
			delete(want, j.JobKey())
		case <-deadline:
			t.Fatalf("no result for %v", want)
		}
	}
	cancel()
	<-done
	if n := r.goroutines.Load(); n != 0 {
		t.Fatalf("%d goroutines left", n)
	}
}

// TestRunnerManyJobs: 200 HTTP jobs at a 1s interval for 2.5s all vote up
// (rise 1). A correctness check under load, with no timing assertions.
func TestRunnerManyJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 2.5s")
	}
	var targets []string
	for range 4 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(srv.Close)
		targets = append(targets, hostPort(srv))
	}
	var jobs []model.Job
	for i := range 200 {
		jobs = append(jobs, model.Job{
			Service: fmt.Sprintf("svc%d.example./A", i/50), Endpoint: fmt.Sprintf("192.0.2.%d", i%50), Datacenter: fmt.Sprint("dc", i%4),
			Target: targets[i/50],
			Check:  new(Defaults(model.Check{Type: "http", Path: fmt.Sprintf("/health/%d", i), Interval: model.Duration(time.Second), Rise: 1})),
		})
	}
	var mu sync.Mutex
	up := map[string]bool{}
	var probes atomic.Int64
	r := NewRunner(RunnerConfig{
		Checker: model.Checker{Name: "chk1"},
		Report: func(rep model.Report) {
			mu.Lock()
			defer mu.Unlock()
			for _, v := range rep.Votes {
				if v.Health == model.HealthUp {
					up[v.Service+"|"+v.Endpoint] = true
				}
			}
		},
		Observe: func(model.Job, Result) { probes.Add(1) },
	})
	r.SetJobs(jobs)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	r.Run(ctx)
	mu.Lock()
	defer mu.Unlock()
	var missing []string
	for _, j := range jobs {
		if !up[j.JobKey()] {
			missing = append(missing, j.JobKey())
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d jobs never reported up: %v", len(missing), len(jobs), missing)
	}
	if v := r.Votes(); len(v) != len(jobs) {
		t.Fatalf("%d votes, want %d", len(v), len(jobs))
	}
	t.Logf("%d probes, %d reports' worth of up votes", probes.Load(), len(up))
}
