package dnsserver

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// FuzzECS feeds arbitrary EDNS Client Subnet option data (RFC 7871
// section 6), once or twice in one OPT, to parseECS and through the
// handler with the City test database, for a service of every preset.
// What miekg/dns unpacks and parseECS accepts must be exactly what
// ecsReference accepts, with the same network; the rest is FORMERR
// without ECS. An accepted option is echoed with the query's family,
// source prefix and address, and a scope counted in the bits of that
// family.
func FuzzECS(f *testing.F) {
	snap := buildState(f, presetState(f), openDB(f, testDB))
	names := append(slices.Clone(model.PolicyPresets), "cdn")
	for _, p := range []string{"2.2.3.0/24", "81.2.69.142/32", "89.160.20.112/28", "214.78.120.0/22", "2001:218::/32",
		"2001:218:1234::/48", "10.0.0.0/8", "0.0.0.0/0", "::/0", "::ffff:2.2.3.0/120", "::ffff:0:0/96"} {
		wire := ecsWire(netip.MustParsePrefix(p))
		for i := range names {
			f.Add(wire, false, uint8(i))
		}
		f.Add(wire, true, uint8(0))
		f.Add(append(bytes.Clone(wire), 0), false, uint8(0)) // one address octet too many
	}
	for i, data := range [][]byte{
		{0, 0, 0, 0}, {0, 0, 8, 0}, {0, 1, 33, 0, 2, 2, 3, 0, 0}, {0, 7, 24, 0, 2, 2, 3}, {0, 1, 22, 0, 2, 2, 3},
		{0, 1, 24, 33, 2, 2, 3}, {0, 2, 129, 0}, {0, 2, 200, 0}, {0, 1}, {}, {0, 1, 24, 0, 2, 2, 3, 1},
	} {
		f.Add(data, false, uint8(i))
	}
	f.Fuzz(func(t *testing.T, data []byte, twice bool, service uint8) {
		ok, want := ecsReference(data)
		ok = ok && !twice

		opts := []dns.EDNS0{&dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: data}}
		if twice {
			opts = append(opts, opts[0])
		}
		name := names[int(service)%len(names)] + ".gslb.example.test. A"
		raw := packed(t, withOPT(question(t, name), 1232, false, 0, opts...))

		req := new(dns.Msg)
		if err := req.Unpack(raw); err == nil {
			var q query
			got := q.parseECS(req.IsEdns0())
			if got != ok {
				t.Fatalf("parseECS(%x twice=%v) = %v, want %v", data, twice, got, ok)
			}
			if got && (q.ecs == nil || q.ecsNet != want) {
				t.Fatalf("parseECS(%x): network %v, want %v", data, q.ecsNet, want)
			}
		} else if ok {
			t.Fatalf("miekg/dns refuses ECS %x, which RFC 7871 accepts: %v", data, err)
		}

		checkPacket(t, snap, raw)
		_, resp := servePacket(snap, raw, false)
		e := responseECS(resp)
		if !ok {
			if resp.Rcode != dns.RcodeFormatError || e != nil {
				t.Fatalf("ECS %x twice=%v: rcode %s with ECS %v, want FORMERR without", data, twice, dns.RcodeToString[resp.Rcode], e)
			}
			return
		}
		if resp.Rcode == dns.RcodeFormatError || e == nil {
			t.Fatalf("ECS %x: rcode %s with ECS %v, want an answer with ECS", data, dns.RcodeToString[resp.Rcode], e)
		}
		family := binary.BigEndian.Uint16(data)
		if e.Family != family || int(e.SourceNetmask) != max(want.Bits(), 0) {
			t.Fatalf("ECS %x echoed as %v family %d", data, e, e.Family)
		}
		scope := int(e.SourceScope)
		if family == 0 || want.Bits() == 0 {
			if scope != 0 {
				t.Fatalf("ECS %x: scope %d for source prefix 0", data, scope)
			}
			return
		}
		if a, _ := netip.AddrFromSlice(e.Address); (family == 1 && a.Unmap() != want.Addr()) || (family == 2 && a != want.Addr()) {
			t.Fatalf("ECS %x: address %v echoed, want %v", data, a, want.Addr())
		}
		if scope > want.Addr().BitLen() || (want.Addr().Is4In6() && scope != 0 && scope < 96) {
			// The scope of an IPv4-mapped address is an IPv4 network:
			// below 96 bits it would cover native IPv6 networks, and a
			// resolver would cache the answer for clients it was never
			// made for.
			t.Fatalf("%s with ECS %x (%v): scope %d is not in the bits of the query's family", name, data, want, scope)
		}
	})
}

