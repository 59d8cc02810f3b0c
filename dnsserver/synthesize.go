package dnsserver

import (
	"fmt"
	"net/netip"

	"github.com/miekg/dns"
)

// synthesize fills in what a zone's records leave out, from the zone's
// settings:
//
//   - address records for in-zone name servers from Nameserver.Address,
//     unless the zone has address records at that name already;
//   - the apex NS RRset from Nameservers when the records have no apex NS;
//   - the SOA when the records have none: MNAME the first name server,
//     RNAME the hostmaster, serial the zone's store revision (it grows with
//     every change of the zone), the zone's timers and default TTL.
func (b *zoneBuilder) synthesize() error {
	mz, apex := b.mz, b.z.apex
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: zone %s: %s", ErrInvalidRecord, apex, fmt.Sprintf(format, args...))
	}

	servers := make([]string, 0, len(mz.Nameservers))
	hasAddress := map[string]bool{}
	for name, n := range b.z.nodes {
		hasAddress[name] = n.set(dns.TypeA) != nil || n.set(dns.TypeAAAA) != nil
	}
	for i, ns := range mz.Nameservers {
		name, ok := canonicalName(ns.Name)
		if !ok {
			return fail("nameservers entry %d: bad name %q", i, ns.Name)
		}
		servers = append(servers, name)
		if ns.Address == "" || !dns.IsSubDomain(apex, name) || hasAddress[name] {
			continue
		}
		addr, err := netip.ParseAddr(ns.Address)
		if err != nil {
			return fail("nameserver %s: bad address %q", ns.Name, ns.Address)
		}
		hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: b.ttl}
		var rr dns.RR
		if addr.Unmap().Is4() {
			hdr.Rrtype = dns.TypeA
			rr = &dns.A{Hdr: hdr, A: addr.Unmap().AsSlice()}
		} else {
			hdr.Rrtype = dns.TypeAAAA
			rr = &dns.AAAA{Hdr: hdr, AAAA: addr.AsSlice()}
		}
		if err := b.add(rr); err != nil {
			return fail("nameserver %s: %v", ns.Name, err)
		}
	}

	if b.apex.set(dns.TypeNS) == nil {
		for _, name := range servers {
			rr := &dns.NS{Hdr: dns.RR_Header{Name: apex, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: b.ttl}, Ns: name}
			if err := b.add(rr); err != nil {
				return fail("nameserver %s: %v", name, err)
			}
		}
	}

	if b.apex.set(dns.TypeSOA) == nil {
		mname := apex
		if len(servers) > 0 {
			mname = servers[0]
		} else if ns := b.apex.set(dns.TypeNS); ns != nil {
			mname = ns.rrs[0].(*dns.NS).Ns
		}
		rname, ok := canonicalName(mz.HostmasterName())
		if !ok {
			return fail("bad hostmaster %q", mz.Hostmaster)
		}
		t := mz.SOA.WithDefaults()
		soa := &dns.SOA{
			Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: b.ttl},
			Ns:      mname,
			Mbox:    rname,
			Serial:  uint32(mz.Revision),
			Refresh: t.Refresh,
			Retry:   t.Retry,
			Expire:  t.Expire,
			Minttl:  t.Minimum,
		}
		if err := b.add(soa); err != nil {
			return fail("SOA: %v", err)
		}
	}

	// The SOA leads the apex, so that ANY at the apex answers it.
	for i, s := range b.apex.sets {
		if s.rrtype == dns.TypeSOA {
			copy(b.apex.sets[1:i+1], b.apex.sets[:i])
			b.apex.sets[0] = s
			break
		}
	}
	return nil
}
