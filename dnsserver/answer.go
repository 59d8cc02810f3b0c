package dnsserver

import (
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
// req, received over TCP when tcp is set, truncated to what the transport
// and the client allow. A nil snapshot refuses every query. It only reads
// the snapshot; the response's slices are its own.
func (s *Snapshot) answer(req *dns.Msg, tcp bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Compress = true

	opt, nopt := requestOPT(req)
	if len(req.Question) != 1 || nopt > 1 {
		// RFC 6891 section 6.1.1: more than one OPT is a format error.
		m.Rcode = dns.RcodeFormatError
		return m
	}
	var ropt *dns.OPT
	if opt != nil {
		ropt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		ropt.SetUDPSize(ednsUDPSize)
		ropt.SetDo(opt.Do())
		if opt.Version() != 0 {
			// RFC 6891 section 6.1.3: BADVERS, with an OPT of our version.
			m.Rcode = dns.RcodeBadVers
			m.Extra = append(m.Extra, ropt)
			return m
		}
	}

	q := req.Question[0]
	switch {
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case q.Qclass != dns.ClassINET || s == nil:
		// Only class IN is served; CH (version.bind and friends) is
		// refused. A server without a snapshot refuses everything.
		m.Rcode = dns.RcodeRefused
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		m.Rcode = dns.RcodeRefused // zone transfers are not offered
	default:
		name := strings.ToLower(q.Name) // allocates only for upper case
		if z := s.zoneFor(name, q.Qtype); z != nil {
			s.resolve(m, z, name, q.Qtype)
		} else {
			m.Rcode = dns.RcodeRefused
		}
	}

	if ropt != nil {
		m.Extra = append(m.Extra, ropt)
	}
	if tcp {
		truncate(m, dns.MaxMsgSize)
	} else {
		truncate(m, udpSize(opt))
	}
	return m
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
		return dns.MinMsgSize
	}
	return min(max(int(opt.UDPSize()), dns.MinMsgSize), ednsUDPSize)
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
