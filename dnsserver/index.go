package dnsserver

import (
	"fmt"
	"slices"

	"github.com/miekg/dns"
)

// index checks the zone's RRsets and precomputes everything a query needs:
// empty non-terminals, wildcards, delegation points with their glue, the
// additional section of NS, MX and SRV answers, and the negative SOA.
func (b *zoneBuilder) index() error {
	z := b.z
	fail := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: zone %s: record %s: %s", ErrInvalidRecord, z.apex, name, fmt.Sprintf(format, args...))
	}

	names := make([]string, 0, len(z.nodes))
	for name := range z.nodes {
		names = append(names, name)
	}
	slices.Sort(names) // deterministic errors

	for _, name := range names {
		n := z.nodes[name]
		for _, s := range n.sets {
			// RFC 2181 section 5.2: one TTL per RRset; take the lowest.
			ttl := s.rrs[0].Header().Ttl
			for _, rr := range s.rrs {
				ttl = min(ttl, rr.Header().Ttl)
			}
			for _, rr := range s.rrs {
				rr.Header().Ttl = ttl
			}
		}
		if c := n.set(dns.TypeCNAME); c != nil {
			if len(c.rrs) > 1 {
				return fail(name, "more than one CNAME")
			}
			for _, s := range n.sets {
				if s.rrtype != dns.TypeCNAME && s.rrtype != dns.TypeRRSIG && s.rrtype != dns.TypeNSEC {
					return fail(name, "CNAME and %s at the same name", dns.Type(s.rrtype))
				}
			}
			target, ok := canonicalName(c.rrs[0].(*dns.CNAME).Target)
			if !ok {
				return fail(name, "bad CNAME target")
			}
			c.target = target
		}
		// Empty non-terminals: every name between an owner and the apex
		// exists.
		for p := name; p != z.apex; {
			i, end := dns.NextLabel(p, 0)
			if end {
				break
			}
			p = p[i:]
			if z.nodes[p] != nil {
				break
			}
			b.node(p)
		}
	}

	for name, n := range z.nodes {
		if len(name) > 2 && name[0] == '*' && name[1] == '.' {
			z.nodes[name[2:]].wildcard = n
		}
		if name != z.apex && n.set(dns.TypeNS) != nil {
			n.cut = true
		}
	}

	for _, name := range names {
		if err := z.checkService(z.nodes[name]); err != nil {
			return fmt.Errorf("%w: zone %s: %v", ErrInvalidGSLB, z.apex, err)
		}
	}

	for _, n := range z.nodes {
		if n.cut {
			ns := n.set(dns.TypeNS)
			n.referral = referral{ns: ns.rrs, glue: z.addresses(targets(ns.rrs), true)}
			continue
		}
		for _, s := range n.sets {
			switch s.rrtype {
			case dns.TypeNS, dns.TypeMX, dns.TypeSRV:
				s.extra = z.addresses(targets(s.rrs), false)
			}
		}
	}

	soa := b.apex.set(dns.TypeSOA).rrs[0].(*dns.SOA)
	neg := dns.Copy(soa)
	neg.Header().Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	z.negSOA = []dns.RR{neg}
	return nil
}

// checkService checks the services of a name against the static data of
// the zone: no static record of a service's type or a CNAME beside it, no
// static record at all beside a CNAME service, and not at or below a
// delegation point, where the data is not ours.
func (z *zone) checkService(n *node) error {
	for _, svc := range n.services {
		for _, set := range n.sets {
			if set.rrtype == svc.rrtype || set.rrtype == dns.TypeCNAME || svc.rrtype == dns.TypeCNAME {
				return fmt.Errorf("service %s: a static %s record of the same name exists", svc.name, dns.Type(set.rrtype))
			}
		}
	}
	if len(n.services) == 0 {
		return nil
	}
	for p := n.name; ; {
		if c := z.nodes[p]; c != nil && c.cut {
			return fmt.Errorf("service %s: at or below the delegation point %s", n.name, p)
		}
		if len(p) <= len(z.apex) {
			return nil
		}
		i, _ := dns.NextLabel(p, 0)
		p = p[i:]
	}
}

// targets returns the canonical target names of NS, MX and SRV records,
// each once, in record order.
func targets(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		var t string
		switch rr := rr.(type) {
		case *dns.NS:
			t = rr.Ns
		case *dns.MX:
			t = rr.Mx
		case *dns.SRV:
			t = rr.Target
		}
		if c, ok := canonicalName(t); ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// addresses returns the A and AAAA records of in-zone names, A before AAAA
// for each name. With glue, names at or below a delegation point count
// (they are the glue of a referral); without, they are not authoritative
// data and are left out.
func (z *zone) addresses(names []string, glue bool) []dns.RR {
	var out []dns.RR
	for _, name := range names {
		if !dns.IsSubDomain(z.apex, name) {
			continue
		}
		exact, _, cut := z.find(name)
		if exact == nil || cut != nil && !glue {
			continue
		}
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			if s := exact.set(t); s != nil {
				out = append(out, s.rrs...)
			}
		}
	}
	return out
}
