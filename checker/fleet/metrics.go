package fleet

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/checker"
	"github.com/meridian-gslb/meridian/store/model"
)

// metrics are the engine's Prometheus collectors.
type metrics struct {
	changes    *prometheus.CounterVec // to
	checkers   *prometheus.GaugeVec   // state
	lastReport *prometheus.GaugeVec   // checker
	deliveries *prometheus.CounterVec // result
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_verdict_changes_total",
			Help: "Verdict changes the health engine stored, by the health changed to.",
		}, []string{"to"}),
		checkers: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_checkers",
			Help: "Checkers known to the store, by state at the last evaluation: fresh, stale (silent for three check intervals) or isolated.",
		}, []string{"state"}),
		lastReport: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "meridian_checker_last_report_age_seconds",
			Help: "Seconds since each checker's last report, at the last evaluation.",
		}, []string{"checker"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_webhook_deliveries_total",
			Help: "Webhook call attempts: ok (delivered), retry (failed, will retry) or failed (failed for good).",
		}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.changes, m.checkers, m.lastReport, m.deliveries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, h := range []model.Health{model.HealthUp, model.HealthDown, model.HealthUnknown} {
		m.changes.WithLabelValues(string(h))
	}
	for _, s := range checkerStates {
		m.checkers.WithLabelValues(s)
	}
	for _, r := range []string{"ok", "retry", "failed"} {
		m.deliveries.WithLabelValues(r)
	}
	return m, nil
}

// States of a checker.
const (
	StateFresh    = "fresh"
	StateStale    = "stale"
	StateIsolated = "isolated"
)

var checkerStates = []string{StateFresh, StateStale, StateIsolated}

// staleAfter is how long a checker may be silent before none of its votes
// can count: ExpiryIntervals of the longest check interval in use (of the
// default interval when there is no check).
func staleAfter(jobs []model.Job) time.Duration {
	longest := ExpiryIntervals * checker.DefaultInterval
	if len(jobs) > 0 {
		longest = 0
	}
	for _, j := range jobs {
		longest = max(longest, maxAge(j))
	}
	return longest
}

// checkerState classifies c at now: stale when silent for longer than
// stale, otherwise isolated when it says so, otherwise fresh.
func checkerState(c model.Checker, now time.Time, stale time.Duration) string {
	switch {
	case now.Sub(c.LastSeen) > stale:
		return StateStale
	case c.Isolated:
		return StateIsolated
	}
	return StateFresh
}

// observeCheckers sets the checker gauges from one evaluation's view.
func (e *Engine) observeCheckers(checkers map[string]model.Checker, stale time.Duration, now time.Time) {
	counts := map[string]int{}
	e.metrics.lastReport.Reset() // drop the series of deleted checkers
	for _, c := range checkers {
		counts[checkerState(c, now, stale)]++
		e.metrics.lastReport.WithLabelValues(c.Name).Set(max(0, now.Sub(c.LastSeen).Seconds()))
	}
	for _, s := range checkerStates {
		e.metrics.checkers.WithLabelValues(s).Set(float64(counts[s]))
	}
}

// ProbeMetrics count the probes a checker runs, for the embedded checker
// and the remote agent.
type ProbeMetrics struct {
	probes   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewProbeMetrics registers meridian_checker_probes_total{type,result}
// and meridian_checker_probe_duration_seconds{type} on reg (a private
// registry when nil).
func NewProbeMetrics(reg prometheus.Registerer) (*ProbeMetrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &ProbeMetrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_checker_probes_total",
			Help: "Probes run, by check type and result (up or down).",
		}, []string{"type", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "meridian_checker_probe_duration_seconds",
			Help:    "How long probes took, by check type.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"type"}),
	}
	for _, c := range []prometheus.Collector{m.probes, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Observe counts one probe of job.
func (m *ProbeMetrics) Observe(job model.Job, up bool, latency time.Duration) {
	result := "down"
	if up {
		result = "up"
	}
	typ := job.CheckSpec().Type
	m.probes.WithLabelValues(typ, result).Inc()
	m.duration.WithLabelValues(typ).Observe(latency.Seconds())
}
