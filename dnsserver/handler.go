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
	writeFailed atomic.Uint64
	rrlDropped, rrlSlipped, tcpRefused atomic.Uint64
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
	}
}

// response counts one response of the handler.
func (c *counters) response(m *dns.Msg, tcp bool) {
	c.queries.Add(1)
	if tcp {
		c.tcp.Add(1)
	} else {
		c.udp.Add(1)
	}
	if m.Truncated {
		c.truncated.Add(1)
	}
	switch m.Rcode {
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
// (with its metrics rows), no locks, no logging.
func (h handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	cur := h.s.cur.Load()
	if cur.stats != nil {
		h.serveCounted(w, req, cur)
		return
	}
	src := remoteAddr(w)
	m := cur.snap.answer(req, h.tcp, src)
	h.s.stats.response(m, h.tcp)
	if h.limited(src, m) {
		return
	}
	h.write(w, m)
}

// limited applies response rate limiting to a UDP response: true when m
// is to be dropped; a slipped m is made truncated.
func (h handler) limited(src netip.Addr, m *dns.Msg) bool {
	if h.tcp || h.s.rrl == nil {
		return false
	}
	switch h.s.rrl.decide(src, m) {
	case rrlDrop:
		h.s.stats.rrlDropped.Add(1)
		return true
	case rrlSlip:
		h.s.stats.rrlSlipped.Add(1)
		slipped(m)
	}
	return false
}

// serveCounted is ServeDNS with Metrics: the answer counts itself into
// the snapshot's rows, and one query in latencySample is timed.
func (h handler) serveCounted(w dns.ResponseWriter, req *dns.Msg, cur *served) {
	timed := rand.Uint32()%latencySample == 0
	var start time.Time
	if timed {
		start = time.Now()
	}
	src := remoteAddr(w)
	m := cur.snap.respond(req, h.tcp, src, nil, cur.stats)
	h.s.stats.response(m, h.tcp)
	if h.limited(src, m) {
		return
	}
	h.write(w, m)
	if timed {
		cur.stats.m.latency.Observe(time.Since(start).Seconds())
	}
}

func (h handler) write(w dns.ResponseWriter, m *dns.Msg) {
	if err := w.WriteMsg(m); err != nil {
		h.s.stats.writeFailed.Add(1) // the client is gone; nothing else to do
	}
}
