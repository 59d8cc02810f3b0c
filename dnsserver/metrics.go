package dnsserver

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the DNS server's Prometheus collectors. NewMetrics creates
// and registers them; Config.Metrics gives them to a Server, and cmd's
// rebuild loop reports each snapshot build through ObserveBuild. A nil
// *Metrics counts nothing.
//
// The per-query counters are atomic counters resolved once per snapshot
// (metrics_count.go) and read at scrape time by Collect; the Server's
// Stats counters are read the same way. Label values come from fixed sets
// or from the snapshot (zones, services, data centers), never from a
// query.
type Metrics struct {
	latency   prometheus.Histogram
	buildOK   prometheus.Counter
	buildErr  prometheus.Counter
	buildTime prometheus.Histogram
	revision  prometheus.Gauge
	stale     prometheus.Gauge
	builds    *prometheus.CounterVec

	queries, answers, fallbacks, truncated, dropped *prometheus.Desc
	rrl, tcpRefused, cacheHits                      *prometheus.Desc

	noZone *row // the queries no served zone answered; never dropped

	mu      sync.Mutex // guards the fields below; never taken by a query
	servers []*Server
	rows    map[rowKey]*row
	live    []*snapStats // attached and not yet detached: the served snapshots' tables
	dcs     map[string]*dcRow
}

// latencySample: one query in latencySample is timed (a power of two).
// time.Now and time.Since cost about 70 ns together on the development VM,
// more than everything else Metrics adds to a query; a random one in
// eight keeps the histogram's shape for a tenth of that. The histogram's
// _count is therefore about an eighth of the queries: count queries with
// meridian_dns_queries_total.
const latencySample = 8

// Buckets of the histograms, in seconds.
var (
	answerBuckets = []float64{.000005, .00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5, 2}
	buildBuckets  = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
)

// NewMetrics creates the DNS server's collectors and registers them on
// reg (never on the global registry). Every name begins with
// meridian_dns_; see the package README for the list.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("dnsserver: NewMetrics needs a Registerer")
	}
	m := &Metrics{
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meridian_dns_answer_duration_seconds",
			Help:    "Time the handler took for a query, from the parsed query to the response written, for a random one query in 8.",
			Buckets: answerBuckets,
		}),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "meridian_dns_snapshot_builds_total",
			Help: "DNS snapshot builds, by result (ok or error; after an error the last good snapshot keeps serving).",
		}, []string{"result"}),
		buildTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "meridian_dns_snapshot_build_duration_seconds",
			Help:    "Time to build a DNS snapshot, successful or not, including reading the state.",
			Buckets: buildBuckets,
		}),
		revision: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_dns_snapshot_revision",
			Help: "Store revision of the last DNS snapshot built successfully.",
		}),
		stale: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "meridian_dns_snapshot_stale_overrides",
			Help: "Operator overrides the last DNS snapshot ignored because their target does not exist.",
		}),
		queries: prometheus.NewDesc("meridian_dns_queries_total",
			"DNS responses, by query type, rcode, served zone (empty when none), service that answered the query name (empty for static data) and transport.",
			[]string{"type", "rcode", "zone", "service", "transport"}, nil),
		answers: prometheus.NewDesc("meridian_dns_answers_total",
			"Service answers that included endpoints of a data center, counted once per data center per answer.",
			[]string{"datacenter"}, nil),
		fallbacks: prometheus.NewDesc("meridian_dns_fallbacks_total",
			"Service decisions in which no endpoint was healthy, by the fallback that applied (all, none, backup).",
			[]string{"zone", "service", "mode"}, nil),
		truncated: prometheus.NewDesc("meridian_dns_responses_truncated_total",
			"Responses sent with the TC bit set.", nil, nil),
		dropped: prometheus.NewDesc("meridian_dns_dropped_total",
			"Messages not answered (too_short: shorter than a header; qr_set: a response) or answers not delivered (write_failed).",
			[]string{"reason"}, nil),
		rrl: prometheus.NewDesc("meridian_dns_rrl_responses_total",
			"UDP responses limited by response rate limiting, by action: dropped, or slipped (sent truncated, without records).",
			[]string{"action"}, nil),
		tcpRefused: prometheus.NewDesc("meridian_dns_tcp_connections_refused_total",
			"TCP connections closed as soon as accepted because the overall or the per-client limit was reached.", nil, nil),
		cacheHits: prometheus.NewDesc("meridian_dns_answer_cache_hits_total",
			"Queries answered from the answer cache of the served snapshot (they count in meridian_dns_queries_total too).", nil, nil),
		noZone: &row{},
		rows:   map[rowKey]*row{},
		dcs:    map[string]*dcRow{},
	}
	m.buildOK = m.builds.WithLabelValues("ok")
	m.buildErr = m.builds.WithLabelValues("error")
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	return m, nil
}

