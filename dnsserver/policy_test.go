package dnsserver

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

// Chi-square critical values at the fixed significance p = 1e-6, by
// degrees of freedom (upper tail of the chi-square distribution). The
// sampler is truly random, so a correct one fails a test with probability
// p: at p = 0.001 CI would fail about once in three hundred runs (three
// such tests), at 1e-6 practically never, while a real bias of even one
// percentage point over these sample sizes gives a statistic in the
// hundreds.
var chiSquareCritical = map[int]float64{1: 23.928, 2: 27.631, 3: 30.665, 4: 33.377}

// chiSquare is Pearson's statistic of observed counts against expected
// shares.
func chiSquare(observed []int, shares []float64) float64 {
	n := 0
	for _, o := range observed {
		n += o
	}
	var x2 float64
	for i, o := range observed {
		e := float64(n) * shares[i]
		x2 += (float64(o) - e) * (float64(o) - e) / e
	}
	return x2
}

// weightedShares counts, over n answers of a weighted service, how often
// each endpoint came first.
func weightedShares(t *testing.T, weights []int, n int) map[string]int {
	t.Helper()
	svc := model.Service{Name: "w.gslb.example.test.", Type: "A", Policy: preset("weighted")}
	for i, w := range weights {
		svc.Endpoints = append(svc.Endpoints, model.Endpoint{Datacenter: "fra", Address: fmt.Sprintf("198.51.100.%d", i+1), Weight: w})
	}
	snap := buildState(t, gslbState(t, svc), nil)
	req := question(t, "w.gslb.example.test. A")
	counts := map[string]int{}
	for range n {
		got := answerData(snap.answer(req, false, testSrc))
		if len(got) != 1 {
			t.Fatalf("answer %v, want one record (weighted, first 1)", got)
		}
		counts[got[0]]++
	}
	return counts
}

// TestWeighted checks the weighted preset with a chi-square goodness of
// fit test at p = 1e-6 over 40,000 decisions: weights 1:2:3:4 give those
// shares, a weight of 0 is never drawn, all-zero weights are uniform.
func TestWeighted(t *testing.T) {
	const n = 40000
	counts := weightedShares(t, []int{1, 2, 3, 4, 0}, n)
	if counts["198.51.100.5"] != 0 {
		t.Errorf("weight 0 drawn %d times while positive weights remain", counts["198.51.100.5"])
	}
	observed := []int{counts["198.51.100.1"], counts["198.51.100.2"], counts["198.51.100.3"], counts["198.51.100.4"]}
	x2 := chiSquare(observed, []float64{0.1, 0.2, 0.3, 0.4})
	t.Logf("weights 1:2:3:4, %d decisions: %v, chi-square %.2f (critical %.3f, 3 df)", n, observed, x2, chiSquareCritical[3])
	if x2 > chiSquareCritical[3] {
		t.Errorf("chi-square %.2f > %.3f: shares %v do not match weights 1:2:3:4", x2, chiSquareCritical[3], observed)
	}

	counts = weightedShares(t, []int{0, 0, 0}, 30000)
	observed = []int{counts["198.51.100.1"], counts["198.51.100.2"], counts["198.51.100.3"]}
	x2 = chiSquare(observed, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3})
	t.Logf("weights 0:0:0, 30000 decisions: %v, chi-square %.2f (critical %.3f, 2 df)", observed, x2, chiSquareCritical[2])
	if x2 > chiSquareCritical[2] {
		t.Errorf("chi-square %.2f > %.3f: all-zero weights not uniform: %v", x2, chiSquareCritical[2], observed)
	}
}

// TestWeightedOrder checks the whole order of weighted sampling without
// replacement: with weights 1 and 3 the light endpoint comes second three
// times in four (chi-square), and every answer holds both endpoints.
func TestWeightedOrder(t *testing.T) {
	c := make([]cand, 2)
	eps := []endpoint{{weight: 1, address: "light"}, {weight: 3, address: "heavy"}}
	second := 0
	const n = 20000
	for range n {
		c[0], c[1] = cand{ep: &eps[0]}, cand{ep: &eps[1]}
		weighted(c)
		if c[0].ep == c[1].ep {
			t.Fatal("an endpoint drawn twice")
		}
		if c[1].ep == &eps[0] {
			second++
		}
	}
	x2 := chiSquare([]int{second, n - second}, []float64{0.75, 0.25})
	if x2 > chiSquareCritical[1] {
		t.Errorf("light endpoint second %d of %d times, want 3/4 (chi-square %.2f)", second, n, x2)
	}
}

