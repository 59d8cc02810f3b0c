package dnsserver

import (
	"net"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/geo"
)

// stackCandidates is how many candidates a query keeps on its stack;
// services with more endpoints take a buffer from the heap.
const stackCandidates = 32

// How the client address of a query was chosen (Explanation.Client.Source).
const (
	clientECS         = "ecs"
	clientSource      = "source address"
	clientNotRoutable = "ecs ignored: not routable"
	clientECSZero     = "ecs source prefix 0"
)

// How the client's region was found (Explanation.Region.How).
const (
	regionByNetwork   = "network"
	regionByCountry   = "country"
	regionByContinent = "continent"
)

// query is the per-query state of an answer: the client, what is known
// about it so far (looked up lazily, at most once), the ECS scope the
// answer depends on, and the candidate buffer of the policy steps. It
// lives on the answering goroutine's stack; nothing keeps it.
type query struct {
	src netip.Addr // the resolver's source address
	// ecs is the request's ECS option; nil without one. ecsNet is its
	// network (the zero Prefix for family 0).
	ecs    *dns.EDNS0_SUBNET
	ecsNet netip.Prefix

	clientDone bool
	useECS     bool         // the answer is for the ECS network, not the resolver
	addr       netip.Addr   // the client address the answer is for
	prefix     netip.Prefix // what a location lookup asks for
	how        string       // one of the client* constants

	located bool
	loc     geo.Result

	regionDone bool
	region     *region
	regionHow  string

	// scope is the ECS scope prefix length of the response: the longest
	// prefix any decision so far depended on.
	scope int
	// dep is how many leading bits of the client address (addr) the
	// answer depended on, whether the client came from ECS or not; and
	// random is set when a step drew at random (weighted, roundrobin).
	// The answer cache keys on the first and skips answers with the
	// second.
	dep    int
	random bool
	// rec, when not nil, records what the answer counted into st, so
	// that the answer cache can count a hit the same way.
	rec *countRecord

	// zone is the served zone of the query name and svc the service that
	// answered the query name itself (not one reached through a CNAME);
	// nil when none. st counts them (nil without Metrics, and in Explain).
	zone *zone
	svc  *service
	st   *snapStats

	tr *trace // nil on the DNS path
	// routing makes decide skip the steps that pick among equals per
	// query (Snapshot.Routing).
	routing bool
	buf     [stackCandidates]cand
}

// parseECS reads the request's ECS option (RFC 7871) into q. It reports
// false for a malformed option — an unknown family, a source prefix longer
// than the family's addresses, address bits set beyond the source prefix,
// or more than one ECS option — which the caller answers with FORMERR. The
// SCOPE PREFIX-LENGTH of a query is ignored. Family 0 with a source prefix
// of 0, which old versions of dig send for +subnet=0, counts as a source
// prefix of 0.
func (q *query) parseECS(opt *dns.OPT) bool {
	for _, o := range opt.Option {
		e, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		if q.ecs != nil {
			return false
		}
		q.ecs = e
		var a netip.Addr
		switch e.Family {
		case 0:
			if e.SourceNetmask != 0 {
				return false
			}
			continue
		case 1:
			ip4 := e.Address.To4()
			if ip4 == nil || e.SourceNetmask > 32 {
				return false
			}
			a = netip.AddrFrom4([4]byte(ip4))
		case 2:
			if len(e.Address) != net.IPv6len || e.SourceNetmask > 128 {
				return false
			}
			a = netip.AddrFrom16([16]byte(e.Address))
		default:
			return false
		}
		p := netip.PrefixFrom(a, int(e.SourceNetmask))
		if p.Masked().Addr() != a {
			return false // RFC 7871 section 6: bits beyond the source prefix must be 0
		}
		q.ecsNet = p
	}
	return true
}

