package fleet

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Defaults of Config.
const (
	DefaultEvalInterval   = 250 * time.Millisecond
	DefaultWebhookTimeout = 5 * time.Second
	// DefaultQueueSize bounds the pending deliveries of one webhook; when
	// it is full the oldest is dropped (with a webhook_dropped event).
	DefaultQueueSize = 1000
)

// DefaultBackoff is the delay before each retry of a failed webhook call:
// five attempts in all, the last about 15 s after the first.
var DefaultBackoff = []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

// Rules of the engine; see README.md.
const (
	// ExpiryIntervals: a vote is fresh while its checker has reported
	// within this many of the check's intervals.
	ExpiryIntervals = 3
	// VoteRefresh: Record rewrites a stored vote whose health and error
	// are unchanged only once it is this old, to refresh latency and
	// load without a write per report.
	VoteRefresh = 30 * time.Second
	// UpdateEvery: a verdict whose health is unchanged is rewritten (new
	// load, votes, reason) at most this often.
	UpdateEvery = 5 * time.Second
	// LoadStep is the change of mean load that is worth rewriting a
	// verdict for.
	LoadStep = 0.05
	// MaxErrorLen bounds a vote's error text as stored.
	MaxErrorLen = 512
)

// Actor is the actor of the events the engine appends, and the ManagedBy
// of the checkers, votes and verdicts it writes.
const Actor = "fleet"

// Config is what New needs. Store is required; everything else has a
// default.
type Config struct {
	Store store.Store
	// Logger receives webhook failures and evaluation errors; nil
	// discards.
	Logger *slog.Logger
	// Registerer receives the engine's metrics; nil keeps them on a
	// private registry.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now. Tests inject one.
	Now func() time.Time
	// HTTPClient calls the webhooks; nil means a client with a 5 s
	// timeout that follows no redirects.
	HTTPClient *http.Client
	// Backoff is the delay before each retry of a failed webhook call;
	// nil means DefaultBackoff (1 s, 2 s, 4 s, 8 s: five attempts). An
	// empty, non-nil slice means one attempt.
	Backoff []time.Duration
	// EvalInterval is how often Run re-evaluates without a report, so
	// that the votes of silent checkers expire; 0 means 250 ms.
	EvalInterval time.Duration
}

// Engine is the health engine. Its methods are safe for concurrent use.
type Engine struct {
	st      store.Store
	log     *slog.Logger
	now     func() time.Time
	client  *http.Client
	backoff []time.Duration
	every   time.Duration
	metrics *metrics

	wake    chan struct{} // a report arrived: evaluate soon
	running atomic.Bool

	evalMu    sync.Mutex                // one Evaluate at a time
	lastWrite map[endpointKey]time.Time // last write without a change (under evalMu)
	memo      passMemo                  // the last full pass (under evalMu)

	out *outbox

	availMu sync.Mutex
	avail   availCache

	jobErrsMu sync.Mutex
	jobErrs   string // the check list's errors last logged

	jobCache jobCache

	// delivered, when set (by tests), is called after each delivery
	// finishes: delivered or finally failed.
	delivered func(hook string, ok bool, attempts int)
}

// New builds an Engine and registers its metrics.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("fleet: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: DefaultWebhookTimeout,
			// A receiver answers for itself: a redirect is not a 2xx.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.EvalInterval <= 0 {
		cfg.EvalInterval = DefaultEvalInterval
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Engine{
		st: cfg.Store, log: cfg.Logger, now: cfg.Now, client: cfg.HTTPClient,
		backoff: append([]time.Duration(nil), cfg.Backoff...), every: cfg.EvalInterval, metrics: m,
		wake: make(chan struct{}, 1), lastWrite: map[endpointKey]time.Time{},
	}
	e.out = newOutbox(DefaultQueueSize)
	return e, nil
}

// Run evaluates whenever Record wakes it and every EvalInterval, and
// delivers webhooks, until ctx is done. It returns nil after its worker
// goroutines have ended; deliveries still queued then are lost. It must
// not be called twice.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("fleet: Run is already running")
	}
	var wg sync.WaitGroup
	wg.Go(func() { e.dispatch(ctx) })
	defer wg.Wait()

	tick := time.NewTicker(e.every)
	defer tick.Stop()
	paused := false // the store refuses writes (a cluster node cut off from etcd)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
		case <-tick.C:
		}
		_, err := e.Evaluate(ctx)
		switch {
		case err == nil:
			if paused {
				e.log.Info("fleet: the store accepts writes again; verdicts are evaluated again")
			}
			paused = false
		case ctx.Err() != nil:
		case errors.Is(err, store.ErrUnavailable):
			// Said once, not four times a second: the verdicts stay
			// as they were until the store is back.
			if !paused {
				e.log.Warn("fleet: verdicts frozen while the store refuses writes", "err", err)
			}
			paused = true
		default:
			e.log.Warn("fleet: evaluating verdicts failed", "err", err)
		}
	}
}

// poke wakes Run without blocking: a pending wake-up covers this one.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// logJobErrors logs the endpoints left out of the check list when they
// differ from the last call's: agents poll the list every interval.
func (e *Engine) logJobErrors(errs []error) {
	var b strings.Builder
	for _, err := range errs {
		b.WriteString(err.Error())
		b.WriteByte('\n')
	}
	e.jobErrsMu.Lock()
	defer e.jobErrsMu.Unlock()
	if b.String() == e.jobErrs {
		return
	}
	e.jobErrs = b.String()
	for _, err := range errs {
		e.log.Warn("fleet: endpoint left out of the check list", "err", err)
	}
}

// Jobs is the check list of every checker: one job per endpoint of each
// service with a check, in service and endpoint order. Endpoints that
// cannot be probed (a tcp check without a port) are left out and logged.
func (e *Engine) Jobs(ctx context.Context) ([]model.Job, error) {
	var jobs []model.Job
	var errs []error
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		list, err := e.jobsIn(tx)
		jobs, errs = list.jobs, list.errs
		return err
	})
	if err != nil {
		return nil, err
	}
	e.logJobErrors(errs)
	if jobs == nil {
		jobs = []model.Job{}
	}
	return jobs, nil
}