// ecsReference is RFC 7871 section 6 as this package reads it: at least
// the four octets of FAMILY, SOURCE and SCOPE PREFIX-LENGTH; family 1
// (IPv4) or 2 (IPv6) with prefixes no longer than the address (miekg/dns
// also checks SCOPE), and no address bit set beyond SOURCE; or family 0
// with SOURCE 0 (old dig), which has no network. Missing address octets
// are zero and octets beyond the family's length are ignored, as
// miekg/dns reads them (the RFC asks for exactly enough octets, SHOULD).
func ecsReference(data []byte) (ok bool, p netip.Prefix) {
	if len(data) < 4 {
		return false, p
	}
	source, scope := int(data[2]), int(data[3])
	size := 0
	switch binary.BigEndian.Uint16(data) {
	case 0:
		return source == 0, p
	case 1:
		size = 4
	case 2:
		size = 16
	default:
		return false, p
	}
	if source > size*8 || scope > size*8 {
		return false, p
	}
	addr := make([]byte, size)
	copy(addr, data[4:])
	a, _ := netip.AddrFromSlice(addr)
	p = netip.PrefixFrom(a, source)
	return p.Masked() == p, p
}

// ecsWire is the option data a client sends for p: family, source
// prefix, scope 0 and as many address octets as the prefix needs.
func ecsWire(p netip.Prefix) []byte {
	family := uint16(1)
	if p.Addr().Is6() {
		family = 2
	}
	data := binary.BigEndian.AppendUint16(nil, family)
	data = append(data, byte(p.Bits()), 0)
	return append(data, p.Addr().AsSlice()[:(p.Bits()+7)/8]...)
}

// includable are the files a fuzzed zone file may $INCLUDE, relative to
// zoneFuzzFile's directory.
var includable = []string{"inc/hosts.zone", "inc/bad.zone", "inc/outside.zone", "nothere.zone"}

// zoneFuzzFile is the name FuzzZoneFile gives its input (not a file on
// disk) when it names one.
var zoneFuzzFile = filepath.Join("testdata", "zones", "fuzz.zone")

