package dnsserver

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

// geoCase is a client network of GeoIP2-City-Test.json, the data center a
// geo service should give it, and the ECS scope: the database network the
// address falls in (from the JSON), which may be shorter or longer than
// the source prefix.
type geoCase struct {
	name  string
	ecs   string
	dc    string
	scope int
}

var geoCases = []geoCase{
	{"GB, Boxford: 2.2.3.0/24", "2.2.3.0/24", "fra", 24},
	{"GB, London: 81.2.69.142/31, ECS /32", "81.2.69.142/32", "fra", 31},
	{"GB, London: the other address of the /31", "81.2.69.143/32", "fra", 31},
	{"SE: 89.160.20.112/28, ECS /32", "89.160.20.115/32", "fra", 28},
	{"SE: 89.160.20.112/28, ECS /28", "89.160.20.112/28", "fra", 28},
	{"US, San Diego: 214.78.120.0/22, ECS /24", "214.78.120.0/24", "iad", 22},
	{"US, Milton WA: 216.160.83.56/29", "216.160.83.56/29", "iad", 29},
	{"CN, Changchun: 175.16.199.0/24", "175.16.199.0/24", "sin", 24},
	{"BT: 67.43.156.0/24", "67.43.156.0/24", "sin", 24},
	{"SG: 214.0.0.0/24", "214.0.0.0/24", "sin", 24},
	{"AU, Melbourne: 214.0.1.0/24", "214.0.1.0/24", "syd", 24},
	{"JP: 2001:218::/32, ECS /48", "2001:218:1234::/48", "sin", 32},
	{"JP: 2001:218::/32, ECS /56", "2001:218::/56", "sin", 32},
}

// geoState is one A and one AAAA service with the geo preset over four
// data centers on four continents.
func geoState(t testing.TB) *model.State {
	return gslbState(t,
		model.Service{Name: "geo.gslb.example.test.", Type: "A", Policy: preset("geo"), Endpoints: fourDCs("A")},
		model.Service{Name: "geo6.gslb.example.test.", Type: "AAAA", Policy: preset("geo"), Endpoints: fourDCs("AAAA")},
	)
}

// TestGeoOverSocket runs geo services with the City test database on a
// real server: ECS from networks on several continents gets the nearest
// data center with the database network as the ECS scope; without ECS the
// source address (127.0.0.1, not in the database) is used, and every
// endpoint is answered; a private ECS address is ignored in favour of the
// source address, with scope 0.
func TestGeoOverSocket(t *testing.T) {
	db := openDB(t, testDB)
	s := startServer(t, Config{}, buildState(t, geoState(t), db))
	a := addr(t, s)

	for _, tc := range geoCases {
		for _, svc := range []struct{ q, typ string }{{"geo.gslb.example.test. A", "A"}, {"geo6.gslb.example.test. AAAA", "AAAA"}} {
			for _, network := range []string{"udp", "tcp"} {
				t.Run(tc.name+" "+svc.typ+" "+network, func(t *testing.T) {
					req := ecsQuery(t, svc.q, tc.ecs)
					r := exchange(t, network, a, req)
					if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
						t.Fatalf("rcode %s aa %v", dns.RcodeToString[r.Rcode], r.Authoritative)
					}
					if got := dcsOf(answerData(r)); !slices.Equal(got, []string{tc.dc}) {
						t.Errorf("answer %v, want %s", got, tc.dc)
					}
					for _, rr := range r.Answer {
						if rr.Header().Ttl != model.DefaultServiceTTL || rr.Header().Name != req.Question[0].Name {
							t.Errorf("record %v: want owner %s, TTL %d", rr, req.Question[0].Name, model.DefaultServiceTTL)
						}
					}
					e := responseECS(r)
					if e == nil {
						t.Fatal("no ECS in the response")
					}
					p := netip.MustParsePrefix(tc.ecs)
					want := ecsOption(p)
					want.SourceScope = uint8(tc.scope)
					if e.Family != want.Family || e.SourceNetmask != want.SourceNetmask || e.SourceScope != want.SourceScope ||
						!e.Address.Equal(want.Address) {
						t.Errorf("ECS %v family %d, want %v family %d", e, e.Family, want, want.Family)
					}
				})
			}
		}
	}

	all := []string{"fra", "iad", "sin", "syd"}
	t.Run("no ECS: the source address, not in the database", func(t *testing.T) {
		for _, edns := range []bool{false, true} {
			req := question(t, "geo.gslb.example.test. A")
			if edns {
				withOPT(req, 1232, false, 0)
			}
			r := exchange(t, "udp", a, req)
			if got := dcsOf(answerData(r)); !slices.Equal(got, all) {
				t.Errorf("EDNS %v: answer %v, want every endpoint (no location: kept all)", edns, got)
			}
			if e := responseECS(r); e != nil {
				t.Errorf("EDNS %v: ECS %v in the response to a query without", edns, e)
			}
		}
	})
	t.Run("private ECS ignored", func(t *testing.T) {
		for _, ecs := range []string{"10.1.2.0/24", "192.168.0.0/16", "fd00:1::/48", "127.0.0.0/24"} {
			r := exchange(t, "udp", a, ecsQuery(t, "geo.gslb.example.test. A", ecs))
			if got := dcsOf(answerData(r)); !slices.Equal(got, all) {
				t.Errorf("ECS %s: answer %v, want the source address's (every endpoint)", ecs, got)
			}
			e := responseECS(r)
			if e == nil || e.SourceScope != 0 || int(e.SourceNetmask) != netip.MustParsePrefix(ecs).Bits() {
				t.Errorf("ECS %s: response ECS %v, want the source echoed with scope 0", ecs, e)
			}
		}
	})
}

