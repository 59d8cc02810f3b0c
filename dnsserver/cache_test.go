package dnsserver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

// recWriter is a dns.ResponseWriter that keeps the bytes of the response,
// packed as dns.Server would pack a WriteMsg.
type recWriter struct {
	remote net.Addr
	out    []byte
}

func (w *recWriter) LocalAddr() net.Addr  { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *recWriter) RemoteAddr() net.Addr { return w.remote }
func (w *recWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	w.out = b
	return nil
}
func (w *recWriter) Write(b []byte) (int, error) {
	w.out = append([]byte(nil), b...)
	return len(b), nil
}
func (w *recWriter) Close() error        { return nil }
func (w *recWriter) TsigStatus() error   { return nil }
func (w *recWriter) TsigTimersOnly(bool) {}
func (w *recWriter) Hijack()             {}

// serveRaw unpacks raw as dns.Server does and runs h on it; nil when the
// packet would not reach the handler or the handler sent nothing.
func serveRaw(h handler, raw []byte, src netip.Addr) []byte {
	if len(raw) < 12 {
		return nil
	}
	req := new(dns.Msg)
	if acceptAction(dns.Header{Bits: binary.BigEndian.Uint16(raw[2:]), Qdcount: binary.BigEndian.Uint16(raw[4:]),
		Ancount: binary.BigEndian.Uint16(raw[6:]), Nscount: binary.BigEndian.Uint16(raw[8:]),
		Arcount: binary.BigEndian.Uint16(raw[10:])}) != dns.MsgAccept || req.Unpack(raw) != nil {
		return nil
	}
	var remote net.Addr = &net.UDPAddr{IP: src.AsSlice(), Port: 5353}
	if h.tcp {
		remote = &net.TCPAddr{IP: src.AsSlice(), Port: 5353}
	}
	w := &recWriter{remote: remote}
	h.ServeDNS(w, req)
	return w.out
}

// cachePair is a server with the answer cache and one without, on the
// same snapshot.
type cachePair struct {
	on, off  *Server
	fastHits *atomic.Int64 // answers the fast path gave
}

func newCachePair(snap *Snapshot) cachePair {
	p := cachePair{on: New(Config{}), off: New(Config{AnswerCacheSize: -1}), fastHits: new(atomic.Int64)}
	p.on.Swap(snap)
	p.off.Swap(snap)
	return p
}

// check serves raw to both servers, twice to the cached one, and fails
// unless all three responses are identical octet for octet; it reports
// whether the second one came from the cache.
func (p cachePair) check(t *testing.T, name string, raw []byte, tcp bool, src netip.Addr) bool {
	t.Helper()
	hits := p.on.Stats().CacheHits
	off := serveRaw(handler{s: p.off, tcp: tcp}, raw, src)
	first := serveRaw(handler{s: p.on, tcp: tcp}, raw, src)
	second := serveRaw(handler{s: p.on, tcp: tcp}, raw, src)
	for i, got := range [][]byte{first, second} {
		if !bytes.Equal(got, off) {
			t.Errorf("%s (tcp %v), cached path response %d differs:\n got  %x\n want %x\n%s", name, tcp, i+1, got, off, diffMsgs(got, off))
			return false
		}
	}
	hit := p.on.Stats().CacheHits > hits
	p.checkFast(t, name, raw, tcp, src, off)
	return hit
}

// checkFast asks the fast path (no unpacking) for raw: when it answers,
// the answer must be off, the full path's.
func (p cachePair) checkFast(t *testing.T, name string, raw []byte, tcp bool, src netip.Addr, off []byte) {
	t.Helper()
	fast, ok := p.on.fastAnswer(raw, src, tcp, nil)
	if !ok {
		return
	}
	p.fastHits.Add(1)
	if !bytes.Equal(fast, off) {
		t.Errorf("%s (tcp %v), fast path response differs:\n got  %x\n want %x\n%s", name, tcp, fast, off, diffMsgs(fast, off))
	}
}