// FuzzZoneFile parses arbitrary zone-file text with an arbitrary origin,
// with and without a file name (the API imports without one, so without
// $INCLUDE). On success every record has a canonical owner name inside
// the origin, a known type in upper case and RDATA, and re-validates as
// Build checks stored records, to the same record. On error the error is
// a *ZoneFileError that says what is wrong and starts with the file it is
// about, at a line of that file.
func FuzzZoneFile(f *testing.F) {
	for _, name := range []string{"main.zone", "bad_include.zone", "missing_include.zone", "outside_include.zone",
		"inc/hosts.zone", "inc/bad.zone", "inc/outside.zone"} {
		data, err := os.ReadFile(filepath.Join("testdata", "zones", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data), "example.test.", true, uint32(300))
		f.Add(string(data), "example.test.", false, uint32(0))
	}
	for _, z := range []struct{ origin, text string }{
		{"example.test.", exampleZone}, {"child.example.test.", childZone}, {"other.test.", otherZone},
		{"gslb.example.test.", gslbZone}, {"trunc.test.", truncZone()},
	} {
		f.Add(z.text, z.origin, true, uint32(300))
	}
	for _, text := range []string{
		"$TTL 300\n; comment\n\n@ IN NS ns1\nns1 IN A 192.0.2.1\n\nwww 300 IN A 1.2.3\n",
		"www IN AAAA 192.0.2.1\n", "\n@ IN MX ten mail\n", "www 300 IN FOO 1.2.3.4\n",
		"a IN A 192.0.2.1\nwww 30x0 IN A 192.0.2.1\n", "www 4294967296 IN A 192.0.2.1\n", "$TTL soon\nwww IN A 192.0.2.1\n",
		"www 300 IN A\nx IN A 192.0.2.1\n", "ok IN A 192.0.2.1\nwww 300 IN CNAME\n",
		"www IN A 192.0.2.1\nwww.other.test. IN A 192.0.2.2\n",
		"@ IN SOA ns1 hostmaster (\n 1 2 3 4 5 )\n; c\n\n$ORIGIN test.\nwww IN A 192.0.2.1\n",
		"www 300 CH TXT hello\n", "a IN TXT ( \"x\"\n \"y\"\nb IN A 192.0.2.1\n", "$INCLUDE other.zone\n",
		"$TTL 60\n$GENERATE 1-3 host$ 120 A 192.0.2.$\n$GENERATE 4-4 host$ IN 30 A 192.0.2.$\n",
		"www IN A 192.0.2.1\n$GENERATE 1-3 host$ A 192.0.2.$\n", "$TTL 1h\na 1d IN A 192.0.2.1\nb IN A 192.0.2.2\n",
		"a\\032b IN TXT \"x\\\"y\" z\n", "a\\ b IN A 192.0.2.1\nc\\;d\\(e\\) IN A 192.0.2.2\nA\\066b IN A 192.0.2.3\n",
		"_sip._tcp IN SRV 0 5 5060 sip\n", "c IN CAA 0 issue \"ca.example\"\n",
		"s IN SVCB 1 . alpn=h2,h3 ipv4hint=192.0.2.1\n", "x IN TYPE65534 \\# 3 abcdef\n", "* IN A 192.0.2.9\n",
		"$ORIGIN sub\nwww IN A 192.0.2.1\n", "a IN A 192.0.2.1 ; trailing comment\r\n",
	} {
		f.Add(text, "example.test.", true, uint32(300))
	}
	f.Add("www IN A 192.0.2.1\n", "bad..origin", true, uint32(300))
	f.Add("www IN A 192.0.2.1\n", ".", true, uint32(0))
	f.Add("www IN A 192.0.2.1\n@ IN MX 10 www\n", "Ex\\097mple.test", true, uint32(0))

	buf := make([]byte, dns.MaxMsgSize)
	f.Fuzz(func(t *testing.T, text, origin string, named bool, defTTL uint32) {
		filename := ""
		if named {
			if !includesOnly(text, includable) {
				t.Skip("$INCLUDE of a file outside testdata/zones")
			}
			filename = zoneFuzzFile
		}
		recs, err := ParseZoneFile(strings.NewReader(text), origin, filename, defTTL)
		if err != nil {
			checkZoneFileError(t, err, text, filename)
			return
		}
		apex, ok := canonicalName(origin)
		if !ok {
			t.Fatalf("origin %q does not pack, yet records parsed", origin)
		}
		ttl := cmp.Or(defTTL, model.DefaultTTL)
		for i, r := range recs {
			if r.Name != dns.CanonicalName(r.Name) || !dns.IsSubDomain(apex, r.Name) {
				t.Fatalf("record %d %+v: owner not canonical or outside %s", i, r, apex)
			}
			if model.ValidName(origin) && !model.InZone(r.Name, apex) {
				t.Fatalf("record %d %+v: outside the zone %s as the store sees it", i, r, apex)
			}
			if code, ok := typeCode(r.Type); !ok || r.Type != dns.Type(code).String() {
				t.Fatalf("record %d %+v: type not a mnemonic in upper case", i, r)
			}
			rr, err := parseRecord(apex, r, ttl, buf)
			if err != nil {
				t.Fatalf("record %d %+v does not re-validate: %v", i, r, err)
			}
			again, err := recordOf(rr)
			if err != nil || again.Name != r.Name || again.Type != r.Type || again.Data != r.Data || (r.TTL != 0 && again.TTL != r.TTL) {
				t.Fatalf("record %d %+v re-validates as %+v (%v)", i, r, again, err)
			}
		}
	})
}

