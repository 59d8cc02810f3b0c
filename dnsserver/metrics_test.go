package dnsserver

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/meridian-gslb/meridian/store/model"
)

// newMetrics is NewMetrics on a registry of the test's own.
func newMetrics(t testing.TB) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// series gathers reg and returns the value of every series of the named
// metrics as "name{label=value,...}" (labels in name order); a
// histogram gives its sample count as name_count.
func series(t testing.TB, reg prometheus.Gatherer, names ...string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if len(names) > 0 && !contains(names, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[mf.GetName()+"_count{"+strings.Join(labels, ",")+"}"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// queriesKey is the series key of meridian_dns_queries_total.
func queriesKey(typ, rcode, zone, service, transport string) string {
	return fmt.Sprintf("meridian_dns_queries_total{rcode=%s,service=%s,transport=%s,type=%s,zone=%s}", rcode, service, transport, typ, zone)
}

// metricsState is presetState with the truncation zone and a service
// whose endpoints are all down, with fallback none.
func metricsState(t testing.TB) *model.State {
	st := presetState(t)
	st.Zones = append(st.Zones, zoneOf(t, "trunc.test.", truncZone()))
	dead := model.Service{Name: "dead.gslb.example.test.", Type: "A", Fallback: model.Fallback{Mode: model.FallbackNone}, Endpoints: fourDCs("A")}
	for i := range dead.Endpoints {
		dead.Endpoints[i].ForceDown = true
	}
	st.Services = append(st.Services, dead)
	return st
}

// TestMetricsOverSocket sends queries of several kinds over UDP and TCP,
// and malformed messages, and checks every series of the per-query
// metrics: by type, rcode, zone, service and transport; answers by data
// center; fallbacks; truncation; drops.
func TestMetricsOverSocket(t *testing.T) {
	m, reg := newMetrics(t)
	s := startServer(t, Config{Metrics: m}, buildState(t, metricsState(t), nil))
	a := addr(t, s)
	for _, q := range []struct{ network, q string }{
		{"udp", "failover.gslb.example.test. A"}, // iad
		{"tcp", "failover.gslb.example.test. A"}, // iad
		{"udp", "all.gslb.example.test. A"},      // fra iad syd (sin is down)
		{"udp", "all.gslb.example.test. ANY"},    // the A service
		{"udp", "all.gslb.example.test. TXT"},    // static data beside a service
		{"udp", "edge1.gslb.example.test. A"},
		{"udp", "nothere.gslb.example.test. AAAA"},
		{"udp", "www.elsewhere.test. A"},
		{"udp", "big.trunc.test. TXT"}, // truncated
		{"udp", "edge1.gslb.example.test. TYPE65280"},
		{"udp", "cdn.gslb.example.test. A"},  // CNAME service: fra, then static edge1
		{"udp", "dead.gslb.example.test. A"}, // fallback none
	} {
		exchange(t, q.network, a, question(t, q.q))
	}
	if r := exchange(t, "udp", a, withOPT(question(t, "edge1.gslb.example.test. A"), 1232, false, 1)); r.Rcode != dns.RcodeBadVers {
		t.Fatalf("EDNS version 1: rcode %d", r.Rcode)
	}
	// Messages dns.Server answers or drops itself.
	for _, p := range []struct {
		network string
		packet  []byte
		answer  bool
	}{
		{"udp", header(2, 1), true}, // FORMERR
		{"tcp", withOpcode(queryPacket(t, 7, "example.test. SOA"), dns.OpcodeNotify), true}, // NOTIMP
		{"udp", func() []byte { b := queryPacket(t, 6, "www.example.test. A"); b[2] |= 0x80; return b }(), false},
		{"udp", []byte{1, 2, 3}, false},
	} {
		conn, err := net.Dial(p.network, a)
		if err != nil {
			t.Fatal(err)
		}
		send(t, conn, p.packet)
		if p.answer {
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := readResponse(conn); err != nil {
				t.Fatalf("%s: %v", p.network, err)
			}
		}
		_ = conn.Close()
	}
	// Dropped messages have no answer to wait for: wait for the count.
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Dropped < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: the dropped messages were not counted", s.Stats())
		}
	}

	const z, none = "gslb.example.test.", ""
	want := map[string]float64{
		queriesKey("A", "NOERROR", z, "failover.gslb.example.test./A", "udp"):                               1,
		queriesKey("A", "NOERROR", z, "failover.gslb.example.test./A", "tcp"):                               1,
		queriesKey("A", "NOERROR", z, "all.gslb.example.test./A", "udp"):                                    1,
		queriesKey("ANY", "NOERROR", z, "all.gslb.example.test./A", "udp"):                                  1,
		queriesKey("TXT", "NOERROR", z, none, "udp"):                                                        1,
		queriesKey("A", "NOERROR", z, none, "udp"):                                                          1,
		queriesKey("AAAA", "NXDOMAIN", z, none, "udp"):                                                      1,
		queriesKey("A", "REFUSED", none, none, "udp"):                                                       1,
		queriesKey("TXT", "NOERROR", "trunc.test.", none, "udp"):                                            1,
		queriesKey("other", "NOERROR", z, none, "udp"):                                                      1,
		queriesKey("A", "NOERROR", z, "cdn.gslb.example.test./CNAME", "udp"):                                1,
		queriesKey("A", "NOERROR", z, "dead.gslb.example.test./A", "udp"):                                   1,
		queriesKey("A", "BADVERS", none, none, "udp"):                                                       1,
		queriesKey("other", "FORMERR", none, none, "udp"):                                                   1,
		queriesKey("other", "NOTIMP", none, none, "tcp"):                                                    1,
		"meridian_dns_answers_total{datacenter=fra}":                                                        3,
		"meridian_dns_answers_total{datacenter=iad}":                                                        4,
		"meridian_dns_answers_total{datacenter=sin}":                                                        0,
		"meridian_dns_answers_total{datacenter=syd}":                                                        2,
		"meridian_dns_fallbacks_total{mode=none,service=dead.gslb.example.test./A,zone=gslb.example.test.}": 1,
		"meridian_dns_responses_truncated_total{}":                                                          1,
		"meridian_dns_dropped_total{reason=too_short}":                                                      1,
		"meridian_dns_dropped_total{reason=qr_set}":                                                         1,
		"meridian_dns_dropped_total{reason=write_failed}":                                                   0,
	}
	got := series(t, reg, "meridian_dns_queries_total", "meridian_dns_answers_total", "meridian_dns_fallbacks_total",
		"meridian_dns_responses_truncated_total", "meridian_dns_dropped_total")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}
	// The same counts as Stats, which runs without Metrics too: the
	// handler's responses and those dns.Server made itself (the
	// header-only message reaches the handler: miekg/dns unpacks it
	// without a question).
	var total float64
	for k, v := range got {
		if strings.HasPrefix(k, "meridian_dns_queries_total") {
			total += v
		}
	}
	c := &s.stats
	rejected := c.rejectFormErr[0].Load() + c.rejectFormErr[1].Load() + c.rejectNotImp[0].Load() + c.rejectNotImp[1].Load()
	if st := s.Stats(); total != float64(st.Queries+rejected) || rejected == 0 || st.Truncated != 1 || st.Dropped != 2 {
		t.Errorf("stats %+v and %d rejected before the handler: want %v responses", st, rejected, total)
	}
	if err := testutil.CollectAndCompare(m, strings.NewReader(`
# HELP meridian_dns_responses_truncated_total Responses sent with the TC bit set.
# TYPE meridian_dns_responses_truncated_total counter
meridian_dns_responses_truncated_total 1
`), "meridian_dns_responses_truncated_total"); err != nil {
		t.Error(err)
	}
}

