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

// TestNoAmplification: whatever is asked over UDP, ANY included, the
// response fits the client's buffer (512 octets without EDNS, at most our
// 1232 with it); a negative answer (NXDOMAIN or NODATA, what a random-name
// flood gets) carries the zone's SOA and nothing else, so it costs no more
// than a small positive answer however the name is chosen.
func TestNoAmplification(t *testing.T) {
	snap := snapshotOf(t, "trunc.test.", truncZone(), "example.test.", exampleZone)
	queries := []string{"big.trunc.test. TXT", "big.trunc.test. ANY", "mx.trunc.test. ANY", "mx.trunc.test. MX",
		"www.deleg.trunc.test. ANY", "trunc.test. ANY", "www.example.test. A", "www.example.test. ANY"}
	negative := []string{"nothere.trunc.test. A", "x.y.z.trunc.test. ANY", "big.trunc.test. A", "nothere.example.test. ANY",
		"a.very.long.random.name.that.does.not.exist.anywhere.example.test. TXT"}
	for _, edns := range []uint16{0, 512, 1232, 4096, 65535} {
		limit := 512
		if edns > 512 {
			limit = min(int(edns), ednsUDPSize)
		}
		for _, q := range append(queries, negative...) {
			req := question(t, q)
			if edns != 0 {
				withOPT(req, edns, true, 0)
			}
			r := snap.answer(req, false, testSrc)
			wire, err := r.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if len(wire) > limit {
				t.Errorf("EDNS %d, %s: %d octets over UDP, more than the client's %d", edns, q, len(wire), limit)
			}
		}
		for _, q := range negative {
			req := question(t, q)
			if edns != 0 {
				withOPT(req, edns, true, 0)
			}
			r := snap.answer(req, false, testSrc)
			opt := 0
			if edns != 0 {
				opt = 1
			}
			if len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA || len(r.Extra) != opt {
				t.Errorf("EDNS %d, %s: negative answer with more than the SOA: %v", edns, q, r)
			}
		}
	}
}