func diffMsgs(a, b []byte) string {
	var ma, mb dns.Msg
	ea, eb := ma.Unpack(a), mb.Unpack(b)
	return fmt.Sprintf("got (%v):\n%v\nwant (%v):\n%v", ea, &ma, eb, &mb)
}

// cacheQueries are the questions of the equivalence tests, against
// cacheSnapshot: every kind of static answer and every preset.
var cacheQueries = []string{
	"www.example.test. A", "WwW.ExAmPlE.TeSt. A", "www.example.test. AAAA", "nothere.example.test. A",
	"NoThere.Example.TEST. MX", "b.example.test. A", "alias.example.test. A", "Alias.Example.Test. A",
	"c1.example.test. A", "loop1.example.test. A", "crossnx.example.test. A", "host.sub.example.test. A",
	"HOST.SUB.example.test. AAAA", "sub.example.test. DS", "foo.wild.example.test. ANY", "Foo.Wild.Example.Test. A",
	"foo.wc.example.test. A", "example.test. NS", "example.test. SOA", "example.test. MX",
	"_sip._udp.example.test. SRV", "version.bind. TXT CH", "www.elsewhere.test. A", "example.test. AXFR",
	"big.trunc.test. TXT", "BIG.trunc.test. ANY", "mx.trunc.test. MX", "www.deleg.trunc.test. A",
	"geo.gslb.example.test. A", "Geo.GSLB.example.test. AAAA", "failover.gslb.example.test. A",
	"sticky.gslb.example.test. A", "multi.gslb.example.test. A", "cdn.gslb.example.test. A",
	"edge1.gslb.example.test. A", "all.gslb.example.test. A", "nope.gslb.example.test. A",
	"leastload.gslb.example.test. A",
}

// cacheVariants dress a question as resolvers send it.
var cacheVariants = []struct {
	name string
	edns bool
	size uint16
	do   bool
	opts func() []dns.EDNS0
}{
	{name: "plain"},
	{name: "EDNS 4096 DO", edns: true, size: 4096, do: true},
	{name: "EDNS 512", edns: true, size: 512},
	{name: "EDNS 1232 cookie", edns: true, size: 1232, opts: func() []dns.EDNS0 {
		return []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}
	}},
	{name: "ECS v4 /24", edns: true, size: 1232, opts: func() []dns.EDNS0 { return []dns.EDNS0{ecsOf("2.2.3.0/24")} }},
	{name: "ECS v4 /22 US", edns: true, size: 1232, do: true, opts: func() []dns.EDNS0 { return []dns.EDNS0{ecsOf("214.78.120.0/22")} }},
	{name: "ECS v4 /32", edns: true, size: 1232, opts: func() []dns.EDNS0 { return []dns.EDNS0{ecsOf("175.16.199.7/32")} }},
	{name: "ECS v6 /48", edns: true, size: 1232, opts: func() []dns.EDNS0 { return []dns.EDNS0{ecsOf("2001:218::/48")} }},
	{name: "ECS private", edns: true, size: 1232, opts: func() []dns.EDNS0 { return []dns.EDNS0{ecsOf("10.1.2.0/24")} }},
	{name: "ECS /0", edns: true, size: 1232, opts: func() []dns.EDNS0 { return []dns.EDNS0{ecsOf("0.0.0.0/0")} }},
	{name: "ECS and cookie", edns: true, size: 1400, opts: func() []dns.EDNS0 {
		return []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}, ecsOf("81.2.69.0/24")}
	}},
}

func ecsOf(cidr string) *dns.EDNS0_SUBNET { return ecsOption(netip.MustParsePrefix(cidr)) }

// cacheSnapshot serves the static zones of the handler tests and the
// preset services with the test GeoIP database.
func cacheSnapshot(t testing.TB) *Snapshot {
	st := presetState(t)
	for _, z := range []struct{ origin, text string }{
		{"example.test.", exampleZone}, {"child.example.test.", childZone}, {"other.test.", otherZone},
		{"trunc.test.", truncZone()},
	} {
		st.Zones = append(st.Zones, zoneOf(t, z.origin, z.text))
	}
	multi := model.Service{Name: "multi.gslb.example.test.", Type: "A"}
	for i := range 8 {
		multi.Endpoints = append(multi.Endpoints, model.Endpoint{Datacenter: testDCs[i%4].Name,
			Address: fmt.Sprintf("198.51.100.%d", i+1), ForceDown: i%3 == 1})
	}
	st.Services = append(st.Services, multi)
	return buildState(t, st, openDB(t, testDB))
}

