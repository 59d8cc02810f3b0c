package dnsserver

import (
	"fmt"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// truncZone has answers too big for UDP: a large TXT RRset, an MX RRset
// whose additional data does not fit, and a referral whose glue does not.
func truncZone() string {
	var b strings.Builder
	b.WriteString(`$ORIGIN trunc.test.
$TTL 300
@   IN SOA ns1 hostmaster 1 3600 600 1209600 60
@   IN NS  ns1
ns1 IN A   192.0.2.1
`)
	for i := range 40 {
		fmt.Fprintf(&b, "big IN TXT \"record %02d padding padding padding padding padding\"\n", i)
	}
	for i := range 10 {
		fmt.Fprintf(&b, "mx IN MX %d h%d\n", i, i)
		for j := range 4 {
			fmt.Fprintf(&b, "h%d IN AAAA 2001:db8::%d:%d\n", i, i, j)
		}
	}
	for i := range 20 {
		fmt.Fprintf(&b, "deleg IN NS ns%d.deleg\nns%d.deleg IN A 192.0.2.%d\nns%d.deleg IN AAAA 2001:db8::%d\n", i, i, i, i, i)
	}
	return b.String()
}

// TestTruncation checks the UDP size limits and when TC is set.
func TestTruncation(t *testing.T) {
	snap := snapshotOf(t, "trunc.test.", truncZone())
	cases := []struct {
		name     string
		q        string
		edns     uint16 // 0: no OPT
		tcp      bool
		limit    int
		tc       bool
		answers  int  // -1: fewer than all
		extraCut bool // fewer additional records than over TCP
	}{
		{name: "UDP without EDNS: 512 and TC", q: "big.trunc.test. TXT", limit: 512, tc: true, answers: -1},
		{name: "UDP with EDNS 4096: our 1232 and TC", q: "big.trunc.test. TXT", edns: 4096, limit: 1232, tc: true, answers: -1},
		{name: "UDP with EDNS below 512 counts as 512", q: "big.trunc.test. TXT", edns: 100, limit: 512, tc: true, answers: -1},
		{name: "TCP gets everything", q: "big.trunc.test. TXT", tcp: true, limit: dns.MaxMsgSize, answers: 40},
		{name: "TCP with EDNS gets everything", q: "big.trunc.test. TXT", edns: 1232, tcp: true, limit: dns.MaxMsgSize, answers: 40},
		{name: "dropped additional data sets no TC", q: "mx.trunc.test. MX", limit: 512, answers: 10, extraCut: true},
		{name: "all additional data over TCP", q: "mx.trunc.test. MX", tcp: true, limit: dns.MaxMsgSize, answers: 10},
		{name: "dropped glue sets TC", q: "www.deleg.trunc.test. A", limit: 512, tc: true, extraCut: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := question(t, tc.q)
			if tc.edns != 0 {
				withOPT(req, tc.edns, false, 0)
			}
			full := snap.answer(req, true, testSrc)
			r := snap.answer(req, tc.tcp, testSrc)
			wire, err := r.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if len(wire) > tc.limit {
				t.Errorf("%d octets, more than %d", len(wire), tc.limit)
			}
			if r.Truncated != tc.tc {
				t.Errorf("TC %v, want %v", r.Truncated, tc.tc)
			}
			switch {
			case tc.answers < 0 && len(r.Answer) >= len(full.Answer):
				t.Errorf("%d answers: nothing was cut", len(r.Answer))
			case tc.answers >= 0 && len(r.Answer) != tc.answers:
				t.Errorf("%d answers, want %d", len(r.Answer), tc.answers)
			}
			if extraCut := len(r.Extra) < len(full.Extra); extraCut != tc.extraCut {
				t.Errorf("%d of %d additional records", len(r.Extra), len(full.Extra))
			}
			if tc.edns != 0 && r.IsEdns0() == nil {
				t.Error("truncation lost the OPT")
			}
		})
	}
}
