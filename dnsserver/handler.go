package dnsserver

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Stats are the server's counters since New. Queries counts the messages
// that reached the handler (UDP and TCP split them by transport); the rcode
// counters count responses, including those to messages rejected before
// the handler; Dropped counts messages not answered at all (too short to
// have a header, or with the QR bit set).
type Stats struct {
	Queries   uint64
	UDP       uint64
	TCP       uint64
	Truncated uint64
	Refused   uint64
	NXDomain  uint64
	FormErr   uint64
	NotImp    uint64
	Dropped   uint64
	// RRLDropped and RRLSlipped count UDP responses response rate
	// limiting dropped or sent truncated instead (they are in Queries
	// too); TCPRefused counts TCP connections closed over a limit.
	RRLDropped uint64
	RRLSlipped uint64
	TCPRefused uint64
	// CacheHits counts the queries answered from the answer cache
	// (they are in Queries too), FastPath those of them the fast path
	// answered without unpacking them.
	CacheHits uint64
	FastPath  uint64
}

// counters are a Server's Stats, and what Metrics reads of it at scrape
// time: messages answered or dropped before the handler are kept apart,
// by transport and reason, for the metrics' labels.
type counters struct {
	queries, udp, tcp, truncated, refused, nxdomain, formErr, notImp atomic.Uint64
	// rejectFormErr and rejectNotImp count the messages dns.Server
	// answered itself, by transport (transportIndex).
	rejectFormErr, rejectNotImp [len(transports)]atomic.Uint64
	droppedShort, droppedQR     atomic.Uint64
	// writeFailed counts responses WriteMsg could not send (not in Stats).
	writeFailed                                             atomic.Uint64
	rrlDropped, rrlSlipped, tcpRefused, cacheHits, fastPath atomic.Uint64
}

func (c *counters) load() Stats {
	return Stats{
		Queries:   c.queries.Load(),
		UDP:       c.udp.Load(),
		TCP:       c.tcp.Load(),
		Truncated: c.truncated.Load(),
		Refused:   c.refused.Load(),
		NXDomain:  c.nxdomain.Load(),
		FormErr:   c.formErr.Load() + c.rejectFormErr[0].Load() + c.rejectFormErr[1].Load(),
		NotImp:    c.notImp.Load() + c.rejectNotImp[0].Load() + c.rejectNotImp[1].Load(),
		Dropped:   c.droppedShort.Load() + c.droppedQR.Load(),

		RRLDropped: c.rrlDropped.Load(),
		RRLSlipped: c.rrlSlipped.Load(),
		TCPRefused: c.tcpRefused.Load(),
		CacheHits:  c.cacheHits.Load(),
		FastPath:   c.fastPath.Load(),
	}
}

// response counts one response of the handler.
func (c *counters) response(m *dns.Msg, tcp bool) { c.responseCode(m.Rcode, m.Truncated, tcp) }

// responseCode counts one response with rcode and TC bit.
func (c *counters) responseCode(rcode int, truncated, tcp bool) {
	c.queries.Add(1)
	if tcp {
		c.tcp.Add(1)
	} else {
		c.udp.Add(1)
	}
	if truncated {
		c.truncated.Add(1)
	}
	switch rcode {
	case dns.RcodeRefused:
		c.refused.Add(1)
	case dns.RcodeNameError:
		c.nxdomain.Add(1)
	case dns.RcodeFormatError:
		c.formErr.Add(1)
	case dns.RcodeNotImplemented:
		c.notImp.Add(1)
	}
}

// Bits of the DNS header: QR in the 16-bit flags word, the rest in its
// octets (octet 2: QR, opcode, AA, TC, RD; octet 3: RA, Z, AD, CD, rcode).
const (
	headerQR = 1 << 15
	octet2TC = 0x02
	octet3RA = 0x80
	octet3AD = 0x20
)

// scrubHeader clears, in a packed response, the header bits this server
// never sets but dns.Server copies from the query into its own FORMERR and
// NOTIMP responses to rejected messages: RA and AD always, TC on FORMERR
// and NOTIMP (which carry no records to truncate).
func scrubHeader(b []byte) {
	if len(b) < 4 {
		return
	}
	b[3] &^= octet3RA | octet3AD
	if rc := int(b[3] & 0x0F); rc == dns.RcodeFormatError || rc == dns.RcodeNotImplemented {
		b[2] &^= octet2TC
	}
}

// scrubWriter applies scrubHeader to everything a dns.Server writes.
type scrubWriter struct{ dns.Writer }

func (w scrubWriter) Write(b []byte) (int, error) {
	scrubHeader(b)
	return w.Writer.Write(b)
}

