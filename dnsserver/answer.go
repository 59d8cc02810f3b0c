package dnsserver

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// EDNS(0) and message sizes.
const (
	// ednsUDPSize is the UDP payload size we advertise and the most we send
	// over UDP: the DNS Flag Day 2020 value, which avoids IP fragmentation.
	ednsUDPSize = 1232
)

// answer is the handler's core, without sockets: the complete response to
// req from the resolver at src, received over TCP when tcp is set,
// truncated to what the transport and the client allow. A nil snapshot
// refuses every query. It only reads the snapshot (a roundrobin step's
// counter aside); the response's slices are its own.
func (s *Snapshot) answer(req *dns.Msg, tcp bool, src netip.Addr) *dns.Msg {
	return s.respond(req, tcp, src, nil, nil)
}

// respond is answer, recording what it does into tr when tr is not nil
// (Explain), and counting the response into st when st is not nil (the
// server's Metrics: st holds this snapshot's counters).
func (s *Snapshot) respond(req *dns.Msg, tcp bool, src netip.Addr, tr *trace, st *snapStats) *dns.Msg {
	var q query
	q.src, q.tr, q.st = src.Unmap(), tr, st
	return s.respondQ(req, tcp, &q)
}

// respondQ is respond with the query state made by the caller (src, tr,
// st and rec set), which it leaves as the decision left it.
func (s *Snapshot) respondQ(req *dns.Msg, tcp bool, q *query) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Compress = true
	s.fill(m, req, tcp, q)
	if q.st != nil {
		q.st.count(req, m, tcp, q)
	}
	return m
}

// fill makes m the response to req.
func (s *Snapshot) fill(m, req *dns.Msg, tcp bool, q *query) {
	tr := q.tr
	opt, nopt := requestOPT(req)
	if len(req.Question) != 1 || nopt > 1 {
		// RFC 6891 section 6.1.1: more than one OPT is a format error.
		m.Rcode = dns.RcodeFormatError
		tr.note(kindFormErr, "not exactly one question, or more than one OPT")
		tr.finish(s, q, m)
		return
	}
	var ropt *dns.OPT
	var edns *ednsReply
	if opt != nil {
		edns = new(ednsReply)
		ropt = &edns.opt
		ropt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}
		ropt.SetUDPSize(ednsUDPSize)
		ropt.SetDo(opt.Do())
		if opt.Version() != 0 {
			// RFC 6891 section 6.1.3: BADVERS, with an OPT of our version.
			m.Rcode = dns.RcodeBadVers
			m.Extra = append(m.Extra, ropt)
			tr.note(kindFormErr, "EDNS version not 0: BADVERS")
			tr.finish(s, q, m)
			return
		}
		if !q.parseECS(opt) {
			// RFC 7871 section 7.1.1 (malformed ECS) and 6 (address bits
			// beyond the source prefix): FORMERR, without ECS.
			m.Rcode = dns.RcodeFormatError
			m.Extra = append(m.Extra, ropt)
			tr.note(kindFormErr, "malformed EDNS Client Subnet option")
			tr.finish(s, q, m)
			return
		}
	}

	qn := req.Question[0]
	switch {
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
		tr.note(kindNotImp, "opcode not QUERY")
	case qn.Qclass != dns.ClassINET || s == nil:
		// Only class IN is served; CH (version.bind and friends) is
		// refused. A server without a snapshot refuses everything.
		m.Rcode = dns.RcodeRefused
		tr.note(kindRefused, "class not IN, or no snapshot")
	case qn.Qtype == dns.TypeAXFR || qn.Qtype == dns.TypeIXFR:
		m.Rcode = dns.RcodeRefused // zone transfers are not offered
		tr.note(kindRefused, "zone transfers are not offered")
	default:
		name := strings.ToLower(qn.Name) // allocates only for upper case
		if z := s.zoneFor(name, qn.Qtype); z != nil {
			tr.zone(z.apex)
			q.zone = z
			s.resolve(m, z, name, qn.Qtype, q)
		} else {
			m.Rcode = dns.RcodeRefused
			tr.note(kindRefused, "not in a served zone")
		}
	}

	if len(m.Answer) == 0 {
		q.scope = 0 // negative answers and referrals do not depend on the client
	}
	if ropt != nil {
		if q.ecs != nil {
			// RFC 7871 section 7.2.1: echo family, source prefix and
			// address, with the scope the answer depended on.
			q.ecsEcho(&edns.ecs)
			edns.options[0] = &edns.ecs
			ropt.Option = edns.options[:1:1]
		}
		if m.Extra == nil {
			m.Extra = edns.extra[:0:1]
		}
		m.Extra = append(m.Extra, ropt)
	}
	// Sizes are measured as the response is packed (wire.go): with the
	// question in lower case, which the answer's names compress against.
	qname := m.Question[0].Name
	m.Question[0].Name = strings.ToLower(qname) // allocates only for upper case
	if tcp {
		truncate(m, dns.MaxMsgSize)
	} else {
		truncate(m, udpSize(opt))
	}
	m.Question[0].Name = qname
	// Truncate turns compression off for a message that fits without it;
	// compress anyway, as other authoritative servers do: answers are
	// smaller (a name repeated in each record of an RRset is two octets)
	// and can only shrink.
	m.Compress = true
	tr.finish(s, q, m)
}

// ednsReply is the EDNS part of a response in one allocation: the OPT,
// its ECS option, and room for the additional section when the answer
// has no other additional data.
type ednsReply struct {
	opt     dns.OPT
	ecs     dns.EDNS0_SUBNET
	options [1]dns.EDNS0
	extra   [1]dns.RR
}

// requestOPT returns the request's OPT record and how many it has.
func requestOPT(req *dns.Msg) (*dns.OPT, int) {
	var opt *dns.OPT
	n := 0
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			opt = o
			n++
		}
	}
	return opt, n
}

// udpSize is the largest UDP response the client takes: 512 octets without
// EDNS, else its advertised size, at least 512 and at most our own.
func udpSize(opt *dns.OPT) int {
	if opt == nil {
		return udpLimit(false, 0)
	}
	return udpLimit(true, opt.UDPSize())
}

// udpLimit is udpSize for a query with EDNS or not, advertising size.
func udpLimit(edns bool, size uint16) int {
	if !edns {
		return dns.MinMsgSize
	}
	return min(max(int(size), dns.MinMsgSize), ednsUDPSize)
}

// truncate makes m fit size octets. TC is set when records of the answer
// or authority section, or the glue of a referral, had to go; dropping
// other additional data does not set it (RFC 2181 section 9).
func truncate(m *dns.Msg, size int) {
	answers, auth := len(m.Answer), len(m.Ns)
	referral := len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeNS
	wasTC := m.Truncated
	m.Truncate(size)
	if m.Truncated && !wasTC && !referral && len(m.Answer) == answers && len(m.Ns) == auth {
		m.Truncated = false
	}
}