// client chooses, once, the address the answer is for: the ECS network
// when its source prefix is not 0 and its address is routable, else the
// resolver's source address.
func (q *query) client() {
	if q.clientDone {
		return
	}
	q.clientDone = true
	switch {
	case q.ecs == nil:
		q.how = clientSource
	case q.ecsNet.Bits() <= 0:
		q.how = clientECSZero
	case !geo.Routable(q.ecsNet.Addr()):
		q.how = clientNotRoutable
	default:
		q.useECS, q.how = true, clientECS
		q.addr, q.prefix = q.ecsNet.Addr(), q.ecsNet
		return
	}
	q.addr = q.src
	if q.src.IsValid() {
		q.prefix = netip.PrefixFrom(q.src, q.src.BitLen())
	}
}

// location looks the client up, once per query: the ECS network, or the
// source address as a host prefix. Without a Locator nothing is found and
// the network is the whole address family, as with a nil *geo.DB.
func (s *Snapshot) location(q *query) *geo.Result {
	if !q.located {
		q.located = true
		q.client()
		switch {
		case !q.prefix.IsValid():
		case s.locator != nil:
			q.loc = s.locator.LookupPrefix(q.prefix)
		default:
			q.loc = geo.Result{Network: netip.PrefixFrom(q.addr, 0).Masked()}
		}
		if q.tr != nil {
			q.tr.location(q)
		}
	}
	return &q.loc
}

// clientRegion is the client's region, found once per query: the longest
// match among the regions' networks, else the first region (in name
// order) listing the client's country, else one listing its continent.
func (s *Snapshot) clientRegion(q *query) *region {
	if q.regionDone {
		return q.region
	}
	q.regionDone = true
	q.client()
	if name, _, ok := s.networks.Lookup(q.addr); ok {
		q.region, q.regionHow = s.regionByName[name], regionByNetwork
	} else if loc := s.location(q); loc.Country != "" && s.byCountry[loc.Country] != nil {
		q.region, q.regionHow = s.byCountry[loc.Country], regionByCountry
	} else if loc.Continent != "" && s.byContinent[loc.Continent] != nil {
		q.region, q.regionHow = s.byContinent[loc.Continent], regionByContinent
	}
	if q.tr != nil {
		q.tr.region(q)
	}
	return q.region
}

// geoScope is the ECS scope of an answer that depended on the client's
// location: the largest network around the client inside which the
// database network and the longest custom network are the same, in the
// bits of the client address's family.
func (s *Snapshot) geoScope(q *query) int {
	loc := s.location(q)
	if !q.addr.IsValid() {
		return 0
	}
	p := s.networks.Scope(q.addr, loc.Network)
	if q.addr.Is4In6() && p.Addr().Is4() {
		// Scope works on the unmapped address. An IPv4-mapped ECS
		// address (family 2) needs an IPv6 scope: IPv4 bits alone
		// would cover native IPv6 networks (::/24 for a /24).
		return 96 + p.Bits()
	}
	return p.Bits()
}

// depends records that the answer depends on the client's network down to
// bits: the response's ECS scope becomes at least bits. An answer made
// for the resolver's own address (no ECS, or ECS ignored) has scope 0.
func (q *query) depends(bits int) {
	if q.useECS && bits > q.scope {
		q.scope = bits
	}
	q.dep = max(q.dep, bits) // for the answer cache, with or without ECS
}

// stickyNet is the client network the sticky step hashes: the ECS network
// or the source address, truncated to at most /24 (IPv4, also when
// IPv4-mapped) or /56 (IPv6), the prefixes resolvers commonly send.
func (q *query) stickyNet() netip.Prefix {
	q.client()
	if !q.prefix.IsValid() {
		return netip.Prefix{}
	}
	limit := 56
	switch a := q.prefix.Addr(); {
	case a.Is4():
		limit = 24
	case a.Is4In6():
		limit = 96 + 24 // the IPv4 /24, in IPv6 bits
	}
	p, _ := q.prefix.Addr().Prefix(min(q.prefix.Bits(), limit))
	return p
}

// ecsEcho fills in the ECS option of the response: the query's family,
// source prefix and address, with the scope the answer depended on.
func (q *query) ecsEcho(e *dns.EDNS0_SUBNET) {
	scope := q.scope
	if q.ecsNet.Bits() <= 0 {
		scope = 0
	}
	*e = dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: q.ecs.Family, SourceNetmask: q.ecs.SourceNetmask,
		SourceScope: uint8(scope), Address: q.ecs.Address}
}
