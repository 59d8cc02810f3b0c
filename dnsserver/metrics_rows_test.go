package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/store/model"
)

// TestMetricsCardinality floods the server with random names of every
// query type, in and out of the served zones: a second flood of new
// random names adds no series, and the series stay within what zones,
// types, rcodes and transports allow.
func TestMetricsCardinality(t *testing.T) {
	m, reg := newMetrics(t)
	s := New(Config{Metrics: m})
	snap := buildState(t, metricsState(t), nil)
	s.Swap(snap)
	var types []uint16
	for _, name := range queryTypes[:typeOther] {
		types = append(types, dns.StringToType[name])
	}
	types = append(types, dns.TypeAXFR, dns.TypeNULL, 65280, 4242)
	suffixes := []string{"gslb.example.test.", "wild.gslb.example.test.", "trunc.test.", "elsewhere.test.", "."}
	flood := func() {
		w := &nullWriter{remote: &net.UDPAddr{IP: net.IPv4(192, 0, 2, 200), Port: 5353}}
		h := handler{s: s}
		for _, suffix := range suffixes {
			for _, qt := range types {
				for range 20 {
					req := new(dns.Msg)
					req.SetQuestion(fmt.Sprintf("r%x.%s", rand.Uint64(), suffix), qt)
					h.ServeDNS(w, req)
				}
			}
		}
	}
	count := func() int {
		n, err := testutil.GatherAndCount(reg)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	flood()
	first := count()
	flood()
	if second := count(); second != first {
		t.Errorf("%d series after a second flood of new names, %d after the first", second, first)
	}
	// Each zone (and no zone) has at most every type with NOERROR or
	// NXDOMAIN, and no zone REFUSED; plus the fixed series.
	queries := testutil.CollectAndCount(m, "meridian_dns_queries_total")
	if limit := (len(snap.names) + 1) * nTypes * 2; queries > limit {
		t.Errorf("%d query series, more than %d", queries, limit)
	}
	t.Logf("%d series in all, %d of meridian_dns_queries_total, from %d random names", first, queries, 2*len(suffixes)*len(types)*20)
}

// TestMetricsRows checks the series across snapshot swaps: counters of a
// service that stays go on; a service or data center that goes away loses
// its series once no server serves it (two servers share the Metrics).
func TestMetricsRows(t *testing.T) {
	m, reg := newMetrics(t)
	s1, s2 := New(Config{Metrics: m}), New(Config{Metrics: m})
	old := buildState(t, metricsState(t), nil)
	s1.Swap(old)
	s2.Swap(old)
	serveN(t, s1, "failover.gslb.example.test. A", 3)
	serveN(t, s2, "geo.gslb.example.test. A", 2)

	st := metricsState(t)
	st.Services = slices.DeleteFunc(st.Services, func(s model.Service) bool { return s.Name == "geo.gslb.example.test." })
	st.Datacenters = st.Datacenters[:len(st.Datacenters)-1]
	for i := range st.Services {
		var eps []model.Endpoint
		for _, e := range st.Services[i].Endpoints {
			if e.Datacenter != "syd" {
				eps = append(eps, e)
			}
		}
		st.Services[i].Endpoints = eps
	}
	next := buildState(t, st, nil)
	geoKey := queriesKey("A", "NOERROR", "gslb.example.test.", "geo.gslb.example.test./A", "udp")
	failoverKey := queriesKey("A", "NOERROR", "gslb.example.test.", "failover.gslb.example.test./A", "udp")
	syd := "meridian_dns_answers_total{datacenter=syd}"

	s1.Swap(next)
	serveN(t, s1, "failover.gslb.example.test. A", 4)
	got := series(t, reg)
	if got[failoverKey] != 7 || got[geoKey] != 2 || got[syd] == 0 {
		t.Errorf("s2 still serves the old snapshot: failover %v (want 7), geo %v (want 2), syd %v", got[failoverKey], got[geoKey], got[syd])
	}
	s2.Swap(next)
	got = series(t, reg)
	if _, ok := got[geoKey]; ok || got[failoverKey] != 7 {
		t.Errorf("after both swaps: geo %v (want no series), failover %v (want 7)", got[geoKey], got[failoverKey])
	}
	if _, ok := got[syd]; ok {
		t.Errorf("data center syd is gone but has a series")
	}
	s1.Swap(nil)
	s2.Swap(nil)
	if got := testutil.CollectAndCount(m, "meridian_dns_queries_total"); got != 0 {
		t.Errorf("%d query series with no snapshot served, want 0", got)
	}
}

// TestMetricsConcurrent queries while snapshots are swapped and metrics
// gathered (run it with -race). The snapshots have the same services,
// so no count is lost.
func TestMetricsConcurrent(t *testing.T) {
	m, reg := newMetrics(t)
	s := New(Config{Metrics: m})
	st := metricsState(t)
	snaps := []*Snapshot{buildState(t, st, nil), buildState(t, st, nil)}
	s.Swap(snaps[0])
	const workers, per = 4, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { serveN(t, s, "all.gslb.example.test. A", per) })
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			s.Swap(snaps[i%2])
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	done <- struct{}{}
	<-done
	key := queriesKey("A", "NOERROR", "gslb.example.test.", "all.gslb.example.test./A", "udp")
	if got := series(t, reg)[key]; got != workers*per {
		t.Errorf("%v queries counted, want %d", got, workers*per)
	}
}