// serveN runs n queries for q through s's handler, over UDP.
func serveN(t testing.TB, s *Server, q string, n int) {
	w := &nullWriter{remote: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 200), Port: 5353}}
	req := question(t, q)
	h := handler{s: s}
	for range n {
		h.ServeDNS(w, req)
	}
}

// TestMetricsLatency checks that one query in latencySample is timed.
func TestMetricsLatency(t *testing.T) {
	m, reg := newMetrics(t)
	s := New(Config{Metrics: m})
	s.Swap(exampleSnapshot(t))
	const n = 800
	serveN(t, s, "www.example.test. A", n)
	// Binomial(800, 1/8): mean 100, standard deviation 9.4.
	c := series(t, reg, "meridian_dns_answer_duration_seconds")["meridian_dns_answer_duration_seconds_count{}"]
	if c < 40 || c > 200 {
		t.Errorf("%v of %d queries timed, want about %d", c, n, n/latencySample)
	}
}

// TestObserveBuild checks the build metrics.
func TestObserveBuild(t *testing.T) {
	m, reg := newMetrics(t)
	st := overrideState(t, stateFlags{})
	snap, err := Build(st, 42, BuildOptions{Overrides: []model.Override{dcOverride("gone", model.OverrideDrain), dcOverride("fra", model.OverrideDrain)}})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveBuild(20*time.Millisecond, snap, nil)
	m.ObserveBuild(time.Millisecond, nil, errors.New("bad record"))
	want := map[string]float64{
		"meridian_dns_snapshot_builds_total{result=ok}":        1,
		"meridian_dns_snapshot_builds_total{result=error}":     1,
		"meridian_dns_snapshot_build_duration_seconds_count{}": 2,
		"meridian_dns_snapshot_revision{}":                     42,
		"meridian_dns_snapshot_stale_overrides{}":              1,
	}
	got := series(t, reg, "meridian_dns_snapshot_builds_total", "meridian_dns_snapshot_build_duration_seconds",
		"meridian_dns_snapshot_revision", "meridian_dns_snapshot_stale_overrides")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("build series (-want +got):\n%s", diff)
	}
	var none *Metrics
	none.ObserveBuild(time.Second, snap, nil) // a nil Metrics does nothing
	if _, err := NewMetrics(reg); err == nil {
		t.Error("NewMetrics registered twice on one registry")
	}
	if _, err := NewMetrics(nil); err == nil {
		t.Error("NewMetrics without a registerer")
	}
}

