package dnsserver

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/miekg/dns"
)

// TestECS covers RFC 7871 in the handler core: malformed options are
// FORMERR; a source prefix of 0 and non-routable addresses fall back to
// the resolver's address with scope 0; IPv6 works; static and negative
// answers have scope 0; the option is echoed exactly when the query had
// one.
func TestECS(t *testing.T) {
	db := openDB(t, testDB)
	snap := buildState(t, geoState(t), db)
	sub := func(family uint16, source, scope uint8, addr string) *dns.EDNS0_SUBNET {
		return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: source, SourceScope: scope, Address: net.ParseIP(addr)}
	}
	geoQ := "geo.gslb.example.test. A"
	cases := []struct {
		name  string
		q     string
		opts  []dns.EDNS0
		rcode int
		scope int // -1: no ECS in the response
		dcs   int // number of answer records; -1 to skip
	}{
		{"IPv4 /24", geoQ, []dns.EDNS0{sub(1, 24, 0, "2.2.3.0")}, dns.RcodeSuccess, 24, 1},
		{"IPv6 /48", geoQ, []dns.EDNS0{sub(2, 48, 0, "2001:218::")}, dns.RcodeSuccess, 32, 1},
		{"IPv6 on an AAAA service", "geo6.gslb.example.test. AAAA", []dns.EDNS0{sub(2, 56, 0, "2001:218:0:100::")}, dns.RcodeSuccess, 32, 1},
		{"scope in the query is ignored", geoQ, []dns.EDNS0{sub(1, 24, 17, "2.2.3.0")}, dns.RcodeSuccess, 24, 1},
		{"source prefix 0: the resolver's address", geoQ, []dns.EDNS0{sub(1, 0, 0, "0.0.0.0")}, dns.RcodeSuccess, 0, 4},
		{"IPv6 source prefix 0", geoQ, []dns.EDNS0{sub(2, 0, 0, "::")}, dns.RcodeSuccess, 0, 4},
		{"family 0 with prefix 0 (old dig)", geoQ, []dns.EDNS0{sub(0, 0, 0, "0.0.0.0")}, dns.RcodeSuccess, 0, 4},
		{"private address ignored", geoQ, []dns.EDNS0{sub(1, 24, 0, "10.0.0.0")}, dns.RcodeSuccess, 0, 4},
		{"documentation address ignored", geoQ, []dns.EDNS0{sub(2, 48, 0, "2001:db8:1::")}, dns.RcodeSuccess, 0, 4},
		{"static records: scope 0", "app.gslb.example.test. TXT", []dns.EDNS0{sub(1, 24, 0, "2.2.3.0")}, dns.RcodeSuccess, 0, 1},
		{"NXDOMAIN: scope 0", "nothere.gslb.example.test. A", []dns.EDNS0{sub(1, 24, 0, "2.2.3.0")}, dns.RcodeNameError, 0, 0},
		{"NODATA at a service: scope 0", "geo.gslb.example.test. MX", []dns.EDNS0{sub(1, 24, 0, "2.2.3.0")}, dns.RcodeSuccess, 0, 0},
		{"REFUSED: echoed, scope 0", "www.elsewhere.test. A", []dns.EDNS0{sub(1, 24, 0, "2.2.3.0")}, dns.RcodeRefused, 0, 0},
		{"other options beside ECS", geoQ, []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID}, sub(1, 24, 0, "2.2.3.0")}, dns.RcodeSuccess, 24, 1},
		{"no ECS, no ECS back", geoQ, nil, dns.RcodeSuccess, -1, 4},

		{"IPv4 source prefix 33", geoQ, []dns.EDNS0{sub(1, 33, 0, "2.2.3.0")}, dns.RcodeFormatError, -1, 0},
		{"IPv6 source prefix 129", geoQ, []dns.EDNS0{sub(2, 129, 0, "2001:218::")}, dns.RcodeFormatError, -1, 0},
		{"address bits beyond the source prefix", geoQ, []dns.EDNS0{sub(1, 24, 0, "2.2.3.1")}, dns.RcodeFormatError, -1, 0},
		{"IPv6 bits beyond the source prefix", geoQ, []dns.EDNS0{sub(2, 32, 0, "2001:218::1")}, dns.RcodeFormatError, -1, 0},
		{"unknown family", geoQ, []dns.EDNS0{sub(3, 24, 0, "2.2.3.0")}, dns.RcodeFormatError, -1, 0},
		{"family 0 with a prefix", geoQ, []dns.EDNS0{sub(0, 8, 0, "0.0.0.0")}, dns.RcodeFormatError, -1, 0},
		{"family 1 with an IPv6 address", geoQ, []dns.EDNS0{sub(1, 24, 0, "2001:218::")}, dns.RcodeFormatError, -1, 0},
		{"two ECS options", geoQ, []dns.EDNS0{sub(1, 24, 0, "2.2.3.0"), sub(1, 24, 0, "2.2.3.0")}, dns.RcodeFormatError, -1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := question(t, tc.q)
			withOPT(req, 1232, false, 0, tc.opts...)
			r := snap.answer(req, false, testSrc)
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
			if tc.dcs >= 0 && len(r.Answer) != tc.dcs {
				t.Errorf("%d answer records, want %d: %v", len(r.Answer), tc.dcs, answerData(r))
			}
			if r.IsEdns0() == nil {
				t.Fatal("no OPT in the response to a query with one")
			}
			e := responseECS(r)
			switch {
			case tc.scope < 0 && e != nil:
				t.Errorf("ECS %v in the response, want none", e)
			case tc.scope >= 0 && e == nil:
				t.Errorf("no ECS in the response, want scope %d", tc.scope)
			case tc.scope >= 0:
				var q *dns.EDNS0_SUBNET
				for _, o := range tc.opts {
					if s, ok := o.(*dns.EDNS0_SUBNET); ok {
						q = s
					}
				}
				if e.Family != q.Family || e.SourceNetmask != q.SourceNetmask || !e.Address.Equal(q.Address) || int(e.SourceScope) != tc.scope {
					t.Errorf("ECS %v family %d, want the query's %v family %d with scope %d", e, e.Family, q, q.Family, tc.scope)
				}
			}
			if _, err := r.Pack(); err != nil {
				t.Errorf("response does not pack: %v", err)
			}
		})
	}
	// Without an OPT there is nothing to echo.
	if r := snap.answer(question(t, geoQ), false, testSrc); r.IsEdns0() != nil {
		t.Errorf("OPT %v in the response to a query without EDNS", r.IsEdns0())
	}
}