func variantPacket(t testing.TB, q string, v int, id uint16, rd bool) []byte {
	m := question(t, q)
	m.Id, m.RecursionDesired = id, rd
	cv := cacheVariants[v]
	if cv.edns {
		var opts []dns.EDNS0
		if cv.opts != nil {
			opts = cv.opts()
		}
		withOPT(m, cv.size, cv.do, 0, opts...)
	}
	return packed(t, m)
}

// TestCacheMatchesFullPath: for every question, dressed every way, over
// UDP and TCP, from clients on several continents, the answer served from
// the cache is the answer computed afresh, octet for octet; and a cached
// answer is served to queries that differ in ID, RD, letter case and ECS
// address bits.
func TestCacheMatchesFullPath(t *testing.T) {
	p := newCachePair(cacheSnapshot(t))
	srcs := []netip.Addr{serviceBenchSrc, netip.MustParseAddr("214.78.120.9"), netip.MustParseAddr("2001:218::5"), netip.MustParseAddr("127.0.0.1")}
	var checks, hits int
	for _, q := range cacheQueries {
		for v := range cacheVariants {
			for _, tcp := range []bool{false, true} {
				for i, src := range srcs {
					raw := variantPacket(t, q, v, uint16(1000+i), i%2 == 0)
					checks++
					if p.check(t, fmt.Sprintf("%s %s from %s", q, cacheVariants[v].name, src), raw, tcp, src) {
						hits++
					}
				}
			}
		}
	}
	t.Logf("%d checks, %d answered from the cache the second time, %d by the fast path, %d answers cached",
		checks, hits, p.fastHits.Load(), p.on.cur.Load().answers().Len())
	if hits < checks*3/4 {
		t.Errorf("only %d of %d second queries were cache hits", hits, checks)
	}
	if p.fastHits.Load() < int64(checks)/2 {
		t.Errorf("only %d of %d queries were answered by the fast path", p.fastHits.Load(), checks)
	}

	// A warm cache answers other spellings of the same question.
	for _, c := range []struct{ warm, other string }{
		{"www.example.test. A", "WWW.EXAMPLE.TEST. A"},
		{"geo.gslb.example.test. A", "gEo.gSlB.eXaMpLe.TeSt. A"},
		{"alias.example.test. A", "ALIAS.example.test. A"},
		{"foo.wild.example.test. A", "FOO.WILD.example.test. A"},
		{"big.trunc.test. TXT", "Big.trunC.test. TXT"}, // truncated: sizes must not depend on case
		{"mx.trunc.test. MX", "MX.TRUNC.TEST. MX"},
	} {
		for v := range cacheVariants {
			serveRaw(handler{s: p.on}, variantPacket(t, c.warm, v, 1, true), serviceBenchSrc)
			if !p.checkWarm(t, c.other, variantPacket(t, c.other, v, 4242, false), serviceBenchSrc) {
				t.Errorf("%s after %s (%s) was not a cache hit", c.other, c.warm, cacheVariants[v].name)
			}
		}
	}
	// Another client in the same ECS network: the same cached answer,
	// its own address bits echoed.
	for _, ecs := range []string{"2.2.3.0/24", "2.2.3.128/25", "214.78.120.0/22", "214.78.121.0/24", "2001:218::/48", "2001:218:0:1::/64"} {
		m := ecsQuery(t, "geo.gslb.example.test. A", ecs)
		p.checkWarm(t, "geo "+ecs, packed(t, m), serviceBenchSrc)
	}
}

