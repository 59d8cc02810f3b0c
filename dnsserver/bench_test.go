package dnsserver

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

// staticBench are the queries of BenchmarkAnswer, against
// exampleSnapshot.
var staticBench = []staticQuery{
	{"A", "www.example.test. A", false},
	{"A EDNS", "www.example.test. A", true},
	{"mixed case", "WWW.Example.Test. A", false},
	{"NXDOMAIN", "nothere.example.test. A", false},
	{"CNAME chain", "chain1.example.test. A", false},
	{"wildcard", "foo.wild.example.test. A", false},
	{"referral", "host.sub.example.test. A", false},
	{"refused", "www.elsewhere.test. A", false},
}

type staticQuery struct {
	name string
	q    string
	edns bool
}

func (bc staticQuery) request(b *testing.B) *dns.Msg {
	req := question(b, bc.q)
	if bc.edns {
		withOPT(req, 1232, false, 0)
	}
	return req
}

// BenchmarkAnswer measures the handler core for static answers, without
// sockets: lookup, response building, truncation check.
func BenchmarkAnswer(b *testing.B) {
	snap := exampleSnapshot(b)
	for _, bc := range staticBench {
		b.Run(bc.name, func(b *testing.B) {
			req := bc.request(b)
			b.ReportAllocs()
			for b.Loop() {
				snap.answer(req, false, testSrc)
			}
		})
	}
}

// BenchmarkServePacket measures the whole packet path of a UDP query:
// unpack, accept, answer, pack.
func BenchmarkServePacket(b *testing.B) {
	snap := exampleSnapshot(b)
	raw := queryPacket(b, 1, "www.example.test. A")
	b.ReportAllocs()
	for b.Loop() {
		_, resp := servePacket(snap, raw, false)
		if _, err := resp.Pack(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild measures building a snapshot of one zone with 10,000
// names (one A record each, every tenth with an AAAA and a CNAME beside).
func BenchmarkBuild(b *testing.B) {
	z := model.Zone{Name: "big.test.", Meta: model.Meta{Revision: 1},
		Nameservers: []model.Nameserver{{Name: "ns1.big.test.", Address: "192.0.2.53"}}}
	for i := range 10000 {
		name := fmt.Sprintf("host%d.dc%d.big.test.", i, i%50)
		z.Records = append(z.Records, model.Record{Name: name, Type: "A", TTL: 60, Data: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
		if i%10 == 0 {
			z.Records = append(z.Records,
				model.Record{Name: name, Type: "AAAA", TTL: 60, Data: fmt.Sprintf("2001:db8::%x", i)},
				model.Record{Name: fmt.Sprintf("alias%d.big.test.", i), Type: "CNAME", Data: name})
		}
	}
	st := &model.State{Zones: []model.Zone{z}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(st, 1, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// serviceBench are the queries of BenchmarkAnswerService, against
// serviceBenchSnapshot, from serviceBenchSrc.
var serviceBench = []struct {
	name string
	q    string
	ecs  string
}{
	{"geo ECS", "geo.gslb.example.test. A", "2.2.3.0/24"},
	{"geo ECS IPv6", "geo.gslb.example.test. A", "2001:218::/48"},
	{"geo no ECS", "geo.gslb.example.test. A", ""},
	{"multivalue health-filtered", "multi.gslb.example.test. A", ""},
	{"failover", "failover.gslb.example.test. A", ""},
	{"weighted", "weighted.gslb.example.test. A", ""},
	{"sticky ECS", "sticky.gslb.example.test. A", "2.2.3.0/24"},
	{"roundrobin", "roundrobin.gslb.example.test. A", ""},
	{"CNAME service followed", "cdn.gslb.example.test. A", "2.2.3.0/24"},
	{"static with ECS", "edge1.gslb.example.test. A", "2.2.3.0/24"},
}

var serviceBenchSrc = netip.MustParseAddr("81.2.69.142")

// serviceBenchSnapshot has a service per preset and an 8-endpoint
// service with 3 endpoints down, with the test GeoIP database.
func serviceBenchSnapshot(b testing.TB) *Snapshot {
	multi := model.Service{Name: "multi.gslb.example.test.", Type: "A"}
	for i := range 8 {
		multi.Endpoints = append(multi.Endpoints, model.Endpoint{Datacenter: testDCs[i%4].Name,
			Address: fmt.Sprintf("198.51.100.%d", i+1), ForceDown: i%3 == 1})
	}
	st := presetState(b)
	st.Services = append(st.Services, multi)
	return buildState(b, st, openDB(b, testDB))
}

// BenchmarkAnswerService measures the handler core for service answers:
// the policy chain, the (cached) geo lookup, ECS in and out.
func BenchmarkAnswerService(b *testing.B) {
	snap := serviceBenchSnapshot(b)
	for _, bc := range serviceBench {
		b.Run(bc.name, func(b *testing.B) {
			req := ecsQuery(b, bc.q, bc.ecs)
			b.ReportAllocs()
			for b.Loop() {
				snap.answer(req, false, serviceBenchSrc)
			}
		})
	}
}

// BenchmarkServePacketGeo is BenchmarkServePacket for a geo service with
// ECS: unpack, answer, pack.
func BenchmarkServePacketGeo(b *testing.B) {
	snap := buildState(b, geoState(b), openDB(b, testDB))
	raw := packed(b, ecsQuery(b, "geo.gslb.example.test. A", "2.2.3.0/24"))
	b.ReportAllocs()
	for b.Loop() {
		_, resp := servePacket(snap, raw, false)
		if _, err := resp.Pack(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildServices measures building a snapshot with 10,000 geo
// services of four endpoints each in one zone.
func BenchmarkBuildServices(b *testing.B) {
	st := gslbState(b)
	for i := range 10000 {
		st.Services = append(st.Services, model.Service{Name: fmt.Sprintf("svc%d.gslb.example.test.", i), Type: "A",
			Policy: preset("geo"), Endpoints: fourDCs("A")})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(st, 1, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
