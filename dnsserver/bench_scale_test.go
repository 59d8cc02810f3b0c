package dnsserver

import (
	"fmt"
	"net"
	"runtime"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/store/model"
)

// scaleState is the GSLB zone with n geo services of four endpoints.
func scaleState(b *testing.B, n int) *model.State {
	st := gslbState(b)
	for i := range n {
		st.Services = append(st.Services, model.Service{Name: fmt.Sprintf("svc%d.gslb.example.test.", i), Type: "A",
			Policy: preset("geo"), Endpoints: fourDCs("A")})
	}
	return st
}

// BenchmarkScale builds snapshots of 1,000, 10,000 and 100,000 geo
// services and asks each for services spread over all of them, with
// ECS from a client in Europe, through the handler with and without the
// answer cache: the cost per query must not grow with the number of
// names. The build reports its time and the heap the snapshot holds
// (MiB/snapshot).
func BenchmarkScale(b *testing.B) {
	db := openDB(b, testDB)
	for _, n := range []int{1000, 10000, 100000} {
		st := scaleState(b, n)
		b.Run(fmt.Sprintf("build/services=%d", n), func(b *testing.B) {
			var snap *Snapshot
			var heap uint64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				var err error
				if snap, err = Build(st, 1, BuildOptions{Locator: db}); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
			}
			runtime.KeepAlive(snap)
			b.ReportMetric(float64(heap)/(1<<20), "MiB/snapshot")
		})
		snap, err := Build(st, 1, BuildOptions{Locator: db})
		if err != nil {
			b.Fatal(err)
		}
		const asked = 1024 // distinct services asked, spread over all n
		reqs := make([]*dns.Msg, asked)
		for i := range reqs {
			reqs[i] = ecsQuery(b, fmt.Sprintf("svc%d.gslb.example.test. A", i*n/asked), "2.2.3.0/24")
		}
		w := &nullWriter{remote: &net.UDPAddr{IP: net.IP(serviceBenchSrc.AsSlice()), Port: 5353}}
		for _, cache := range []bool{false, true} {
			name := fmt.Sprintf("query/services=%d/cache=off", n)
			cfg := Config{AnswerCacheSize: -1}
			if cache {
				name, cfg.AnswerCacheSize = fmt.Sprintf("query/services=%d/cache=on", n), 0
			}
			b.Run(name, func(b *testing.B) {
				s := New(cfg)
				s.Swap(snap)
				h := handler{s: s}
				for _, r := range reqs {
					h.ServeDNS(w, r) // warm the cache
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					h.ServeDNS(w, reqs[i%asked])
					i++
				}
			})
		}
	}
}

// BenchmarkFastPath is what the UDP reading goroutine does with a query
// whose answer is cached, socket calls aside: parse the packet, build
// the key, look up, patch the copy (metrics on).
func BenchmarkFastPath(b *testing.B) {
	snap := cacheSnapshot(b)
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, q, ecs string }{
		{"static A", "www.example.test. A", ""},
		{"static A mixed case", "WwW.Example.TEST. A", ""},
		{"NXDOMAIN", "nothere.example.test. A", ""},
		{"geo ECS", "geo.gslb.example.test. A", "2.2.3.0/24"},
		{"geo ECS IPv6", "geo.gslb.example.test. A", "2001:218::/48"},
		{"geo no ECS", "geo.gslb.example.test. A", ""},
		{"multivalue health-filtered", "multi.gslb.example.test. A", ""},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := New(Config{Metrics: m})
			s.Swap(snap)
			raw := packed(b, ecsQuery(b, c.q, c.ecs))
			serveRaw(handler{s: s}, raw, serviceBenchSrc) // cache it
			buf := make([]byte, 0, 4096)
			if _, ok := s.fastAnswer(raw, serviceBenchSrc, false, buf); !ok {
				b.Fatal("not answered by the fast path")
			}
			b.ReportAllocs()
			for b.Loop() {
				s.fastAnswer(raw, serviceBenchSrc, false, buf)
			}
		})
	}
}