// TestMetricsLint runs promlint over every metric of the package, each
// with at least one series, and checks their names.
func TestMetricsLint(t *testing.T) {
	m, reg := newMetrics(t)
	s := New(Config{Metrics: m})
	snap := buildState(t, metricsState(t), nil)
	s.Swap(snap)
	m.ObserveBuild(time.Millisecond, snap, nil)
	serveN(t, s, "all.gslb.example.test. A", 20)
	serveN(t, s, "dead.gslb.example.test. A", 1)
	s.stats.truncated.Add(1)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		if !strings.HasPrefix(mf.GetName(), "meridian_dns_") {
			t.Errorf("%s does not begin with meridian_dns_", mf.GetName())
		}
	}
	sort.Strings(names)
	wantNames := []string{
		"meridian_dns_answer_cache_hits_total",
		"meridian_dns_answer_duration_seconds", "meridian_dns_answers_total", "meridian_dns_dropped_total",
		"meridian_dns_fallbacks_total", "meridian_dns_queries_total", "meridian_dns_responses_truncated_total",
		"meridian_dns_rrl_responses_total",
		"meridian_dns_snapshot_build_duration_seconds", "meridian_dns_snapshot_builds_total",
		"meridian_dns_snapshot_revision", "meridian_dns_snapshot_stale_overrides",
		"meridian_dns_tcp_connections_refused_total",
	}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("metric names (-want +got):\n%s", diff)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