// ecsPacket is a packed A query for geo.gslb.example.test. with an OPT
// holding one raw ECS option.
func ecsPacket(t *testing.T, family uint16, source uint8, addr []byte) []byte {
	t.Helper()
	data := make([]byte, 4, 4+len(addr))
	binary.BigEndian.PutUint16(data, family)
	data[2] = source
	data = append(data, addr...)
	req := withOPT(question(t, "geo.gslb.example.test. A"), 1232, false, 0, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: data})
	return packed(t, req)
}

// TestECSWire sends ECS options as bytes through the packet path: what
// miekg/dns refuses to parse and what this package refuses are both
// FORMERR, and a well-formed one is answered.
func TestECSWire(t *testing.T) {
	snap := buildState(t, geoState(t), openDB(t, testDB))
	for _, tc := range []struct {
		name   string
		packet []byte
		rcode  int
	}{
		{"well-formed /24", ecsPacket(t, 1, 24, []byte{2, 2, 3}), dns.RcodeSuccess},
		{"well-formed IPv6 /32", ecsPacket(t, 2, 32, []byte{0x20, 0x01, 0x02, 0x18}), dns.RcodeSuccess},
		{"source prefix 33", ecsPacket(t, 1, 33, []byte{2, 2, 3, 0, 0}), dns.RcodeFormatError},
		{"family 7", ecsPacket(t, 7, 24, []byte{2, 2, 3}), dns.RcodeFormatError},
		{"bits beyond the prefix", ecsPacket(t, 1, 22, []byte{2, 2, 3}), dns.RcodeFormatError},
		{"too short", packed(t, withOPT(question(t, "geo.gslb.example.test. A"), 1232, false, 0,
			&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: []byte{0, 1}})), dns.RcodeFormatError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, r := servePacket(snap, tc.packet, false)
			if r == nil {
				t.Fatal("dropped")
			}
			if r.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
		})
	}
}
