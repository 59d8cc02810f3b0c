package dnsserver

import (
	"net"
	"net/netip"
	"sync/atomic"

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
}

type counters struct {
	queries, udp, tcp, truncated, refused, nxdomain, formErr, notImp, dropped atomic.Uint64
}

func (c *counters) load() Stats {
	return Stats{
		Queries:   c.queries.Load(),
		UDP:       c.udp.Load(),
		TCP:       c.tcp.Load(),
		Truncated: c.truncated.Load(),
		Refused:   c.refused.Load(),
		NXDomain:  c.nxdomain.Load(),
		FormErr:   c.formErr.Load(),
		NotImp:    c.notImp.Load(),
		Dropped:   c.dropped.Load(),
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

// accept is the dns.Server's MsgAcceptFunc: acceptAction, counted.
func (c *counters) accept(h dns.Header) dns.MsgAcceptAction {
	a := acceptAction(h)
	switch a {
	case dns.MsgIgnore:
		c.dropped.Add(1)
	case dns.MsgReject:
		c.formErr.Add(1)
	case dns.MsgRejectNotImplemented:
		c.notImp.Add(1)
	}
	return a
}

// invalid is the dns.Server's MsgInvalidFunc. A message shorter than a
// header is dropped; one that does not parse is answered FORMERR by
// dns.Server.
func (c *counters) invalid(m []byte, _ error) {
	if len(m) < 12 {
		c.dropped.Add(1)
	} else {
		c.formErr.Add(1)
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

// ServeDNS answers one parsed query: one atomic load of the snapshot, no
// locks, no logging.
func (h handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := h.s.snap.Load().answer(req, h.tcp, remoteAddr(w))
	h.s.stats.response(m, h.tcp)
	_ = w.WriteMsg(m) // the client is gone; nothing to do
}
