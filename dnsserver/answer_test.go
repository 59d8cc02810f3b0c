package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

const (
	soa    = "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 1209600 60"
	negSOA = "example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 1209600 60"
	www    = `www.example.test. 300 IN A 192.0.2.1
	          www.example.test. 300 IN A 192.0.2.2`
	subReferral = `sub.example.test. 300 IN NS ns.sub.example.test.
	               sub.example.test. 300 IN NS ns2.elsewhere.test.`
	subGlue = `ns.sub.example.test. 300 IN A 192.0.2.54
	           ns.sub.example.test. 300 IN AAAA 2001:db8::54`
)

// TestAnswer runs queries against exampleZone (and the nested child zone
// and other.test) through the handler core, without sockets.
func TestAnswer(t *testing.T) {
	snap := exampleSnapshot(t)
	cases := []struct {
		name string
		q    string
		want expect
	}{
		// Plain answers.
		{"A RRset", "www.example.test. A", expect{rcode: "NOERROR", flags: "aa", answer: www}},
		{"matching ignores case", "WwW.ExAmPlE.TeSt. A", expect{rcode: "NOERROR", flags: "aa", answer: www}},
		{"owner names are canonical", "MIXEDCASE.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "mixedcase.example.test. 300 IN A 192.0.2.4"}},
		{"SOA", "example.test. SOA", expect{rcode: "NOERROR", flags: "aa", answer: soa}},

		// Negative answers carry the SOA with TTL min(SOA TTL, MINIMUM).
		{"NXDOMAIN", "nothere.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa", ns: negSOA}},
		{"NODATA", "www.example.test. TXT", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"empty non-terminal is NODATA", "b.example.test. A", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"below an existing name", "x.www.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa", ns: negSOA}},

		// Outside the served zones.
		{"other domain refused", "www.elsewhere.test. A", expect{rcode: "REFUSED"}},
		{"parent of a zone refused", "test. A", expect{rcode: "REFUSED"}},
		{"root refused", ". NS", expect{rcode: "REFUSED"}},
		{"class CH refused", "version.bind. TXT CH", expect{rcode: "REFUSED"}},
		{"class CH in a served zone refused", "www.example.test. A CH", expect{rcode: "REFUSED"}},
		{"class ANY refused", "www.example.test. A ANY", expect{rcode: "REFUSED"}},
		{"AXFR refused", "example.test. AXFR", expect{rcode: "REFUSED"}},
		{"IXFR refused", "example.test. IXFR", expect{rcode: "REFUSED"}},

		// Nested zones: the longest match answers.
		{"nested zone answers its names", "www.child.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "www.child.example.test. 300 IN A 192.0.2.200"}},
		{"nested zone apex SOA", "child.example.test. SOA", expect{rcode: "NOERROR", flags: "aa",
			answer: "child.example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 1209600 120"}},
		{"nested zone NXDOMAIN has its own SOA", "nope.child.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa",
			ns: "child.example.test. 120 IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 1209600 120"}},
		{"DS at a nested apex from the parent", "child.example.test. DS", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},

		// CNAMEs.
		{"CNAME followed", "alias.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "alias.example.test. 300 IN CNAME www.example.test.\n" + www}},
		{"CNAME followed for AAAA", "alias.example.test. AAAA", expect{rcode: "NOERROR", flags: "aa",
			answer: `alias.example.test. 300 IN CNAME www.example.test.
			         www.example.test. 300 IN AAAA 2001:db8::1`}},
		{"CNAME query returns the CNAME", "alias.example.test. CNAME", expect{rcode: "NOERROR", flags: "aa",
			answer: "alias.example.test. 300 IN CNAME www.example.test."}},
		{"CNAME to NODATA", "alias.example.test. TXT", expect{rcode: "NOERROR", flags: "aa",
			answer: "alias.example.test. 300 IN CNAME www.example.test.", ns: negSOA}},
		{"CNAME chain", "chain1.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: `chain1.example.test. 300 IN CNAME chain2.example.test.
			         chain2.example.test. 300 IN CNAME www.example.test.` + "\n" + www}},
		{"CNAME to a missing name is NXDOMAIN", "dangling.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa",
			answer: "dangling.example.test. 300 IN CNAME nothere.example.test.", ns: negSOA}},
		{"CNAME out of our zones", "away.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "away.example.test. 300 IN CNAME www.outside.invalid."}},
		{"CNAME into another served zone", "cross.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: `cross.example.test. 300 IN CNAME www.other.test.
			         www.other.test. 600 IN A 198.51.100.1`}},
		{"CNAME to a missing name in another zone", "crossnx.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa",
			answer: "crossnx.example.test. 300 IN CNAME nothere.other.test.",
			ns:     "other.test. 30 IN SOA ns1.example.test. hostmaster.example.test. 9 3600 600 1209600 30"}},
		{"CNAME into a nested zone", "tochild.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: `tochild.example.test. 300 IN CNAME www.child.example.test.
			         www.child.example.test. 300 IN A 192.0.2.200`}},
		{"CNAME below a delegation refers", "todeleg.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "todeleg.example.test. 300 IN CNAME host.sub.example.test.", ns: subReferral, extra: subGlue}},
		{"CNAME loop stops", "loop1.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: `loop1.example.test. 300 IN CNAME loop2.example.test.
			         loop2.example.test. 300 IN CNAME loop1.example.test.`}},
		{"CNAME chain limit", "c1.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: `c1.example.test. 300 IN CNAME c2.example.test.
			         c2.example.test. 300 IN CNAME c3.example.test.
			         c3.example.test. 300 IN CNAME c4.example.test.
			         c4.example.test. 300 IN CNAME c5.example.test.
			         c5.example.test. 300 IN CNAME c6.example.test.
			         c6.example.test. 300 IN CNAME c7.example.test.
			         c7.example.test. 300 IN CNAME c8.example.test.
			         c8.example.test. 300 IN CNAME c9.example.test.`}},
		{"ANY at a CNAME is the CNAME", "alias.example.test. ANY", expect{rcode: "NOERROR", flags: "aa",
			answer: "alias.example.test. 300 IN CNAME www.example.test."}},

		// Delegations.
		{"referral at the cut", "sub.example.test. A", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"referral for NS at the cut", "sub.example.test. NS", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"referral for ANY at the cut", "sub.example.test. ANY", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"referral below the cut hides zone data", "host.sub.example.test. A", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"referral for glue names", "ns.sub.example.test. A", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"referral for missing names below", "deep.nothere.sub.example.test. TXT", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"no wildcard below a cut", "x.sub.example.test. A", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"DS at the cut is the parent's", "sub.example.test. DS", expect{rcode: "NOERROR", flags: "aa",
			answer: "sub.example.test. 300 IN DS 12345 13 2 2BB183AF5F22588179A53B0A98631FAD1A292118C9E5B3A6E0F8A8E9B7D0A6E1"}},
		{"no DS at the cut is NODATA", "nods.example.test. DS", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"DS below the cut refers", "host.sub.example.test. DS", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"referral without in-zone glue", "nods.example.test. A", expect{rcode: "NOERROR",
			ns: "nods.example.test. 300 IN NS ns.nods.example.test.", extra: "ns.nods.example.test. 300 IN A 192.0.2.55"}},

		// Wildcards (RFC 4592).
		{"wildcard A", "foo.wild.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "foo.wild.example.test. 300 IN A 192.0.2.100"}},
		{"wildcard matches several labels", "a.b.c.wild.example.test. TXT", expect{rcode: "NOERROR", flags: "aa",
			answer: `a.b.c.wild.example.test. 300 IN TXT "wild"`}},
		{"wildcard owner is the query name, in lower case", "FOO.wild.example.test. TXT", expect{rcode: "NOERROR", flags: "aa",
			answer: `foo.wild.example.test. 300 IN TXT "wild"`}},
		{"wildcard without the type is NODATA", "foo.wild.example.test. AAAA", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"wildcard ANY gives one RRset", "foo.wild.example.test. ANY", expect{rcode: "NOERROR", flags: "aa",
			answer: "foo.wild.example.test. 300 IN A 192.0.2.100"}},
		{"existing name blocks the wildcard", "exists.wild.example.test. A", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"existing name answers", "exists.wild.example.test. TXT", expect{rcode: "NOERROR", flags: "aa",
			answer: `exists.wild.example.test. 300 IN TXT "real"`}},
		{"below an existing name no wildcard", "x.exists.wild.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa", ns: negSOA}},
		{"empty non-terminal blocks the wildcard", "ent.wild.example.test. A", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"below an empty non-terminal no wildcard", "y.ent.wild.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa", ns: negSOA}},
		{"the wildcard's parent is an empty non-terminal", "wild.example.test. A", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"the wildcard name itself", "*.wild.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "*.wild.example.test. 300 IN A 192.0.2.100"}},
		{"wildcard CNAME followed", "foo.wc.example.test. A", expect{rcode: "NOERROR", flags: "aa",
			answer: "foo.wc.example.test. 300 IN CNAME www.example.test.\n" + www}},
		{"wildcard CNAME query", "foo.wc.example.test. CNAME", expect{rcode: "NOERROR", flags: "aa",
			answer: "foo.wc.example.test. 300 IN CNAME www.example.test."}},

		// Additional section.
		{"apex NS with addresses", "example.test. NS", expect{rcode: "NOERROR", flags: "aa",
			answer: `example.test. 300 IN NS ns1.example.test.
			         example.test. 300 IN NS ns2.elsewhere.test.`,
			extra: `ns1.example.test. 300 IN A 192.0.2.53
			        ns1.example.test. 300 IN AAAA 2001:db8::53`}},
		{"MX with addresses", "example.test. MX", expect{rcode: "NOERROR", flags: "aa",
			answer: `example.test. 300 IN MX 10 mail.example.test.
			         example.test. 300 IN MX 20 mx.elsewhere.test.`,
			extra: "mail.example.test. 300 IN A 192.0.2.25"}},
		{"SRV with addresses", "_sip._udp.example.test. SRV", expect{rcode: "NOERROR", flags: "aa",
			answer: "_sip._udp.example.test. 300 IN SRV 0 5 5060 sip.example.test.",
			extra:  "sip.example.test. 300 IN A 192.0.2.60"}},

		// ANY (RFC 8482): one RRset.
		{"ANY gives one RRset", "www.example.test. ANY", expect{rcode: "NOERROR", flags: "aa", answer: www}},
		{"ANY at the apex gives the SOA", "example.test. ANY", expect{rcode: "NOERROR", flags: "aa", answer: soa}},
		{"ANY at an empty non-terminal", "b.example.test. ANY", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"ANY at a missing name", "nothere.example.test. ANY", expect{rcode: "NXDOMAIN", flags: "aa", ns: negSOA}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, tcp := range []bool{false, true} {
				req := question(t, tc.q)
				r := snap.answer(req, tcp, testSrc)
				checkResponse(t, r, tc.want)
				if r.Id != req.Id || r.Question[0] != req.Question[0] {
					t.Errorf("question %v id %d, want %v id %d", r.Question[0], r.Id, req.Question[0], req.Id)
				}
			}
		})
	}
}

// TestAnswerHeader checks the header bits every response gets.
func TestAnswerHeader(t *testing.T) {
	snap := exampleSnapshot(t)
	req := question(t, "WWW.Example.TEST. A")
	req.RecursionDesired = true
	req.CheckingDisabled = true
	r := snap.answer(req, false, testSrc)
	if r.Question[0].Name != "WWW.Example.TEST." {
		t.Errorf("question name %q: the query's letter case must be kept", r.Question[0].Name)
	}
	if !r.RecursionDesired || r.RecursionAvailable || !r.Authoritative || !r.Response || r.Opcode != dns.OpcodeQuery {
		t.Errorf("header %+v: want RD copied, RA never, AA, QR", r.MsgHdr)
	}
}

// TestAnswerNoSnapshot checks that a server without a snapshot refuses.
func TestAnswerNoSnapshot(t *testing.T) {
	var snap *Snapshot
	r := snap.answer(question(t, "www.example.test. A"), false, testSrc)
	checkResponse(t, r, expect{rcode: "REFUSED"})
}

// TestAnswerMalformed covers requests the accept check lets through only
// when the handler core is called directly.
func TestAnswerMalformed(t *testing.T) {
	snap := exampleSnapshot(t)
	none := new(dns.Msg)
	none.Id = 7
	checkResponse(t, snap.answer(none, false, testSrc), expect{rcode: "FORMERR"})

	two := question(t, "www.example.test. A")
	two.Question = append(two.Question, two.Question[0])
	checkResponse(t, snap.answer(two, false, testSrc), expect{rcode: "FORMERR"})

	notify := question(t, "example.test. SOA")
	notify.Opcode = dns.OpcodeNotify
	checkResponse(t, snap.answer(notify, false, testSrc), expect{rcode: "NOTIMP"})
}

// TestAnswerConcurrent answers and packs from one snapshot on many
// goroutines; with -race it fails if answering writes to anything the
// snapshot shares between queries.
func TestAnswerConcurrent(t *testing.T) {
	snap := snapshotOf(t, "example.test.", exampleZone, "other.test.", otherZone, "trunc.test.", truncZone())
	qs := []string{"www.example.test. A", "foo.wild.example.test. TXT", "crossnx.example.test. A", "host.sub.example.test. A",
		"example.test. NS", "big.trunc.test. TXT", "mx.trunc.test. MX", "www.deleg.trunc.test. A", "nothere.example.test. A"}
	var reqs []*dns.Msg // shared by the goroutines: answering must not change them either
	for i, q := range qs {
		reqs = append(reqs, question(t, q), withOPT(question(t, q), uint16(512+i*300), true, 0))
	}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				r := snap.answer(reqs[(g+i)%len(reqs)], i%3 == 0, testSrc)
				if _, err := r.Pack(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
