package dnsserver

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

// serviceState is the GSLB zone with services of every shape the handler
// cases need.
func serviceState(t testing.TB) *model.State {
	ep := func(dc, addr string, prio int) model.Endpoint {
		return model.Endpoint{Datacenter: dc, Address: addr, Priority: prio}
	}
	return gslbState(t,
		// A service beside static TXT and AAAA records.
		model.Service{Name: "app.gslb.example.test.", Type: "A", TTL: 20, Endpoints: []model.Endpoint{
			ep("fra", "198.51.100.1", 0), ep("iad", "198.51.100.2", 0)}},
		model.Service{Name: "app6.gslb.example.test.", Type: "AAAA", Endpoints: []model.Endpoint{
			ep("fra", "2001:db8:f::1", 0), ep("iad", "2001:db8:a::1", 0)}},
		// CNAME services: to static names (the lowest priority first), to
		// a name outside our zones, to another service.
		model.Service{Name: "cdn.gslb.example.test.", Type: "CNAME", Policy: preset("failover"), Endpoints: []model.Endpoint{
			ep("iad", "edge2.gslb.example.test.", 2), ep("fra", "edge1.gslb.example.test.", 1)}},
		model.Service{Name: "out.gslb.example.test.", Type: "CNAME", Endpoints: []model.Endpoint{
			ep("fra", "www.elsewhere.test.", 0)}},
		model.Service{Name: "chain.gslb.example.test.", Type: "CNAME", Endpoints: []model.Endpoint{
			ep("fra", "app.gslb.example.test.", 0)}},
		// max_answers.
		model.Service{Name: "capped.gslb.example.test.", Type: "A", MaxAnswers: 2, Endpoints: fourDCs("A")},
		// A service under a wildcard, and a wildcard service.
		model.Service{Name: "svc.wild.gslb.example.test.", Type: "A", Endpoints: []model.Endpoint{ep("sin", "198.51.100.3", 0)}},
		model.Service{Name: "*.pool.gslb.example.test.", Type: "A", Endpoints: []model.Endpoint{ep("syd", "198.51.100.4", 0)}},
		// An A and an AAAA service of one name.
		model.Service{Name: "dual.gslb.example.test.", Type: "A", Endpoints: []model.Endpoint{ep("fra", "198.51.100.1", 0)}},
		model.Service{Name: "dual.gslb.example.test.", Type: "AAAA", Endpoints: []model.Endpoint{ep("fra", "2001:db8:f::1", 0)}},
		// Health filtering.
		model.Service{Name: "half.gslb.example.test.", Type: "A", Endpoints: []model.Endpoint{
			{Datacenter: "fra", Address: "198.51.100.1", ForceDown: true}, ep("iad", "198.51.100.2", 0),
			{Datacenter: "sin", Address: "198.51.100.3", Drain: true}, ep("syd", "198.51.100.4", 0)}},
	)
}