// TestGeoCustomNetworks checks that a region's networks override the
// database and shape the ECS scope: the scope shrinks so that no custom
// network inside it answers differently, and grows to a custom network
// longer than the database's.
func TestGeoCustomNetworks(t *testing.T) {
	db := openDB(t, testDB)
	st := geoState(t)
	// An operator sends the upper half of 2.2.3.0/24 (GB) to the
	// Americas, and 175.16.199.0/26 (CN) too.
	st.Regions[0].Networks = []string{"2.2.3.128/25", "175.16.199.0/26"}
	snap := buildState(t, st, db)
	cases := []struct {
		ecs   string
		dc    string
		scope int
		why   string
	}{
		{"2.2.3.0/24", "fra", 25, "the /24 holds a custom /25 that answers differently"},
		{"2.2.3.0/25", "fra", 25, "the lower /25 is all database"},
		{"2.2.3.128/25", "iad", 25, "the custom network itself"},
		{"2.2.3.200/32", "iad", 25, "inside the custom network"},
		{"175.16.199.0/24", "iad", 26, "the custom /26 is longer than the database's /24"},
		{"175.16.199.64/26", "sin", 26, "database /24 minus the custom /26"},
		{"175.16.199.128/25", "sin", 25, "database /24 minus the custom /26"},
	}
	for _, tc := range cases {
		r := snap.answer(ecsQuery(t, "geo.gslb.example.test. A", tc.ecs), false, testSrc)
		if got := dcsOf(answerData(r)); !slices.Equal(got, []string{tc.dc}) {
			t.Errorf("%s: answer %v, want %s", tc.ecs, got, tc.dc)
		}
		if e := responseECS(r); e == nil || int(e.SourceScope) != tc.scope {
			t.Errorf("%s: ECS %v, want scope %d: %s", tc.ecs, e, tc.scope, tc.why)
		}
	}
}

// TestGeoRegionMap checks a region step with a map: the client's region's
// preferred data centers, in the map's order, and every endpoint for a
// region the map does not name.
func TestGeoRegionMap(t *testing.T) {
	db := openDB(t, testDB)
	svc := model.Service{Name: "pref.gslb.example.test.", Type: "A", Endpoints: fourDCs("A"),
		Policy: steps(model.PolicyStep{Step: model.StepHealthy},
			model.PolicyStep{Step: model.StepRegion, Region: map[string][]string{"europe": {"iad", "fra"}, "apac": {"syd"}}})}
	snap := buildState(t, gslbState(t, svc), db)
	for _, tc := range []struct {
		ecs  string
		want []string
	}{
		{"2.2.3.0/24", []string{"iad", "fra"}},                    // europe: the map's order
		{"214.0.0.0/24", []string{"syd"}},                         // SG is apac: syd only, though sin is nearer
		{"214.78.120.0/24", []string{"fra", "iad", "sin", "syd"}}, // americas is not in the map
	} {
		r := snap.answer(ecsQuery(t, "pref.gslb.example.test. A", tc.ecs), false, testSrc)
		if diff := cmp.Diff(tc.want, dcsOf(answerData(r))); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.ecs, diff)
		}
	}
}

// TestGeoNoDatabase checks that without a database geographic steps keep
// every candidate, custom networks still place clients in regions, and
// the scope is then the custom network's.
func TestGeoNoDatabase(t *testing.T) {
	st := geoState(t)
	st.Regions[2].Networks = []string{"203.0.113.0/24"} // europe; a documentation network is not routable…
	st.Regions[0].Networks = []string{"20.0.0.0/8"}     // …so americas gets a routable one for the ECS test
	snap := buildState(t, st, nil)
	r := snap.answer(ecsQuery(t, "geo.gslb.example.test. A", "2.2.3.0/24"), false, testSrc)
	if got := dcsOf(answerData(r)); len(got) != 4 {
		t.Errorf("no database: answer %v, want every endpoint", got)
	}
	// The database network is the whole family, so only the custom
	// networks bound the scope: 2.2.3.0 and 20.0.0.0 share their first 3
	// bits, so 0.0.0.0/4 is the largest network around the client that
	// holds no custom network.
	if e := responseECS(r); e == nil || e.SourceScope != 4 {
		t.Errorf("no database: ECS %v, want scope 4", e)
	}
	r = snap.answer(ecsQuery(t, "geo.gslb.example.test. A", "20.1.2.0/24"), false, testSrc)
	if got := dcsOf(answerData(r)); !slices.Equal(got, []string{"iad"}) {
		t.Errorf("custom network without a database: answer %v, want iad", got)
	}
	if e := responseECS(r); e == nil || e.SourceScope != 8 {
		t.Errorf("custom network without a database: ECS %v, want scope 8", e)
	}
	r = snap.answer(question(t, "geo.gslb.example.test. A"), false, netip.MustParseAddr("203.0.113.7"))
	if got := dcsOf(answerData(r)); !slices.Equal(got, []string{"fra"}) {
		t.Errorf("resolver in a custom network: answer %v, want fra", got)
	}
}
