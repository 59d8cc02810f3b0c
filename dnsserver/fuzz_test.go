package dnsserver

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

// servePacket does with one packet what dns.Server does with it, with our
// MsgAcceptFunc and handler (miekg/dns v1.1.73, Server.serveUDP and
// Server.serveDNS): shorter than a header is dropped; the header decides
// accept, drop, FORMERR or NOTIMP; a body that does not unpack gets
// FORMERR; the rest goes to the handler core. It returns the request as far
// as it was parsed and the response, nil when the packet is dropped.
func servePacket(snap *Snapshot, raw []byte, tcp bool) (req, resp *dns.Msg) {
	if len(raw) < 12 {
		return nil, nil
	}
	h := dns.Header{
		Id:      binary.BigEndian.Uint16(raw[0:]),
		Bits:    binary.BigEndian.Uint16(raw[2:]),
		Qdcount: binary.BigEndian.Uint16(raw[4:]),
		Ancount: binary.BigEndian.Uint16(raw[6:]),
		Nscount: binary.BigEndian.Uint16(raw[8:]),
		Arcount: binary.BigEndian.Uint16(raw[10:]),
	}
	// The header alone, as dns.Server's setHdr reads it.
	hdrOnly := make([]byte, 12)
	copy(hdrOnly, raw[:4])
	req = new(dns.Msg)
	if err := req.Unpack(hdrOnly); err != nil {
		panic(err) // twelve octets with zero counts always unpack
	}
	action := acceptAction(h)
	switch action {
	case dns.MsgIgnore:
		return req, nil
	case dns.MsgAccept:
		if err := req.Unpack(raw); err == nil {
			return req, snap.answer(req, tcp, testSrc)
		}
	}
	opcode := req.Opcode
	req.SetRcodeFormatError(req)
	req.Zero = false
	if action == dns.MsgRejectNotImplemented {
		req.Opcode = opcode
		req.Rcode = dns.RcodeNotImplemented
	}
	req.Ns, req.Answer, req.Extra = nil, nil, nil
	return req, req
}

// FuzzPacket feeds arbitrary bytes through the server's packet path over
// both transports. The response, if any, must pack, carry the query's ID
// with QR set, and fit the transport: over UDP the client's size (512
// octets without EDNS), over TCP 65535.
func FuzzPacket(f *testing.F) {
	snap := snapshotOf(f,
		"example.test.", exampleZone,
		"child.example.test.", childZone,
		"other.test.", otherZone,
		"trunc.test.", truncZone())

	for _, q := range []string{
		"www.example.test. A", "WWW.Example.Test. AAAA", "nothere.example.test. A", "b.example.test. A",
		"alias.example.test. A", "c1.example.test. A", "loop1.example.test. A", "crossnx.example.test. A",
		"host.sub.example.test. A", "sub.example.test. DS", "foo.wild.example.test. ANY", "foo.wc.example.test. A",
		"example.test. NS", "example.test. MX", "_sip._udp.example.test. SRV", "big.trunc.test. TXT",
		"mx.trunc.test. MX", "www.deleg.trunc.test. A", "version.bind. TXT CH", "www.elsewhere.test. A",
		"example.test. AXFR", "child.example.test. DS",
	} {
		f.Add(queryPacket(f, 1, q))
		f.Add(packed(f, withOPT(question(f, q), 4096, true, 0, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1}})))
		f.Add(packed(f, withOPT(question(f, q), 100, false, 0)))
	}
	for _, bp := range badPackets(f) {
		f.Add(bp.packet)
	}
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, raw []byte) { checkPacket(t, snap, raw) })
}

// checkPacket serves raw over both transports and checks the response, if
// any: it packs, fits the transport, carries the query's ID and question
// with QR set, and never RA, AD, or TC on FORMERR and NOTIMP.
func checkPacket(t *testing.T, snap *Snapshot, raw []byte) {
	for _, tcp := range []bool{false, true} {
		req, resp := servePacket(snap, raw, tcp)
		if resp == nil {
			continue
		}
		limit := dns.MaxMsgSize
		if !tcp {
			limit = dns.MinMsgSize
			if opt, n := requestOPT(req); n == 1 {
				limit = udpSize(opt)
			}
		}
		var q []dns.Question
		if len(req.Question) == 1 && resp != req {
			q = append(q, req.Question[0])
		}

		wire, err := resp.Pack()
		if err != nil {
			t.Fatalf("tcp=%v: the response does not pack: %v\n%v", tcp, err, resp)
		}
		if len(wire) > limit {
			t.Fatalf("tcp=%v: response of %d octets, limit %d", tcp, len(wire), limit)
		}
		scrubHeader(wire) // as the server's writer does
		got := new(dns.Msg)
		if err := got.Unpack(wire); err != nil {
			t.Fatalf("tcp=%v: the response does not unpack: %v", tcp, err)
		}
		if got.Id != binary.BigEndian.Uint16(raw) || !got.Response {
			t.Fatalf("tcp=%v: response id %d QR %v to query id %d", tcp, got.Id, got.Response, binary.BigEndian.Uint16(raw))
		}
		if got.RecursionAvailable || got.AuthenticatedData {
			t.Fatalf("tcp=%v: RA or AD set", tcp)
		}
		if got.Truncated && (got.Rcode == dns.RcodeFormatError || got.Rcode == dns.RcodeNotImplemented) {
			t.Fatalf("tcp=%v: TC on %s", tcp, dns.RcodeToString[got.Rcode])
		}
		if q != nil && (len(got.Question) != 1 || got.Question[0] != q[0]) {
			t.Fatalf("tcp=%v: question %v, want %v", tcp, got.Question, q)
		}
	}
}

// FuzzPacketGSLB is FuzzPacket for GSLB services with the City test
// database: every preset, a CNAME service, ECS options well-formed and
// not.
func FuzzPacketGSLB(f *testing.F) {
	snap := buildState(f, presetState(f), openDB(f, testDB))
	for _, name := range append(slices.Clone(model.PolicyPresets), "cdn", "edge1", "nothere") {
		for _, ecs := range []string{"", "2.2.3.0/24", "2001:218::/48", "10.0.0.0/8", "0.0.0.0/0", "81.2.69.142/32"} {
			for _, typ := range []string{"A", "AAAA", "ANY", "TXT"} {
				f.Add(packed(f, ecsQuery(f, name+".gslb.example.test. "+typ, ecs)))
			}
		}
	}
	f.Add(packed(f, withECSOption(question(f, "geo.gslb.example.test. A"), ecsOption(netip.MustParsePrefix("2.2.3.0/24")),
		ecsOption(netip.MustParsePrefix("2.2.3.0/24")))))
	for _, raw := range [][]byte{{0, 1, 33, 0, 2, 2, 3, 0, 0}, {0, 7, 24, 0, 2, 2, 3}, {0, 1, 22, 0, 2, 2, 3}, {0, 2, 200, 0}, {0, 0, 0, 0}} {
		f.Add(packed(f, withOPT(question(f, "geo.gslb.example.test. A"), 1232, false, 0, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: raw})))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkPacket(t, snap, raw) })
}