// TestServices runs service queries through the handler core.
func TestServices(t *testing.T) {
	snap := buildState(t, serviceState(t), nil)
	app := `app.gslb.example.test. 20 IN A 198.51.100.1
	        app.gslb.example.test. 20 IN A 198.51.100.2`
	edge1 := "edge1.gslb.example.test. 300 IN A 192.0.2.11"
	cases := []struct {
		name string
		q    string
		want expect
	}{
		{"the service's type", "app.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa", answer: app}},
		{"owner is canonical", "APP.Gslb.Example.Test. A", expect{rcode: "NOERROR", flags: "aa", answer: app}},
		{"ANY is the service's answer", "app.gslb.example.test. ANY", expect{rcode: "NOERROR", flags: "aa", answer: app}},
		{"static records of another type beside", "app.gslb.example.test. TXT", expect{rcode: "NOERROR", flags: "aa",
			answer: `app.gslb.example.test. 300 IN TXT "static beside the service"`}},
		{"static AAAA beside an A service", "app.gslb.example.test. AAAA", expect{rcode: "NOERROR", flags: "aa",
			answer: "app.gslb.example.test. 300 IN AAAA 2001:db8::a"}},
		{"type mismatch is NODATA", "app.gslb.example.test. MX", expect{rcode: "NOERROR", flags: "aa", ns: gslbNegSOA}},
		{"AAAA service, default TTL", "app6.gslb.example.test. AAAA", expect{rcode: "NOERROR", flags: "aa", answer: `
			app6.gslb.example.test. 30 IN AAAA 2001:db8:f::1
			app6.gslb.example.test. 30 IN AAAA 2001:db8:a::1`}},
		{"A at an AAAA service is NODATA", "app6.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa", ns: gslbNegSOA}},
		{"below a service is NXDOMAIN", "x.app.gslb.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa", ns: gslbNegSOA}},

		{"CNAME service followed", "cdn.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "cdn.gslb.example.test. 30 IN CNAME edge1.gslb.example.test.\n" + edge1}},
		{"CNAME service, NODATA at the target", "cdn.gslb.example.test. TXT", expect{rcode: "NOERROR", flags: "aa",
			answer: "cdn.gslb.example.test. 30 IN CNAME edge1.gslb.example.test.", ns: gslbNegSOA}},
		{"CNAME query: just the CNAME", "cdn.gslb.example.test. CNAME", expect{rcode: "NOERROR", flags: "aa",
			answer: "cdn.gslb.example.test. 30 IN CNAME edge1.gslb.example.test."}},
		{"ANY at a CNAME service: just the CNAME", "cdn.gslb.example.test. ANY", expect{rcode: "NOERROR", flags: "aa",
			answer: "cdn.gslb.example.test. 30 IN CNAME edge1.gslb.example.test."}},
		{"CNAME service out of our zones", "out.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "out.gslb.example.test. 30 IN CNAME www.elsewhere.test."}},
		{"CNAME service to a service", "chain.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "chain.gslb.example.test. 30 IN CNAME app.gslb.example.test.\n" + app}},

		{"A of an A and an AAAA service", "dual.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "dual.gslb.example.test. 30 IN A 198.51.100.1"}},
		{"AAAA of an A and an AAAA service", "dual.gslb.example.test. AAAA", expect{rcode: "NOERROR", flags: "aa",
			answer: "dual.gslb.example.test. 30 IN AAAA 2001:db8:f::1"}},
		{"ANY of an A and an AAAA service: the A", "dual.gslb.example.test. ANY", expect{rcode: "NOERROR", flags: "aa",
			answer: "dual.gslb.example.test. 30 IN A 198.51.100.1"}},
		{"other type of an A and an AAAA service", "dual.gslb.example.test. TXT", expect{rcode: "NOERROR", flags: "aa", ns: gslbNegSOA}},

		{"max_answers", "capped.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa", answer: `
			capped.gslb.example.test. 30 IN A 198.51.100.1
			capped.gslb.example.test. 30 IN A 198.51.100.2`}},
		{"down and drained endpoints left out", "half.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa", answer: `
			half.gslb.example.test. 30 IN A 198.51.100.2
			half.gslb.example.test. 30 IN A 198.51.100.4`}},

		{"service name beats the wildcard", "svc.wild.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "svc.wild.gslb.example.test. 30 IN A 198.51.100.3"}},
		{"the wildcard beside it", "other.wild.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "other.wild.gslb.example.test. 300 IN A 192.0.2.99"}},
		{"other type at the service under the wildcard", "svc.wild.gslb.example.test. TXT", expect{rcode: "NOERROR", flags: "aa", ns: gslbNegSOA}},
		{"wildcard service", "Any.Pool.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "any.pool.gslb.example.test. 30 IN A 198.51.100.4"}},
		{"wildcard service, other type", "any.pool.gslb.example.test. TXT", expect{rcode: "NOERROR", flags: "aa", ns: gslbNegSOA}},
		{"parent of a service is an empty non-terminal", "pool.gslb.example.test. A", expect{rcode: "NOERROR", flags: "aa", ns: gslbNegSOA}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tcp := range []bool{false, true} {
				checkResponse(t, snap.answer(question(t, tc.q), tcp, testSrc), tc.want)
			}
		})
	}
}

// TestServiceBuildErrors checks what Build refuses to serve, even from a
// state that skipped validation.
func TestServiceBuildErrors(t *testing.T) {
	a := func(name string) model.Service {
		return model.Service{Name: name, Type: "A", Endpoints: []model.Endpoint{{Datacenter: "fra", Address: "198.51.100.1"}}}
	}
	cname := a("edge1.gslb.example.test.")
	cname.Type, cname.Endpoints[0].Address = "CNAME", "www.elsewhere.test."
	badAddr := a("x.gslb.example.test.")
	badAddr.Endpoints[0].Address = "2001:db8::1"
	unknownDC := a("x.gslb.example.test.")
	unknownDC.Endpoints[0].Datacenter = "nowhere"
	hugeWeight := a("x.gslb.example.test.")
	hugeWeight.Endpoints[0].Weight = 1 << 40
	badRegion := a("x.gslb.example.test.")
	badRegion.Policy = steps(model.PolicyStep{Step: model.StepRegion, Region: map[string][]string{"mars": {"fra"}}})
	cases := []struct {
		name string
		st   func(*model.State)
		want string
	}{
		{"same name and type as a static record", func(st *model.State) { st.Services = []model.Service{a("edge1.gslb.example.test.")} },
			"a static A record of the same name"},
		{"CNAME service beside static data", func(st *model.State) { st.Services = []model.Service{cname} }, "a static A record"},
		{"at a delegation", func(st *model.State) { st.Services = []model.Service{a("sub.gslb.example.test.")} }, "delegation point"},
		{"below a delegation", func(st *model.State) { st.Services = []model.Service{a("x.sub.gslb.example.test.")} }, "delegation point"},
		{"outside the zones", func(st *model.State) { st.Services = []model.Service{a("www.elsewhere.test.")} }, "not inside any served zone"},
		{"defined twice", func(st *model.State) {
			st.Services = []model.Service{a("x.gslb.example.test."), a("x.gslb.example.test.")}
		}, "defined twice"},
		{"a CNAME and an A service of one name", func(st *model.State) {
			c := cname
			c.Name = "x.gslb.example.test."
			st.Services = []model.Service{a("x.gslb.example.test."), c}
		}, "cannot share its name"},
		{"wrong address family", func(st *model.State) { st.Services = []model.Service{badAddr} }, "not an IPv4 address"},
		{"unknown data center", func(st *model.State) { st.Services = []model.Service{unknownDC} }, "unknown data center"},
		{"weight beyond 32 bits", func(st *model.State) { st.Services = []model.Service{hugeWeight} }, "weight or priority above 2147483647"},
		{"unknown region in a step", func(st *model.State) { st.Services = []model.Service{badRegion} }, "unknown region"},
		{"data center in an unknown region", func(st *model.State) { st.Datacenters[0].Region = "mars" }, "unknown region"},
		{"one network in two regions", func(st *model.State) {
			st.Regions[0].Networks = []string{"20.0.0.0/8"}
			st.Regions[1].Networks = []string{"20.0.0.0/8"}
		}, "20.0.0.0/8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := gslbState(t)
			tc.st(st)
			_, err := Build(st, 1, BuildOptions{})
			if !errors.Is(err, ErrInvalidGSLB) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrInvalidGSLB saying %q", err, tc.want)
			}
		})
	}
}

// TestServicesConcurrent answers every preset with and without ECS on many
// goroutines from one snapshot; with -race it fails if a decision writes
// to anything queries share (the roundrobin counter is atomic).
func TestServicesConcurrent(t *testing.T) {
	snap := buildState(t, presetState(t), openDB(t, testDB))
	var reqs []*dns.Msg
	for _, p := range append(slices.Clone(model.PolicyPresets), "cdn") {
		for _, ecs := range []string{"", "2.2.3.0/24", "2001:218::/48"} {
			reqs = append(reqs, ecsQuery(t, p+".gslb.example.test. A", ecs))
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				r := snap.answer(reqs[(g+i)%len(reqs)], i%2 == 0, testSrc)
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
					t.Errorf("%v: %s with %d records", reqs[(g+i)%len(reqs)].Question, dns.RcodeToString[r.Rcode], len(r.Answer))
					return
				}
				if _, err := r.Pack(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
