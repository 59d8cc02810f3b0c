package dnsserver

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// nullWriter is a dns.ResponseWriter that drops what it is given, so that
// a benchmark measures the handler and not the socket.
type nullWriter struct{ remote net.Addr }

func (w *nullWriter) LocalAddr() net.Addr         { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *nullWriter) RemoteAddr() net.Addr        { return w.remote }
func (w *nullWriter) WriteMsg(*dns.Msg) error     { return nil }
func (w *nullWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nullWriter) Close() error                { return nil }
func (w *nullWriter) TsigStatus() error           { return nil }
func (w *nullWriter) TsigTimersOnly(bool)         {}
func (w *nullWriter) Hijack()                     {}

// BenchmarkServeDNS runs the queries of BenchmarkAnswer and
// BenchmarkAnswerService through the handler as dns.Server calls it
// (snapshot load, answer or cache hit, counters, packing, a write that
// drops the octets), without and with the answer cache and Metrics:
// cache=on is the cached path (a hit, patched), cache=off computes and
// packs every answer; metrics=on minus metrics=off is what Metrics costs
// a query (compare with benchstat -col /metrics).
func BenchmarkServeDNS(b *testing.B) {
	static := exampleSnapshot(b)
	services := serviceBenchSnapshot(b)
	type benchCase struct {
		name string
		snap *Snapshot
		req  *dns.Msg
	}
	var cases []benchCase
	for _, bc := range staticBench {
		cases = append(cases, benchCase{bc.name, static, bc.request(b)})
	}
	for _, bc := range serviceBench {
		cases = append(cases, benchCase{bc.name, services, ecsQuery(b, bc.q, bc.ecs)})
	}
	w := &nullWriter{remote: &net.UDPAddr{IP: net.IP(serviceBenchSrc.AsSlice()), Port: 5353}}
	for _, bc := range cases {
		for _, cache := range []bool{false, true} {
			for _, metrics := range []bool{false, true} {
				cfg := Config{AnswerCacheSize: -1}
				name := bc.name + "/cache=off"
				if cache {
					cfg.AnswerCacheSize, name = 0, bc.name+"/cache=on"
				}
				name += "/metrics=off"
				if metrics {
					name = strings.TrimSuffix(name, "off") + "on"
					m, err := NewMetrics(prometheus.NewRegistry())
					if err != nil {
						b.Fatal(err)
					}
					cfg.Metrics = m
				}
				b.Run(name, func(b *testing.B) {
					s := New(cfg)
					s.Swap(bc.snap)
					h := handler{s: s}
					h.ServeDNS(w, bc.req) // warm the cache
					b.ReportAllocs()
					for b.Loop() {
						h.ServeDNS(w, bc.req)
					}
				})
			}
		}
	}
}

// BenchmarkClock measures what timing a query would cost without
// sampling: time.Now at the start and time.Since at the end.
func BenchmarkClock(b *testing.B) {
	var d time.Duration
	for b.Loop() {
		start := time.Now()
		d += time.Since(start)
	}
	_ = d
}

// BenchmarkCounting compares ways of counting one query with five labels:
// a CounterVec looked up per query (hashing the label values), and the
// row of a snapshot that Swap resolved (an index and an atomic add).
func BenchmarkCounting(b *testing.B) {
	b.Run("CounterVec.WithLabelValues", func(b *testing.B) {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "q_total", Help: "h"},
			[]string{"type", "rcode", "zone", "service", "transport"})
		b.ReportAllocs()
		for b.Loop() {
			v.WithLabelValues("A", "NOERROR", "gslb.example.test.", "app.gslb.example.test./A", "udp").Inc()
		}
	})
	b.Run("snapshot row", func(b *testing.B) {
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		snap := serviceBenchSnapshot(b)
		st := m.attach(snap)
		req := question(b, "failover.gslb.example.test. A")
		resp := snap.answer(req, false, serviceBenchSrc)
		q := &query{zone: snap.zones["gslb.example.test."], svc: snap.services[1]}
		b.ReportAllocs()
		for b.Loop() {
			st.count(req, resp, false, q)
		}
	})
}
