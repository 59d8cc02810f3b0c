package geo

import "net/netip"

// unroutable are the special-purpose ranges (RFC 6890 and successors)
// whose addresses cannot say where a client is, beyond what netip's
// predicates cover.
var unroutable = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT shared space, RFC 6598
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking, RFC 2544
	netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2
	netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255
	netip.MustParsePrefix("100::/64"),        // discard-only, RFC 6666
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation, RFC 9637
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
}

// Routable reports whether addr can locate a client. It is false for
// invalid, unspecified, loopback, private (RFC 1918, fc00::/7), link-local,
// multicast, CGNAT (100.64.0.0/10), documentation (192.0.2.0/24,
// 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20), benchmarking
// (198.18.0.0/15), IETF protocol (192.0.0.0/24), "this network"
// (0.0.0.0/8), reserved (240.0.0.0/4, which includes the broadcast
// address), discard-only (100::/64) and site-local (fec0::/10) addresses,
// and for the IPv4-mapped forms of the IPv4 ones. An ECS address that is
// not routable is ignored in favour of the resolver's source address.
func Routable(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.IsUnspecified() || addr.IsLoopback() ||
		addr.IsPrivate() || addr.IsLinkLocalUnicast() || addr.IsMulticast() {
		return false
	}
	for _, p := range unroutable {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}