// checkZoneFileError checks a ParseZoneFile error: a *ZoneFileError
// wrapping ErrZoneFile that says what is wrong and starts with the file
// it is about: filename, one of the files it includes, or "zone file"
// without a name; at a line that file has.
func checkZoneFileError(t *testing.T, err error, text, filename string) {
	t.Helper()
	var zfe *ZoneFileError
	if !errors.As(err, &zfe) || !errors.Is(err, ErrZoneFile) {
		t.Fatalf("error %q (%T) is not a *ZoneFileError wrapping ErrZoneFile", err, err)
	}
	if strings.TrimSpace(zfe.Err) == "" {
		t.Fatalf("error %q does not say what is wrong", err)
	}
	lines := strings.Count(text, "\n") + 1
	switch {
	case filename == "":
		if zfe.File != "" || !strings.HasPrefix(err.Error(), "zone file") {
			t.Fatalf("error %q names file %q, want none", err, zfe.File)
		}
	case zfe.File == filename:
	case slices.Contains(includable, strings.TrimPrefix(filepath.ToSlash(zfe.File), "testdata/zones/")):
		data, _ := os.ReadFile(zfe.File)
		lines = strings.Count(string(data), "\n") + 1
	default:
		t.Fatalf("error %q names file %q, want %s or a file it includes", err, zfe.File, filename)
	}
	if zfe.File != "" && !strings.HasPrefix(err.Error(), zfe.File+":") {
		t.Fatalf("error %q does not start with the file %s", err, zfe.File)
	}
	if zfe.Line < 0 || zfe.Line > lines {
		t.Fatalf("error %q: line %d of a file of %d lines", err, zfe.Line, lines)
	}
}

// includesOnly reports whether every $INCLUDE directive of a zone file
// names one of files: a line that mentions INCLUDE in any case must be
// "$INCLUDE FILE [ORIGIN]". The zone parser drops carriage returns
// outside quotes ("$INC\rLUDE" is a directive), so they are dropped here
// too. This keeps the fuzzer from reading the rest of the disk (such as
// /dev/zero, which would never end).
func includesOnly(text string, files []string) bool {
	for line := range strings.SplitSeq(strings.ReplaceAll(text, "\r", ""), "\n") {
		if !strings.Contains(strings.ToUpper(line), "INCLUDE") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 || strings.ToUpper(f[0]) != "$INCLUDE" || !slices.Contains(files, f[1]) {
			return false
		}
	}
	return true
}

// TestZoneFileFuzzFindings pins what FuzzZoneFile found, beside the
// inputs kept in testdata/fuzz/FuzzZoneFile: an error in the records a
// $GENERATE expands to is at the directive's line (it was at a line of
// the expansion, which could name another record or no line of the file);
// an error miekg/dns gives no message for still says what is wrong; and
// a record cut short is refused with its line.
func TestZoneFileFuzzFindings(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"a IN A 192.0.2.1\n\n$GENERATE 0-1 x$ 30 A 1.2.3\n",
			`x.zone:3: bad A address "1.2.3" (in record "$GENERATE 0-1 x$ 30 A 1.2.3")`},
		{"$GENERATE 0-1 \\", `x.zone:1: bad TTL "\\" (in record "$GENERATE 0-1 \\")`},
		{"$GENERATE 1-2 x$ 30 A 192.0.2.$\nb IN A 1.2.3\n", `x.zone:2: bad A address "1.2.3" (in record "b IN A 1.2.3")`},
		{"s SVCB 0 0 ipv4hint=;", `x.zone:1: bad RDATA (in record "s SVCB 0 0 ipv4hint=;")`},
		{"www IN A 192.0.2.1\n@ SOA ", `x.zone:2: SOA RDATA "  0 0 0 0 0" does not read back as itself but as ` +
			`"0.example.test. 0.example.test. 0 0 0 0 0": is the record incomplete? (in record "@ SOA")`},
	} {
		_, err := ParseZoneFile(strings.NewReader(tc.text), "example.test.", "x.zone", 300)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: error\n got %v\nwant %s", tc.text, err, tc.want)
		}
	}
}
