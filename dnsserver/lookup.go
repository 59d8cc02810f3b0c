package dnsserver

import (
	"github.com/miekg/dns"
)

// maxCNAMEChain is the most CNAMEs one answer follows.
const maxCNAMEChain = 8

// zoneFor returns the served zone that holds name (canonical), the longest
// match when zones are nested, or nil. A DS query at the apex of a zone
// whose parent is served too goes to the parent, where the DS lives
// (RFC 4035 section 3.1.4.1).
func (s *Snapshot) zoneFor(name string, qtype uint16) *zone {
	var apexDS *zone
	for n := name; ; {
		if z := s.zones[n]; z != nil {
			if qtype != dns.TypeDS || n != name {
				return z
			}
			apexDS = z
		}
		i, end := dns.NextLabel(n, 0)
		if end {
			return apexDS
		}
		n = n[i:]
	}
}

// find walks from name (canonical, inside z) up to the apex. It returns the
// node of name itself if it exists, the closest encloser (the deepest
// existing node at or above name; the apex at worst), and the topmost
// delegation point at or above name, if any. It allocates nothing.
func (z *zone) find(name string) (exact, encloser, cut *node) {
	for n := name; ; {
		if nd := z.nodes[n]; nd != nil {
			if encloser == nil {
				encloser = nd
				if n == name {
					exact = nd
				}
			}
			if nd.cut {
				cut = nd
			}
		}
		if len(n) <= len(z.apex) {
			return exact, encloser, cut
		}
		i, _ := dns.NextLabel(n, 0)
		n = n[i:]
	}
}

// resolve fills m with the answer for qname (canonical) and qtype from z
// and, following CNAMEs, from the other served zones: RFC 1034 section
// 4.3.2 with wildcards per RFC 4592. The rcode is that of the last name of
// a CNAME chain (RFC 6604).
func (s *Snapshot) resolve(m *dns.Msg, z *zone, qname string, qtype uint16) {
	m.Authoritative = true
	name := qname
	var seen [maxCNAMEChain]string
	for chain := 0; ; chain++ {
		exact, encloser, cut := z.find(name)
		if cut != nil && (qtype != dns.TypeDS || exact != cut) {
			// At or below a delegation point: refer. A DS query at the cut
			// itself is the parent's to answer, below.
			if chain == 0 {
				m.Authoritative = false
			}
			m.Ns = append(m.Ns, cut.referral.ns...)
			m.Extra = append(m.Extra, cut.referral.glue...)
			return
		}
		n, owner := exact, ""
		if n == nil && encloser.wildcard != nil {
			n, owner = encloser.wildcard, name
		}
		if n == nil {
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, z.negSOA...)
			return
		}
		if set := n.set(qtype); set != nil {
			m.Answer = appendSet(m.Answer, set.rrs, owner)
			m.Extra = append(m.Extra, set.extra...)
			return
		}
		c := n.set(dns.TypeCNAME)
		if c == nil {
			m.Ns = append(m.Ns, z.negSOA...) // NODATA
			return
		}
		m.Answer = appendSet(m.Answer, c.rrs, owner)
		if chain+1 >= maxCNAMEChain || c.target == qname {
			return
		}
		for _, prev := range seen[:chain] {
			if prev == c.target {
				return // a loop: the resolver sees it in the answer
			}
		}
		seen[chain] = c.target
		if z = s.zoneFor(c.target, qtype); z == nil {
			return // the target is not ours: the resolver follows it
		}
		name = c.target
	}
}

// appendSet appends rrs to dst. With an owner, the records are wildcard
// expansions: copies renamed to owner, the snapshot's records untouched.
func appendSet(dst, rrs []dns.RR, owner string) []dns.RR {
	if owner == "" {
		return append(dst, rrs...)
	}
	for _, rr := range rrs {
		c := dns.Copy(rr)
		c.Header().Name = owner
		dst = append(dst, c)
	}
	return dst
}
