package geo

import (
	"net/netip"
	"testing"
)

// benchAddrs are addresses of the MaxMind test City database, found and
// not found, IPv4 and IPv6.
var benchAddrs = []netip.Addr{
	ip("2.2.3.1"), ip("81.2.69.142"), ip("89.160.20.115"), ip("175.16.199.7"),
	ip("214.78.120.5"), ip("214.0.1.200"), ip("2001:218::1"), ip("10.1.2.3"),
}

func BenchmarkLookup(b *testing.B) {
	for _, c := range []struct{ name, asn string }{{"city", ""}, {"city+asn", asnTestDB}} {
		b.Run(c.name, func(b *testing.B) {
			d := openTest(b, cityTestDB, c.asn, Options{})
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				_ = d.Lookup(benchAddrs[i%len(benchAddrs)])
				i++
			}
		})
	}
}

func benchPrefixes() []netip.Prefix {
	var ps []netip.Prefix
	for _, a := range benchAddrs {
		bits := 24
		if a.Is6() {
			bits = 56
		}
		p, _ := a.Prefix(bits)
		ps = append(ps, p)
	}
	return ps
}

func BenchmarkLookupPrefixCached(b *testing.B) {
	d := openTest(b, cityTestDB, asnTestDB, Options{})
	ps := benchPrefixes()
	for _, p := range ps {
		d.LookupPrefix(p)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = d.LookupPrefix(ps[i%len(ps)])
		i++
	}
	if s := d.Stats(); s.CacheHits < uint64(b.N) {
		b.Fatalf("only %d cache hits in %d lookups", s.CacheHits, b.N)
	}
}

func BenchmarkLookupPrefixCachedParallel(b *testing.B) {
	d := openTest(b, cityTestDB, asnTestDB, Options{})
	ps := benchPrefixes()
	for _, p := range ps {
		d.LookupPrefix(p)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_ = d.LookupPrefix(ps[i%len(ps)])
			i++
		}
	})
}

// benchNetworks is a table of 1,000 custom networks: /16s to /28s spread
// over 10.0.0.0/8, and /48s in IPv6.
func benchNetworks(b *testing.B) *Networks {
	m := map[netip.Prefix]string{}
	for i := range 900 {
		a := netip.AddrFrom4([4]byte{10, byte(i * 37), byte(i * 11), byte(i * 16)})
		p, _ := a.Prefix(16 + i%13)
		m[p] = "r" + string(rune('a'+i%26))
	}
	for i := range 100 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x02, 0x18, byte(i), byte(i * 3)})
		p, _ := a.Prefix(48)
		m[p] = "v6"
	}
	n, err := NewNetworks(m)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func BenchmarkNetworksScope(b *testing.B) {
	n := benchNetworks(b)
	addrs := []netip.Addr{ip("10.37.11.17"), ip("10.200.1.1"), ip("2.2.3.1"), ip("2001:218:5:f::1")}
	dbs := []netip.Prefix{pfx("10.0.0.0/8"), pfx("10.200.0.0/16"), pfx("2.2.3.0/24"), pfx("2001:218::/32")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = n.Scope(addrs[i%len(addrs)], dbs[i%len(dbs)])
		i++
	}
}

func BenchmarkNetworksLookup(b *testing.B) {
	n := benchNetworks(b)
	addrs := []netip.Addr{ip("10.37.11.17"), ip("10.200.1.1"), ip("2.2.3.1"), ip("2001:218:5:f::1")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_, _, _ = n.Lookup(addrs[i%len(addrs)])
		i++
	}
}

func BenchmarkDistance(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = Distance(51.5074, -0.1278, 1.3521, 103.8198)
	}
}