// TestMetricsAnswersPerDatacenter checks that an answer counts once per
// data center, however many of its endpoints it holds, for data centers
// past the 64 that a bit set covers too.
func TestMetricsAnswersPerDatacenter(t *testing.T) {
	st := gslbState(t)
	st.Datacenters = nil
	for i := range 70 {
		st.Datacenters = append(st.Datacenters, model.Datacenter{Name: fmt.Sprintf("dc%02d", i)})
	}
	st.Services = []model.Service{{Name: "many.gslb.example.test.", Type: "A", Endpoints: []model.Endpoint{
		{Datacenter: "dc00", Address: "198.51.100.1"}, {Datacenter: "dc00", Address: "198.51.100.2"},
		{Datacenter: "dc69", Address: "198.51.100.3"}, {Datacenter: "dc69", Address: "198.51.100.4"},
		{Datacenter: "dc05", Address: "198.51.100.5"}, {Datacenter: "dc66", Address: "198.51.100.6"},
	}}}
	m, reg := newMetrics(t)
	s := New(Config{Metrics: m})
	s.Swap(buildState(t, st, nil))
	serveN(t, s, "many.gslb.example.test. A", 3)
	got := series(t, reg, "meridian_dns_answers_total")
	for dc, want := range map[string]float64{"dc00": 3, "dc05": 3, "dc66": 3, "dc69": 3, "dc01": 0, "dc68": 0} {
		if v, ok := got["meridian_dns_answers_total{datacenter="+dc+"}"]; !ok || v != want {
			t.Errorf("%s: %v (series %v), want %v", dc, v, ok, want)
		}
	}
	if len(got) != 70 {
		t.Errorf("%d data center series, want 70", len(got))
	}
}

// TestMetricsRowsOnFirstQuery: a service has a row from its first query
// on, not from the snapshot's start; a query answered from a snapshot
// already replaced counts in the served snapshot's row (made for it if
// needed), and leaves no row behind for a service that is gone.
func TestMetricsRowsOnFirstQuery(t *testing.T) {
	m, reg := newMetrics(t)
	s := New(Config{Metrics: m})
	old := buildState(t, metricsState(t), nil)
	s.Swap(old)
	serviceRows := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		n := 0
		for k := range m.rows {
			if k.name != "" {
				n++
			}
		}
		return n
	}
	if n := serviceRows(); n != 0 {
		t.Fatalf("%d service rows before any query, want 0", n)
	}
	serveN(t, s, "failover.gslb.example.test. A", 2)
	if n := serviceRows(); n != 1 {
		t.Fatalf("%d service rows after querying one service, want 1", n)
	}
	stats := s.cur.Load().stats // the old snapshot's rows, as a query in flight holds them
	// The next snapshot has every service but geo.
	st := metricsState(t)
	st.Services = slices.DeleteFunc(st.Services, func(s model.Service) bool { return s.Name == "geo.gslb.example.test." })
	s.Swap(buildState(t, st, nil))
	if n := serviceRows(); n != 1 {
		t.Fatalf("%d service rows after a swap, want the queried one", n)
	}
	var geo, all *service
	for _, svc := range old.services {
		switch svc.name {
		case "geo.gslb.example.test.":
			geo = svc
		case "all.gslb.example.test.":
			all = svc
		}
	}
	// A count in the replaced snapshot of a service the served one has
	// lands in the served one's row; of a gone service, in none.
	stats.svcRow(all).add(0, 0, 0)
	stats.svcRow(geo).add(0, 0, 0)
	if n := serviceRows(); n != 2 {
		t.Fatalf("%d service rows after counting in a replaced snapshot, want 2 (failover, all)", n)
	}
	key := queriesKey("A", "NOERROR", "gslb.example.test.", "all.gslb.example.test./A", "udp")
	if got := series(t, reg)[key]; got != 1 {
		t.Fatalf("all's count from the replaced snapshot: %v, want 1", got)
	}
	serveN(t, s, "all.gslb.example.test. A", 2)
	if got := series(t, reg)[key]; got != 3 {
		t.Fatalf("all's count after two more queries: %v, want 3 (the served snapshot took the row over)", got)
	}
}
