package dnsserver

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/store/model"
)

// testDB is the MaxMind City test database (testdata/geoip/README.md).
const testDB = "testdata/geoip/GeoIP2-City-Test.mmdb"

// gslbZone holds the services of the GSLB tests, beside static data.
const gslbZone = `
$ORIGIN gslb.example.test.
$TTL 300
@        IN SOA  ns1 hostmaster 1 3600 600 1209600 60
@        IN NS   ns1
ns1      IN A    192.0.2.53
app      IN TXT  "static beside the service"
app      IN AAAA 2001:db8::a
edge1    IN A    192.0.2.11
edge2    IN A    192.0.2.12
*.wild   IN A    192.0.2.99
sub      IN NS   ns.sub
ns.sub   IN A    192.0.2.54
`

const gslbNegSOA = "gslb.example.test. 60 IN SOA ns1.gslb.example.test. hostmaster.gslb.example.test. 1 3600 600 1209600 60"

// Data centers on four continents, in three regions.
var (
	testRegions = []model.Region{
		{Name: "americas", Continents: []string{"NA", "SA"}},
		{Name: "apac", Continents: []string{"AS", "OC"}},
		{Name: "europe", Continents: []string{"EU"}},
	}
	testDCs = []model.Datacenter{
		{Name: "fra", Region: "europe", Location: model.Location{Lat: 50.11, Lon: 8.68}},
		{Name: "iad", Region: "americas", Location: model.Location{Lat: 38.95, Lon: -77.45}},
		{Name: "sin", Region: "apac", Location: model.Location{Lat: 1.35, Lon: 103.82}},
		{Name: "syd", Region: "apac", Location: model.Location{Lat: -33.87, Lon: 151.21}},
	}
	// dcAddr is each data center's IPv4 endpoint in the fixtures.
	dcAddr = map[string]string{"fra": "198.51.100.1", "iad": "198.51.100.2", "sin": "198.51.100.3", "syd": "198.51.100.4"}
	// dcAddr6 is each data center's IPv6 endpoint.
	dcAddr6 = map[string]string{"fra": "2001:db8:f::1", "iad": "2001:db8:a::1", "sin": "2001:db8:5::1", "syd": "2001:db8:5d::1"}
)

// fourDCs are endpoints of type typ ("A" or "AAAA"), one per data center.
func fourDCs(typ string) []model.Endpoint {
	addrs := dcAddr
	if typ == "AAAA" {
		addrs = dcAddr6
	}
	var out []model.Endpoint
	for _, dc := range []string{"fra", "iad", "sin", "syd"} {
		out = append(out, model.Endpoint{Datacenter: dc, Address: addrs[dc], Weight: 1})
	}
	return out
}

// gslbState is the GSLB zone with the test regions, data centers and
// services.
func gslbState(t testing.TB, services ...model.Service) *model.State {
	t.Helper()
	st := &model.State{
		Zones:       []model.Zone{zoneOf(t, "gslb.example.test.", gslbZone)},
		Regions:     slices.Clone(testRegions),
		Datacenters: slices.Clone(testDCs),
		Services:    services,
	}
	return st
}

// buildState validates st as the store would and builds it.
func buildState(t testing.TB, st *model.State, loc Locator) *Snapshot {
	t.Helper()
	if err := st.Validate(); err != nil {
		t.Fatalf("fixture does not validate: %v", err)
	}
	snap, err := Build(st, 1, BuildOptions{Locator: loc})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// openDB opens the test database; it is closed when the test ends.
func openDB(t testing.TB, path string) *geo.DB {
	t.Helper()
	db, err := geo.Open(path, "", geo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// preset is a model.Policy of a preset.
func preset(name string) model.Policy { return model.Policy{Preset: name} }

// steps is a model.Policy of explicit steps.
func steps(s ...model.PolicyStep) model.Policy { return model.Policy{Steps: s} }

// withECS adds an ECS option for p to m, with an OPT when m has none.
func withECS(m *dns.Msg, p netip.Prefix) *dns.Msg {
	return withECSOption(m, ecsOption(p))
}

func ecsOption(p netip.Prefix) *dns.EDNS0_SUBNET {
	e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice())}
	if p.Addr().Is6() {
		e.Family = 2
	}
	return e
}

func withECSOption(m *dns.Msg, opts ...dns.EDNS0) *dns.Msg {
	o := m.IsEdns0()
	if o == nil {
		withOPT(m, 1232, false, 0)
		o = m.IsEdns0()
	}
	o.Option = append(o.Option, opts...)
	return m
}

// ecsQuery is question q ("NAME TYPE") with ECS for the prefix ecs ("" for
// none, and then no OPT either).
func ecsQuery(t testing.TB, q, ecs string) *dns.Msg {
	t.Helper()
	m := question(t, q)
	if ecs != "" {
		withECS(m, netip.MustParsePrefix(ecs))
	}
	return m
}

// responseECS is the ECS option of a response, or nil.
func responseECS(r *dns.Msg) *dns.EDNS0_SUBNET {
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return s
			}
		}
	}
	return nil
}

// answerData is the data of the answer records, in order: addresses and
// CNAME targets.
func answerData(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.CNAME:
			out = append(out, rr.Target)
		default:
			out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
		}
	}
	return out
}

// dcsOf maps answer addresses back to data center names.
func dcsOf(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		name := a
		for dc, da := range dcAddr {
			if da == a || dcAddr6[dc] == a {
				name = dc
			}
		}
		out = append(out, name)
	}
	return out
}
