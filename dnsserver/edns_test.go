package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

func withOPT(m *dns.Msg, size uint16, do bool, version uint8, opts ...dns.EDNS0) *dns.Msg {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(size)
	o.SetDo(do)
	o.SetVersion(version)
	o.Option = opts
	m.Extra = append(m.Extra, o)
	return m
}

// TestEDNS covers RFC 6891: OPT only when asked, our size, DO copied,
// BADVERS, unknown options not echoed, two OPTs a format error.
func TestEDNS(t *testing.T) {
	snap := exampleSnapshot(t)
	unknown := &dns.EDNS0_LOCAL{Code: 65001, Data: []byte("hello")}
	nsid := &dns.EDNS0_NSID{Code: dns.EDNS0NSID}

	cases := []struct {
		name    string
		req     *dns.Msg
		rcode   int
		answers int
		wantOPT bool
		wantDO  bool
	}{
		{name: "no OPT, none back", req: question(t, "www.example.test. A"), rcode: dns.RcodeSuccess, answers: 2},
		{name: "OPT echoed", req: withOPT(question(t, "www.example.test. A"), 4096, false, 0), rcode: dns.RcodeSuccess, answers: 2, wantOPT: true},
		{name: "DO copied", req: withOPT(question(t, "www.example.test. A"), 4096, true, 0), rcode: dns.RcodeSuccess, answers: 2, wantOPT: true, wantDO: true},
		{name: "unknown options ignored", req: withOPT(question(t, "www.example.test. A"), 1232, false, 0, unknown, nsid), rcode: dns.RcodeSuccess, answers: 2, wantOPT: true},
		{name: "OPT on a refusal", req: withOPT(question(t, "www.elsewhere.test. A"), 1232, false, 0), rcode: dns.RcodeRefused, wantOPT: true},
		{name: "OPT on NXDOMAIN", req: withOPT(question(t, "nothere.example.test. A"), 1232, true, 0), rcode: dns.RcodeNameError, wantOPT: true, wantDO: true},
		{name: "version 1 is BADVERS", req: withOPT(question(t, "www.example.test. A"), 1232, false, 1), rcode: dns.RcodeBadVers, wantOPT: true},
		{name: "version 255 is BADVERS", req: withOPT(question(t, "www.example.test. A"), 1232, true, 255), rcode: dns.RcodeBadVers, wantOPT: true, wantDO: true},
		{name: "two OPTs are FORMERR", req: withOPT(withOPT(question(t, "www.example.test. A"), 1232, false, 0), 1232, false, 0), rcode: dns.RcodeFormatError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := snap.answer(tc.req, false, testSrc)
			// Through the wire and back, as a client sees it: the
			// extended rcode lives in the OPT.
			wire, err := r.Pack()
			if err != nil {
				t.Fatalf("pack: %v", err)
			}
			got := new(dns.Msg)
			if err := got.Unpack(wire); err != nil {
				t.Fatalf("unpack: %v", err)
			}
			if got.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[got.Rcode], dns.RcodeToString[tc.rcode])
			}
			if len(got.Answer) != tc.answers {
				t.Errorf("%d answers, want %d", len(got.Answer), tc.answers)
			}
			opts := 0
			for _, rr := range got.Extra {
				if rr.Header().Rrtype == dns.TypeOPT {
					opts++
				}
			}
			opt := got.IsEdns0()
			switch {
			case !tc.wantOPT && opt != nil:
				t.Errorf("OPT in the response to a query without one: %v", opt)
			case tc.wantOPT && opt == nil:
				t.Fatal("no OPT in the response")
			case tc.wantOPT:
				if opts != 1 {
					t.Errorf("%d OPT records", opts)
				}
				if opt.UDPSize() != 1232 || opt.Version() != 0 || opt.Do() != tc.wantDO || len(opt.Option) != 0 {
					t.Errorf("OPT size %d version %d do %v options %v; want 1232, 0, %v, none",
						opt.UDPSize(), opt.Version(), opt.Do(), opt.Option, tc.wantDO)
				}
			}
		})
	}
}
