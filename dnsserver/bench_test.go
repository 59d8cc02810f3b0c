package dnsserver

import (
	"fmt"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

// BenchmarkAnswer measures the handler core for static answers, without
// sockets: lookup, response building, truncation check.
func BenchmarkAnswer(b *testing.B) {
	snap := exampleSnapshot(b)
	for _, bc := range []struct {
		name string
		q    string
		edns bool
	}{
		{"A", "www.example.test. A", false},
		{"A EDNS", "www.example.test. A", true},
		{"mixed case", "WWW.Example.Test. A", false},
		{"NXDOMAIN", "nothere.example.test. A", false},
		{"CNAME chain", "chain1.example.test. A", false},
		{"wildcard", "foo.wild.example.test. A", false},
		{"referral", "host.sub.example.test. A", false},
		{"refused", "www.elsewhere.test. A", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := question(b, bc.q)
			if bc.edns {
				withOPT(req, 1232, false, 0)
			}
			b.ReportAllocs()
			for b.Loop() {
				snap.answer(req, false)
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
		if _, err := Build(st, 1); err != nil {
			b.Fatal(err)
		}
	}
}