// checkWarm serves raw once to each server and compares, reporting
// whether the cached server answered from its cache.
func (p cachePair) checkWarm(t *testing.T, name string, raw []byte, src netip.Addr) bool {
	t.Helper()
	hits := p.on.Stats().CacheHits
	off := serveRaw(handler{s: p.off}, raw, src)
	on := serveRaw(handler{s: p.on}, raw, src)
	if !bytes.Equal(on, off) {
		t.Errorf("%s: cached path differs:\n%s", name, diffMsgs(on, off))
	}
	hit := p.on.Stats().CacheHits > hits
	p.checkFast(t, name, raw, false, src, off)
	return hit
}

// TestCacheSkipsRandomAnswers: weighted and roundrobin answers are drawn
// per query and never cached.
func TestCacheSkipsRandomAnswers(t *testing.T) {
	p := newCachePair(cacheSnapshot(t))
	for _, q := range []string{"weighted.gslb.example.test. A", "roundrobin.gslb.example.test. A"} {
		for range 20 {
			serveRaw(handler{s: p.on}, queryPacket(t, 1, q), serviceBenchSrc)
		}
	}
	if n := p.on.cur.Load().answers().Len(); n != 0 || p.on.Stats().CacheHits != 0 {
		t.Fatalf("random answers cached: %d entries, %d hits", n, p.on.Stats().CacheHits)
	}
}

// TestCacheOverSockets compares the cached and uncached servers over real
// UDP and TCP sockets, as a resolver sees them.
func TestCacheOverSockets(t *testing.T) {
	snap := cacheSnapshot(t)
	on := startServer(t, Config{}, snap)
	off := startServer(t, Config{AnswerCacheSize: -1}, snap)
	for _, q := range cacheQueries {
		for v := range cacheVariants {
			raw := variantPacket(t, q, v, 77, true)
			for _, network := range []string{"udp", "tcp"} {
				want := rawExchange(t, network, addr(t, off), raw)
				for range 2 {
					if got := rawExchange(t, network, addr(t, on), raw); !bytes.Equal(got, want) {
						t.Fatalf("%s %s over %s:\n%s", q, cacheVariants[v].name, network, diffMsgs(got, want))
					}
				}
			}
		}
	}
	st := on.Stats()
	if st.CacheHits == 0 || st.FastPath == 0 {
		t.Fatalf("no query was answered from the cache, or none by the fast path: %+v", st)
	}
	t.Logf("%d queries: %d from the cache, %d of them by the fast path over UDP", st.Queries, st.CacheHits, st.FastPath)
}

// rawExchange sends raw to address and returns the response's octets.
func rawExchange(t *testing.T, network, address string, raw []byte) []byte {
	t.Helper()
	c, err := net.DialTimeout(network, address, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if network == "udp" {
		if _, err := c.Write(raw); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf[:n]
	}
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(raw)))
	if _, err := c.Write(append(msg, raw...)); err != nil {
		t.Fatal(err)
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return buf
}