// acceptAction decides, from the header alone, what happens to a message
// before it is parsed: responses (QR set) are dropped, so that we never
// answer an answer; opcodes other than QUERY (NOTIFY and UPDATE included)
// get NOTIMP; anything but exactly one question, or sections no query has
// (more than one answer or authority record, more than OPT and TSIG in the
// additional section) get FORMERR.
func acceptAction(h dns.Header) dns.MsgAcceptAction {
	if h.Bits&headerQR != 0 {
		return dns.MsgIgnore
	}
	if opcode := int(h.Bits>>11) & 0xF; opcode != dns.OpcodeQuery {
		return dns.MsgRejectNotImplemented
	}
	if h.Qdcount != 1 || h.Ancount > 1 || h.Nscount > 1 || h.Arcount > 2 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// accept returns the MsgAcceptFunc of one transport's dns.Server:
// acceptAction, counted.
func (c *counters) accept(tcp bool) dns.MsgAcceptFunc {
	tr := transportIndex(tcp)
	return func(h dns.Header) dns.MsgAcceptAction {
		a := acceptAction(h)
		switch a {
		case dns.MsgIgnore:
			c.droppedQR.Add(1)
		case dns.MsgReject:
			c.rejectFormErr[tr].Add(1)
		case dns.MsgRejectNotImplemented:
			c.rejectNotImp[tr].Add(1)
		}
		return a
	}
}

// invalid returns the MsgInvalidFunc of one transport's dns.Server. A
// message shorter than a header is dropped; one that does not parse is
// answered FORMERR by dns.Server.
func (c *counters) invalid(tcp bool) dns.MsgInvalidFunc {
	tr := transportIndex(tcp)
	return func(m []byte, _ error) {
		if len(m) < 12 {
			c.droppedShort.Add(1)
		} else {
			c.rejectFormErr[tr].Add(1)
		}
	}
}

// remoteAddr is the resolver's address, IPv4-mapped addresses unmapped.
func remoteAddr(w dns.ResponseWriter) netip.Addr {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// handler serves one transport of a Server.
type handler struct {
	s   *Server
	tcp bool
}

// ServeDNS answers one parsed query: one atomic load of the snapshot
// (with its metrics rows and answer cache), no locks but the cache's
// read locks, no logging. A cached response is patched and sent
// (serveCached); otherwise the answer is decided, packed, cached when it
// may be, and sent (serveFull).
func (h handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	cur := h.s.cur.Load()
	timed := cur.stats != nil && rand.Uint32()%latencySample == 0
	var start time.Time
	if timed {
		start = time.Now()
	}
	src := remoteAddr(w)
	if !h.serveCached(w, req, cur, src) {
		h.serveFull(w, req, cur, src)
	}
	if timed {
		cur.stats.m.latency.Observe(time.Since(start).Seconds())
	}
}

// cacheable reports whether req is a query the answer cache may hold,
// before its answer is known: one question, opcode QUERY, at most one
// OPT, of EDNS version 0. It returns the OPT.
func cacheable(req *dns.Msg) (*dns.OPT, bool) {
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		return nil, false
	}
	opt, n := requestOPT(req)
	if n > 1 || opt != nil && opt.Version() != 0 {
		return nil, false
	}
	return opt, true
}

// serveCached answers req from the answer cache, if it holds the answer:
// it reports false, having sent nothing, when it does not.
func (h handler) serveCached(w dns.ResponseWriter, req *dns.Msg, cur *served, src netip.Addr) bool {
	c := cur.answers()
	if c == nil {
		return false
	}
	opt, ok := cacheable(req)
	if !ok {
		return false
	}
	var q query
	q.src = src.Unmap()
	if opt != nil && !q.parseECS(opt) {
		return false
	}
	q.client()
	var k cacheKey
	if !k.base(req, opt, h.tcp, &q) {
		return false
	}
	e := c.lookup(&k, q.addr)
	if e == nil {
		return false
	}
	switch h.s.countHit(cur, e, src, h.tcp) {
	case rrlDrop:
		return true
	case rrlSlip:
		m := cur.snap.answer(req, h.tcp, src)
		slipped(m)
		h.writeMsg(w, m)
		return true
	}
	var addr [16]byte
	n := ecsAddr(&q, &addr)
	if n != e.ecsLen {
		n = 0 // cannot happen: the key holds the ECS source prefix
	}
	buf := packBuf.Get().(*[]byte)
	b := append((*buf)[:0], e.wire...)
	patchReply(b, req.Id, req.RecursionDesired, req.CheckingDisabled, req.Question[0].Name, addr[:n])
	h.writeBytes(w, b)
	*buf = b[:0]
	packBuf.Put(buf)
	return true
}

// countHit counts a response e from the cache to src, as the full path
// counts its answers, and applies rate limiting: rrlSend, or rrlDrop or
// rrlSlip when the response is limited.
func (s *Server) countHit(cur *served, e *cachedAnswer, src netip.Addr, tcp bool) rrlAction {
	s.stats.cacheHits.Add(1)
	s.stats.responseCode(e.rcode, e.truncated, tcp)
	if cur.stats != nil {
		e.rec.replay(transportIndex(tcp))
	}
	if tcp || s.rrl == nil {
		return rrlSend
	}
	a := s.rrl.decideKey(s.rrl.keyOf(src, e.rrlClass, e.rrlName, e.qtype))
	switch a {
	case rrlDrop:
		s.stats.rrlDropped.Add(1)
	case rrlSlip:
		s.stats.rrlSlipped.Add(1)
	}
	return a
}

// serveFull decides the answer to req, caches it when it may, and sends
// it, subject to rate limiting.
func (h handler) serveFull(w dns.ResponseWriter, req *dns.Msg, cur *served, src netip.Addr) {
	opt, cache := cacheable(req)
	var c *answerCache
	if cache {
		c = cur.answers()
		cache = c != nil
	}
	var q query
	q.src, q.st = src.Unmap(), cur.stats
	if cache && cur.stats != nil {
		q.rec = new(countRecord)
	}
	m := cur.snap.respondQ(req, h.tcp, &q)
	h.s.stats.response(m, h.tcp)

	buf := packBuf.Get().(*[]byte)
	defer packBuf.Put(buf)
	qname := ""
	if len(m.Question) == 1 {
		qname = m.Question[0].Name
	}
	b, ok := packReply(m, qname, (*buf)[:0])
	if !ok {
		h.writeMsg(w, m) // does not pack either: counted as failed
		return
	}
	*buf = b[:0]
	if cache && !q.random && m.Rcode != dns.RcodeFormatError {
		// Only if the Locator did not change while deciding: the answer
		// may come from either database.
		if g, _ := cur.snap.locatorGeneration(); g == c.gen {
			h.store(c, req, opt, m, b, &q)
		}
	}
	switch h.rateLimit(src, m) {
	case rrlDrop:
		return
	case rrlSlip:
		h.writeMsg(w, m)
		return
	}
	h.writeBytes(w, b)
}

// store caches b, the packed response m to req, under the key of what
// the decision in q depended on.
func (h handler) store(c *answerCache, req *dns.Msg, opt *dns.OPT, m *dns.Msg, b []byte, q *query) {
	if c.size.Load() >= c.limit {
		return
	}
	q.client()
	var k cacheKey
	if !k.base(req, opt, h.tcp, q) || !k.withClient(q.dep, q.addr) {
		return
	}
	var addr [16]byte
	e := &cachedAnswer{
		wire: append([]byte(nil), b...), ecsLen: ecsAddr(q, &addr),
		rcode: m.Rcode, truncated: m.Truncated, qtype: req.Question[0].Qtype,
	}
	e.qEnd = 12 + len(req.Question[0].Name) + 1 + 4 // a plain name: its wire form is one octet longer
	if req.Question[0].Name == "." {
		e.qEnd = 12 + 1 + 4
	}
	if ropt := m.IsEdns0(); ropt == nil {
		e.ecsLen = 0
	} else {
		e.optLen = 11
		if len(ropt.Option) == 0 {
			e.ecsLen = 0 // no ECS echoed (BADVERS, FORMERR)
		} else {
			e.optLen += 8 + e.ecsLen
		}
	}
	e.rrlClass, e.rrlName = classify(m)
	if q.rec != nil {
		e.rec = *q.rec
	}
	c.put(&k, q.dep, e)
}

// rateLimit applies response rate limiting to a UDP response: rrlDrop
// when m is not to be sent, rrlSlip when m has been made the truncated
// response to send instead.
func (h handler) rateLimit(src netip.Addr, m *dns.Msg) rrlAction {
	if h.tcp || h.s.rrl == nil {
		return rrlSend
	}
	a := h.s.rrl.decide(src, m)
	switch a {
	case rrlDrop:
		h.s.stats.rrlDropped.Add(1)
	case rrlSlip:
		h.s.stats.rrlSlipped.Add(1)
		slipped(m)
	}
	return a
}

func (h handler) writeMsg(w dns.ResponseWriter, m *dns.Msg) {
	if err := w.WriteMsg(m); err != nil {
		h.s.stats.writeFailed.Add(1) // the client is gone; nothing else to do
	}
}

func (h handler) writeBytes(w dns.ResponseWriter, b []byte) {
	if _, err := w.Write(b); err != nil {
		h.s.stats.writeFailed.Add(1)
	}
}