// stickyState is four endpoints in one data center each with the sticky
// preset; down names data centers forced down.
func stickyState(t *testing.T, down ...string) *Snapshot {
	st := gslbState(t, model.Service{Name: "s.gslb.example.test.", Type: "A", Policy: preset("sticky"), Endpoints: fourDCs("A")})
	for i := range st.Datacenters {
		st.Datacenters[i].ForceDown = slices.Contains(down, st.Datacenters[i].Name)
	}
	return buildState(t, st, nil)
}

// TestSticky checks rendezvous hashing: one client network always gets the
// same answer (also for every address inside its /24, with scope /24);
// forcing one of four endpoints down moves exactly the clients that were
// on it (about a quarter, within a binomial bound) and nobody else.
func TestSticky(t *testing.T) {
	snap := stickyState(t)
	first := answerData(snap.answer(ecsQuery(t, "s.gslb.example.test. A", "2.2.3.0/24"), false, testSrc))
	for i := range 1000 {
		r := snap.answer(ecsQuery(t, "s.gslb.example.test. A", "2.2.3.0/24"), false, testSrc)
		if got := answerData(r); !slices.Equal(got, first) {
			t.Fatalf("query %d: %v, want %v as before", i, got, first)
		}
	}
	for host := range 256 {
		ecs := fmt.Sprintf("2.2.3.%d/32", host)
		r := snap.answer(ecsQuery(t, "s.gslb.example.test. A", ecs), false, testSrc)
		if got := answerData(r); !slices.Equal(got, first) {
			t.Fatalf("ECS %s: %v, want %v: the same /24", ecs, got, first)
		}
		if e := responseECS(r); e == nil || e.SourceScope != 24 {
			t.Fatalf("ECS %s: %v, want scope 24 (the hashed prefix)", ecs, e)
		}
	}
	// Without ECS the resolver's address counts, truncated to /24.
	a1 := answerData(snap.answer(question(t, "s.gslb.example.test. A"), false, netip.MustParseAddr("20.0.0.1")))
	a2 := answerData(snap.answer(question(t, "s.gslb.example.test. A"), false, netip.MustParseAddr("20.0.0.254")))
	if !slices.Equal(a1, a2) {
		t.Errorf("two resolvers of one /24: %v and %v", a1, a2)
	}

	const clients = 10000
	net := func(i int) string { return fmt.Sprintf("20.%d.%d.0/24", i>>8, i&255) }
	before := make([]string, clients)
	perDC := map[string]int{}
	for i := range clients {
		before[i] = dcsOf(answerData(snap.answer(ecsQuery(t, "s.gslb.example.test. A", net(i)), false, testSrc)))[0]
		perDC[before[i]]++
	}
	x2 := chiSquare([]int{perDC["fra"], perDC["iad"], perDC["sin"], perDC["syd"]}, []float64{.25, .25, .25, .25})
	if x2 > chiSquareCritical[3] {
		t.Errorf("clients per endpoint %v: not uniform (chi-square %.2f)", perDC, x2)
	}

	down := stickyState(t, "iad")
	moved, movedOthers := 0, 0
	for i := range clients {
		after := dcsOf(answerData(down.answer(ecsQuery(t, "s.gslb.example.test. A", net(i)), false, testSrc)))[0]
		switch {
		case after == "iad":
			t.Fatalf("client %s still on the endpoint that is down", net(i))
		case before[i] == "iad":
			moved++
		case after != before[i]:
			movedOthers++
		}
	}
	// Binomial(10000, 1/4): mean 2500, standard deviation 43.3; five of
	// them either side.
	frac := float64(moved) / clients
	t.Logf("forcing iad down moved %d of %d clients (%.4f), %d of them not on iad", moved, clients, frac, movedOthers)
	if sd := math.Sqrt(clients * 0.25 * 0.75); math.Abs(float64(moved)-clients*0.25) > 5*sd {
		t.Errorf("%d clients moved, want about %d (±%.0f)", moved, clients/4, 5*sd)
	}
	if movedOthers != 0 {
		t.Errorf("%d clients not on iad moved", movedOthers)
	}
}