// TestCacheNoStaleAnswer swaps snapshots whose answers differ while
// clients query over UDP: a query sent after Swap returned never gets an
// answer of an earlier snapshot, from the cache or otherwise.
func TestCacheNoStaleAnswer(t *testing.T) {
	snapN := func(n int) *Snapshot {
		return snapshotOf(t, "example.test.", strings.Replace(exampleZone,
			"www        IN A    192.0.2.1", fmt.Sprintf("www        IN A    10.0.%d.%d", n/256, n%256), 1))
	}
	s := startServer(t, Config{}, snapN(0))
	a := addr(t, s)
	var swapped atomic.Int64 // the last generation whose Swap returned
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
			q := question(t, "www.example.test. A")
			if g%2 == 1 {
				withOPT(q, 1232, false, 0, ecsOf("2.2.3.0/24"))
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := swapped.Load()
				r, _, err := c.Exchange(q, a)
				if err != nil {
					errs <- err
					return
				}
				got := -1
				for _, rr := range r.Answer {
					if rec, ok := rr.(*dns.A); ok && rec.A.To4()[0] == 10 {
						got = int(rec.A.To4()[2])*256 + int(rec.A.To4()[3])
					}
				}
				if int64(got) < before {
					errs <- fmt.Errorf("stale answer: generation %d, but %d was swapped in before the query", got, before)
					return
				}
			}
		}()
	}
	for n := 1; n <= 200; n++ {
		s.Swap(snapN(n))
		swapped.Store(int64(n))
		// The server's own view, right after the swap.
		r := exchange(t, "udp", a, question(t, "www.example.test. A"))
		if len(r.Answer) != 2 || !strings.Contains(r.Answer[0].String()+r.Answer[1].String(), fmt.Sprintf("10.0.%d.%d", n/256, n%256)) {
			t.Fatalf("after swap %d: %v", n, r.Answer)
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if s.Stats().CacheHits == 0 {
		t.Error("no cache hits: the test did not exercise the cache")
	}
	t.Logf("%d queries, %d from the cache", s.Stats().Queries, s.Stats().CacheHits)
}

// FuzzCache compares the cached and the uncached paths on arbitrary
// packets over both transports: the response to every packet, first seen
// or answered from the cache, is the same octet for octet.
func FuzzCache(f *testing.F) {
	for _, q := range cacheQueries {
		for v := range cacheVariants {
			f.Add(variantPacket(f, q, v, 7, v%2 == 0), byte(v))
		}
	}
	p := newCachePair(cacheSnapshot(f))
	srcs := []netip.Addr{serviceBenchSrc, netip.MustParseAddr("214.78.120.9"), netip.MustParseAddr("2001:218::5"), netip.MustParseAddr("127.0.0.1")}
	f.Fuzz(func(t *testing.T, raw []byte, client byte) {
		src := srcs[int(client)%len(srcs)]
		for _, tcp := range []bool{false, true} {
			// Warm the cache with the question in lower case, as another
			// resolver would ask it, then compare.
			var req dns.Msg
			if req.Unpack(raw) == nil && len(req.Question) == 1 {
				req.Question[0].Name = strings.ToLower(req.Question[0].Name)
				if lower, err := req.Pack(); err == nil {
					serveRaw(handler{s: p.on, tcp: tcp}, lower, src)
				}
			}
			p.check(t, fmt.Sprintf("%x", raw), raw, tcp, src)
		}
	})
}

// TestFastPathBatches sends a burst of queries at once, so that the
// batched reader (recvmmsg) gets several per call: cache hits answered
// in the batch and misses handed to dns.Server, interleaved; every query
// gets its own answer.
func TestFastPathBatches(t *testing.T) {
	s := startServer(t, Config{}, exampleSnapshot(t))
	a := addr(t, s)
	exchange(t, "udp", a, question(t, "www.example.test. A")) // cache www
	const n = 200
	qs := make([]*dns.Msg, n)
	for i := range qs {
		if i%2 == 0 {
			qs[i] = question(t, "www.example.test. A")
		} else {
			qs[i] = question(t, fmt.Sprintf("miss%d.example.test. A", i)) // a new name: a miss
		}
		qs[i].Id = uint16(i + 1)
	}
	got := udpFrom(t, "127.0.0.1", a, qs, 2*time.Second)
	if len(got) != n {
		t.Fatalf("%d of %d answered", len(got), n)
	}
	seen := map[uint16]bool{}
	for _, m := range got {
		i := int(m.Id) - 1
		if i < 0 || i >= n || seen[m.Id] {
			t.Fatalf("unexpected or repeated ID %d", m.Id)
		}
		seen[m.Id] = true
		if m.Question[0].Name != qs[i].Question[0].Name {
			t.Fatalf("ID %d answers %s, asked %s", m.Id, m.Question[0].Name, qs[i].Question[0].Name)
		}
		if want := map[bool]int{true: dns.RcodeSuccess, false: dns.RcodeNameError}[i%2 == 0]; m.Rcode != want {
			t.Fatalf("ID %d: %s", m.Id, dns.RcodeToString[m.Rcode])
		}
	}
	if st := s.Stats(); st.FastPath < n/2 {
		t.Errorf("%d fast-path answers, want at least %d", st.FastPath, n/2)
	}
}
