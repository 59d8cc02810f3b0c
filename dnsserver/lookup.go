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
// 4.3.2 with wildcards per RFC 4592, and GSLB services answered by their
// policy. The rcode is that of the last name of a CNAME chain (RFC 6604).
func (s *Snapshot) resolve(m *dns.Msg, z *zone, qname string, qtype uint16, q *query) {
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
			q.kind(chain, kindDelegation)
			m.Ns = append(m.Ns, cut.referral.ns...)
			m.Extra = append(m.Extra, cut.referral.glue...)
			return
		}
		n, owner := exact, ""
		if n == nil && encloser.wildcard != nil {
			n, owner = encloser.wildcard, name
		}
		if n == nil {
			q.kind(chain, kindNXDomain)
			m.Rcode = dns.RcodeNameError
			m.Ns = append(m.Ns, z.negSOA...)
			return
		}
		var target string // a CNAME target to follow
		if svc := n.service(qtype); svc != nil {
			q.kind(chain, kindService)
			if chain == 0 {
				q.svc = svc
			}
			var ok bool
			if target, ok = s.serviceAnswer(m, svc, owner, q); !ok {
				m.Ns = append(m.Ns, z.negSOA...) // NODATA: fallback none
				return
			}
			if target == "" || qtype == dns.TypeCNAME || qtype == dns.TypeANY {
				return
			}
		} else if set := n.set(qtype); set != nil {
			q.kind(chain, nodeKind(n, owner, set))
			m.Answer = appendSet(m.Answer, set.rrs, owner)
			m.Extra = append(m.Extra, set.extra...)
			return
		} else if c := n.set(dns.TypeCNAME); c != nil {
			q.kind(chain, kindCNAME)
			m.Answer = appendSet(m.Answer, c.rrs, owner)
			target = c.target
		} else {
			q.kind(chain, noDataKind(n))
			m.Ns = append(m.Ns, z.negSOA...) // NODATA
			return
		}
		if chain+1 >= maxCNAMEChain || target == qname {
			return
		}
		for _, prev := range seen[:chain] {
			if prev == target {
				return // a loop: the resolver sees it in the answer
			}
		}
		seen[chain] = target
		if z = s.zoneFor(target, qtype); z == nil {
			return // the target is not ours: the resolver follows it
		}
		name = target
	}
}

// serviceAnswer appends svc's answer for the query to m: a record per
// chosen endpoint, or the backup addresses, capped at max_answers; for a
// CNAME service one CNAME, whose canonical target it returns for the
// caller to follow. With an owner the records are renamed copies (a
// service reached through a wildcard). It reports false when the answer
// is NODATA (fallback none).
func (s *Snapshot) serviceAnswer(m *dns.Msg, svc *service, owner string, q *query) (target string, ok bool) {
	c, fb := s.decide(svc, q)
	if fb == fallbackAll && len(c) == 0 {
		return "", false // not reached: Build rejects services without endpoints
	}
	switch fb {
	case fallbackNone:
		return "", false
	case fallbackBackup:
		rrs := svc.backup.rrs
		if svc.rrtype == dns.TypeCNAME {
			m.Answer = appendSet(m.Answer, rrs[:1], owner)
			return svc.backup.targets[0], true
		}
		if svc.maxAnswers > 0 && len(rrs) > svc.maxAnswers {
			rrs = rrs[:svc.maxAnswers]
		}
		m.Answer = appendSet(m.Answer, rrs, owner)
		return "", true
	}
	if svc.rrtype == dns.TypeCNAME {
		c = c[:1]
	}
	if q.st != nil {
		q.st.answered(c, q.rec)
	}
	if m.Answer == nil {
		m.Answer = make([]dns.RR, 0, len(c))
	}
	for i := range c {
		rr := c[i].ep.rr
		if owner != "" {
			rr = dns.Copy(rr)
			rr.Header().Name = owner
		}
		m.Answer = append(m.Answer, rr)
	}
	return c[0].ep.cname(), true
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