// ObserveBuild records one snapshot build: its duration, its result, and
// for a successful one (err nil) the revision and the number of stale
// overrides of snap. cmd calls it for every build, the first included. A
// nil Metrics does nothing.
func (m *Metrics) ObserveBuild(took time.Duration, snap *Snapshot, err error) {
	if m == nil {
		return
	}
	m.buildTime.Observe(took.Seconds())
	if err != nil || snap == nil {
		m.buildErr.Inc()
		return
	}
	m.buildOK.Inc()
	m.revision.Set(float64(snap.Revision()))
	m.stale.Set(float64(len(snap.stale)))
}

// addServer makes Collect read s's counters.
func (m *Metrics) addServer(s *Server) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.servers = append(m.servers, s)
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range []prometheus.Collector{m.latency, m.builds, m.buildTime, m.revision, m.stale} {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.queries, m.answers, m.fallbacks, m.truncated, m.dropped, m.rrl, m.tcpRefused, m.cacheHits} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. Query counters appear once
// they are not zero; data centers of the served snapshot appear at zero.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range []prometheus.Collector{m.latency, m.builds, m.buildTime, m.revision, m.stale} {
		c.Collect(ch)
	}
	m.mu.Lock()
	rows := make([]*row, 0, len(m.rows))
	for _, r := range m.rows {
		rows = append(rows, r)
	}
	dcs := make([]*dcRow, 0, len(m.dcs))
	for _, d := range m.dcs {
		dcs = append(dcs, d)
	}
	var truncated, tooShort, qrSet, writeFailed, rrlDropped, rrlSlipped, tcpRefused, cacheHits uint64
	var rejects [len(transports)]struct{ formErr, notImp uint64 }
	for _, s := range m.servers {
		c := &s.stats
		truncated += c.truncated.Load()
		tooShort += c.droppedShort.Load()
		qrSet += c.droppedQR.Load()
		writeFailed += c.writeFailed.Load()
		rrlDropped += c.rrlDropped.Load()
		rrlSlipped += c.rrlSlipped.Load()
		tcpRefused += c.tcpRefused.Load()
		cacheHits += c.cacheHits.Load()
		for tr := range transports {
			rejects[tr].formErr += c.rejectFormErr[tr].Load()
			rejects[tr].notImp += c.rejectNotImp[tr].Load()
		}
	}
	m.mu.Unlock()

	// Messages rejected before the handler have no zone and no question
	// to read a type from: they count with the no-zone row, type other.
	var none [nRcodes][len(transports)][nTypes]uint64
	m.noZone.load(&none)
	for tr := range transports {
		none[rcodeFormErr][tr][typeOther] += rejects[tr].formErr
		none[rcodeNotImp][tr][typeOther] += rejects[tr].notImp
	}
	m.emitQueries(ch, "", "", &none)
	for _, r := range rows {
		var v [nRcodes][len(transports)][nTypes]uint64
		r.load(&v)
		m.emitQueries(ch, r.key.zone, r.service, &v)
		for fb, name := range fallbackModes {
			if n := r.fallbacks[fb].Load(); n > 0 {
				ch <- prometheus.MustNewConstMetric(m.fallbacks, prometheus.CounterValue, float64(n), r.key.zone, r.service, name)
			}
		}
	}
	for _, d := range dcs {
		ch <- prometheus.MustNewConstMetric(m.answers, prometheus.CounterValue, float64(d.answers.Load()), d.name)
	}
	ch <- prometheus.MustNewConstMetric(m.truncated, prometheus.CounterValue, float64(truncated))
	ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(tooShort), "too_short")
	ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(qrSet), "qr_set")
	ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(writeFailed), "write_failed")
	ch <- prometheus.MustNewConstMetric(m.rrl, prometheus.CounterValue, float64(rrlDropped), "dropped")
	ch <- prometheus.MustNewConstMetric(m.rrl, prometheus.CounterValue, float64(rrlSlipped), "slipped")
	ch <- prometheus.MustNewConstMetric(m.tcpRefused, prometheus.CounterValue, float64(tcpRefused))
	ch <- prometheus.MustNewConstMetric(m.cacheHits, prometheus.CounterValue, float64(cacheHits))
}

// load reads the row's counters into v.
func (r *row) load(v *[nRcodes][len(transports)][nTypes]uint64) {
	for rc := range r.cells {
		b := r.cells[rc].Load()
		if b == nil {
			continue
		}
		for tr := range b {
			for ty := range b[tr] {
				v[rc][tr][ty] = b[tr][ty].Load()
			}
		}
	}
}

func (m *Metrics) emitQueries(ch chan<- prometheus.Metric, zone, service string, v *[nRcodes][len(transports)][nTypes]uint64) {
	for rc := range v {
		for tr := range v[rc] {
			for ty, n := range v[rc][tr] {
				if n > 0 {
					ch <- prometheus.MustNewConstMetric(m.queries, prometheus.CounterValue, float64(n),
						queryTypes[ty], rcodeNames[rc], zone, service, transports[tr])
				}
			}
		}
	}
}