// TestFailover checks priority groups through snapshot rebuilds swapped
// into a running server: the answer moves to the next group only when the
// first has no healthy endpoint left, and back when it recovers.
func TestFailover(t *testing.T) {
	svc := model.Service{Name: "f.gslb.example.test.", Type: "A", Policy: preset("failover"), Endpoints: []model.Endpoint{
		{Datacenter: "fra", Address: "198.51.100.1", Priority: 1},
		{Datacenter: "fra", Address: "198.51.100.11", Priority: 1},
		{Datacenter: "iad", Address: "198.51.100.2", Priority: 2},
		{Datacenter: "sin", Address: "198.51.100.3", Priority: 3},
	}}
	s := startServer(t, Config{}, nil)
	a := addr(t, s)
	for _, tc := range []struct {
		name    string
		downEP  []string // endpoint addresses forced down
		downDC  []string // data centers forced down
		drainDC []string
		want    []string
	}{
		{"all up: the first group", nil, nil, nil, []string{"198.51.100.1", "198.51.100.11"}},
		{"one of the first group down: the rest of it", []string{"198.51.100.1"}, nil, nil, []string{"198.51.100.11"}},
		{"first group down: the second", []string{"198.51.100.1", "198.51.100.11"}, nil, nil, []string{"198.51.100.2"}},
		{"first data center down, second drained: the third", nil, []string{"fra"}, []string{"iad"}, []string{"198.51.100.3"}},
		{"second recovers", nil, []string{"fra"}, nil, []string{"198.51.100.2"}},
		{"first recovers", nil, nil, nil, []string{"198.51.100.1", "198.51.100.11"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := svc
			m.Endpoints = slices.Clone(svc.Endpoints)
			for i := range m.Endpoints {
				m.Endpoints[i].ForceDown = slices.Contains(tc.downEP, m.Endpoints[i].Address)
			}
			st := gslbState(t, m)
			for i := range st.Datacenters {
				st.Datacenters[i].ForceDown = slices.Contains(tc.downDC, st.Datacenters[i].Name)
				st.Datacenters[i].Drain = slices.Contains(tc.drainDC, st.Datacenters[i].Name)
			}
			s.Swap(buildState(t, st, nil))
			r := exchange(t, "udp", a, question(t, "f.gslb.example.test. A"))
			if diff := cmp.Diff(tc.want, answerData(r)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFallback checks the three fallbacks when every endpoint is down.
func TestFallback(t *testing.T) {
	eps := func() []model.Endpoint {
		e := fourDCs("A")
		for i := range e {
			e[i].ForceDown = true
		}
		e[3].Drain = true // syd: down and drained
		return e
	}
	backup := model.Fallback{Mode: model.FallbackBackup, Backup: []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}}
	cases := []struct {
		name     string
		fallback model.Fallback
		max      int
		drainAll bool
		want     expect
		applied  string
	}{
		{name: "all: fail open without the drained", fallback: model.Fallback{}, applied: "all", want: expect{rcode: "NOERROR", flags: "aa", answer: `
			fb.gslb.example.test. 30 IN A 198.51.100.1
			fb.gslb.example.test. 30 IN A 198.51.100.2
			fb.gslb.example.test. 30 IN A 198.51.100.3`}},
		{name: "all: every endpoint when all are drained", fallback: model.Fallback{Mode: model.FallbackAll}, drainAll: true, applied: "all",
			want: expect{rcode: "NOERROR", flags: "aa", answer: `
			fb.gslb.example.test. 30 IN A 198.51.100.1
			fb.gslb.example.test. 30 IN A 198.51.100.2
			fb.gslb.example.test. 30 IN A 198.51.100.3
			fb.gslb.example.test. 30 IN A 198.51.100.4`}},
		{name: "none: NODATA", fallback: model.Fallback{Mode: model.FallbackNone}, applied: "none",
			want: expect{rcode: "NOERROR", flags: "aa", ns: gslbNegSOA}},
		{name: "backup", fallback: backup, applied: "backup", want: expect{rcode: "NOERROR", flags: "aa", answer: `
			fb.gslb.example.test. 30 IN A 203.0.113.1
			fb.gslb.example.test. 30 IN A 203.0.113.2
			fb.gslb.example.test. 30 IN A 203.0.113.3`}},
		{name: "backup capped by max_answers", fallback: backup, max: 2, applied: "backup", want: expect{rcode: "NOERROR", flags: "aa", answer: `
			fb.gslb.example.test. 30 IN A 203.0.113.1
			fb.gslb.example.test. 30 IN A 203.0.113.2`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := eps()
			if tc.drainAll {
				for i := range e {
					e[i].Drain = true
				}
			}
			svc := model.Service{Name: "fb.gslb.example.test.", Type: "A", Policy: preset("all"), Fallback: tc.fallback,
				MaxAnswers: tc.max, Endpoints: e}
			snap := buildState(t, gslbState(t, svc), nil)
			checkResponse(t, snap.answer(question(t, "fb.gslb.example.test. A"), false, testSrc), tc.want)
			ex := snap.Explain(ExplainQuery{Name: "fb.gslb.example.test.", Type: "A", Client: testSrc})
			if len(ex.Services) != 1 || ex.Services[0].FallbackApplied != tc.applied {
				t.Errorf("explained fallback %+v, want %q", ex.Services, tc.applied)
			}
		})
	}
	// Healthy endpoints: no fallback.
	snap := buildState(t, gslbState(t, model.Service{Name: "fb.gslb.example.test.", Type: "A", Fallback: backup, Endpoints: fourDCs("A")}), nil)
	if got := answerData(snap.answer(question(t, "fb.gslb.example.test. A"), false, testSrc)); len(got) != 4 {
		t.Errorf("healthy endpoints with a backup fallback: %v", got)
	}
	ex := snap.Explain(ExplainQuery{Name: "fb.gslb.example.test.", Type: "A", Client: testSrc})
	if ex.Services[0].FallbackApplied != "" {
		t.Errorf("fallback %q applied with healthy endpoints", ex.Services[0].FallbackApplied)
	}
}

// TestSteps checks the steps that the presets above do not pin down.
func TestSteps(t *testing.T) {
	dc := map[string]*datacenter{}
	for _, d := range testDCs {
		dc[d.Name] = &datacenter{name: d.Name, lat: d.Location.Lat, lon: d.Location.Lon}
	}
	mk := func(specs ...string) []cand {
		var c []cand
		for _, s := range specs {
			var name string
			var prio int32
			fmt.Sscanf(s, "%3s%d", &name, &prio)
			c = append(c, cand{ep: &endpoint{dc: dc[name], address: s, priority: prio}})
		}
		return c
	}
	names := func(c []cand) []string {
		var out []string
		for _, x := range c {
			out = append(out, x.ep.address)
		}
		return out
	}
	if got := names(lowestPriority(mk("fra2", "iad1", "sin3", "syd1"))); !slices.Equal(got, []string{"iad1", "syd1"}) {
		t.Errorf("priority: %v", got)
	}
	c := mk("fra0", "iad0", "sin0")
	for i, want := range [][]string{{"fra0", "iad0", "sin0"}, {"iad0", "sin0", "fra0"}, {"sin0", "fra0", "iad0"}, {"fra0", "iad0", "sin0"}} {
		x := slices.Clone(c)
		rotate(x, uint64(i))
		if got := names(x); !slices.Equal(got, want) {
			t.Errorf("rotate %d: %v, want %v", i, got, want)
		}
	}
	c = mk("fra0", "iad0", "sin0")
	if note := leastLoad(c); note != noteNoLoad || !slices.Equal(names(c), []string{"fra0", "iad0", "sin0"}) {
		t.Errorf("leastload without data: %v %q", names(c), note)
	}
	c[0].ep.load, c[0].ep.hasLoad = 0.9, true
	c[2].ep.load, c[2].ep.hasLoad = 0.1, true
	if leastLoad(c); !slices.Equal(names(c), []string{"sin0", "fra0", "iad0"}) {
		t.Errorf("leastload: %v, want the lowest load first, no data last", names(c))
	}

	// nearest: equally distant data centers are all kept.
	twin := &datacenter{name: "fra2", lat: 50.11, lon: 8.68}
	snap := &Snapshot{}
	q := &query{addr: netip.MustParseAddr("2.2.3.1"), clientDone: true, located: true}
	q.loc.HasCoords, q.loc.Lat, q.loc.Lon = true, 51.75, -1.25
	c = append(mk("iad0", "fra0"), cand{ep: &endpoint{dc: twin, address: "twin"}})
	if got, _ := snap.nearest(c, q); !slices.Equal(names(got), []string{"fra0", "twin"}) {
		t.Errorf("nearest: %v, want both data centers at Frankfurt", names(got))
	}
}

// TestRoundRobin checks that the roundrobin preset rotates the answer per
// query.
func TestRoundRobin(t *testing.T) {
	svc := model.Service{Name: "rr.gslb.example.test.", Type: "A", Policy: preset("roundrobin"), Endpoints: fourDCs("A")[:3]}
	snap := buildState(t, gslbState(t, svc), nil)
	want := [][]string{
		{"198.51.100.1", "198.51.100.2", "198.51.100.3"},
		{"198.51.100.2", "198.51.100.3", "198.51.100.1"},
		{"198.51.100.3", "198.51.100.1", "198.51.100.2"},
		{"198.51.100.1", "198.51.100.2", "198.51.100.3"},
	}
	for i, w := range want {
		r := snap.answer(question(t, "rr.gslb.example.test. A"), false, testSrc)
		if got := answerData(r); !slices.Equal(got, w) {
			t.Errorf("query %d: %v, want %v", i, got, w)
		}
		if r.Rcode != dns.RcodeSuccess {
			t.Errorf("rcode %d", r.Rcode)
		}
	}
}
