package geo

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func mustNetworks(t testing.TB, m map[string]string) *Networks {
	t.Helper()
	mm := map[netip.Prefix]string{}
	for p, name := range m {
		mm[pfx(p)] = name
	}
	n, err := NewNetworks(mm)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNetworksLookup(t *testing.T) {
	n := mustNetworks(t, map[string]string{
		"10.0.0.0/8":          "corp",
		"10.1.0.0/16":         "emea",
		"10.1.2.0/24":         "fra",
		"10.1.2.128/32":       "host",
		"0.0.0.0/0":           "world4",
		"2001:db8::/32":       "v6",
		"2001:db8:1::/48":     "v6-fra",
		"::ffff:11.0.0.0/104": "mapped", // counts as 11.0.0.0/8
	})
	tests := []struct{ addr, name, network string }{
		{"10.1.2.3", "fra", "10.1.2.0/24"},
		{"10.1.2.128", "host", "10.1.2.128/32"},
		{"10.1.3.3", "emea", "10.1.0.0/16"},
		{"10.2.0.1", "corp", "10.0.0.0/8"},
		{"::ffff:10.1.2.3", "fra", "10.1.2.0/24"},
		{"11.22.33.44", "mapped", "11.0.0.0/8"},
		{"192.0.2.1", "world4", "0.0.0.0/0"},
		{"2001:db8:1:2::3", "v6-fra", "2001:db8:1::/48"},
		{"2001:db8:2::3", "v6", "2001:db8::/32"},
		{"2001:db9::1", "", ""},
	}
	for _, tt := range tests {
		name, network, ok := n.Lookup(ip(tt.addr))
		if name != tt.name || ok != (tt.name != "") || (ok && network != pfx(tt.network)) {
			t.Errorf("Lookup(%s) = %q, %s, %v; want %q, %s", tt.addr, name, network, ok, tt.name, tt.network)
		}
	}
	if n.Len() != 8 {
		t.Errorf("Len = %d", n.Len())
	}
	var empty *Networks
	if _, _, ok := empty.Lookup(ip("10.1.2.3")); ok || empty.Len() != 0 {
		t.Error("nil Networks found something")
	}
}

func TestNewNetworksErrors(t *testing.T) {
	bad := []map[netip.Prefix]string{
		{pfx("10.1.2.3/24"): "x"},                                 // host bits
		{pfx("2001:db8::1/32"): "x"},                              // host bits
		{netip.Prefix{}: "x"},                                     // invalid
		{pfx("10.0.0.0/8"): ""},                                   // no name
		{pfx("10.0.0.0/8"): "a", pfx("::ffff:10.0.0.0/104"): "b"}, // one network, two names
	}
	for _, m := range bad {
		if _, err := NewNetworks(m); !errors.Is(err, ErrInvalidNetwork) {
			t.Errorf("NewNetworks(%v) = %v, want ErrInvalidNetwork", m, err)
		}
	}
	if _, err := NewNetworksFromList([]CustomNetwork{
		{pfx("10.0.0.0/8"), "europe"}, {pfx("10.0.0.0/8"), "asia"},
	}); !errors.Is(err, ErrInvalidNetwork) {
		t.Errorf("a network under two names: %v", err)
	}
	n, err := NewNetworksFromList([]CustomNetwork{
		{pfx("10.0.0.0/8"), "europe"}, {pfx("10.0.0.0/8"), "europe"}, {pfx("10.0.0.0/9"), "asia"},
	})
	if err != nil || n.Len() != 2 {
		t.Errorf("a repeated network with one name, nested networks: %v, Len %d", err, n.Len())
	}
}

func TestScope(t *testing.T) {
	n := mustNetworks(t, map[string]string{
		"2.2.3.0/24":          "inner",
		"9.9.9.0/24":          "far",
		"10.0.0.0/8":          "corp",
		"10.1.2.0/30":         "x",
		"10.1.2.4/30":         "y",
		"10.1.2.128/25":       "z",
		"2a02:d000:1::/48":    "v6",
		"2001:218:0:100::/56": "v6b",
	})
	tests := []struct {
		name           string
		addr, db, want string
	}{
		{"custom net inside the db net, not containing addr, shrinks it",
			"2.2.1.5", "2.2.0.0/16", "2.2.0.0/23"},
		{"the other side of the same custom net",
			"2.2.2.200", "2.2.0.0/16", "2.2.2.0/24"},
		{"custom net containing addr, smaller than the db net",
			"2.2.3.7", "2.2.0.0/16", "2.2.3.0/24"},
		{"custom net containing addr, larger than the db net",
			"10.9.8.7", "10.9.8.0/24", "10.9.8.0/24"},
		{"custom nets outside the db net do nothing",
			"2.2.4.1", "2.2.4.0/22", "2.2.4.0/22"},
		{"nested: outer custom net containing addr, inner ones not",
			"10.200.0.1", "10.0.0.0/8", "10.128.0.0/9"},
		{"a containing neighbour is skipped, the one before it counts",
			"10.1.2.5", "10.0.0.0/8", "10.1.2.4/30"},
		{"the nearest of several networks sets the length",
			"10.1.2.64", "10.1.0.0/16", "10.1.2.64/26"},
		{"invalid db net: the host",
			"2.2.3.7", "", "2.2.3.7/32"},
		{"db net not containing addr: the host",
			"2.2.3.7", "8.0.0.0/8", "2.2.3.7/32"},
		{"no database: the whole family, shrunk",
			"8.8.8.8", "0.0.0.0/0", "8.0.0.0/8"},
		{"IPv4-mapped address and db net",
			"::ffff:2.2.1.5", "::ffff:2.2.0.0/112", "2.2.0.0/23"},
		{"IPv6: custom net inside the db net",
			"2a02:d000:2::1", "2a02:d000::/29", "2a02:d000:2::/47"},
		{"IPv6: custom net containing addr",
			"2a02:d000:1:ff::1", "2a02:d000::/29", "2a02:d000:1::/48"},
		{"IPv6: a /56 ECS next to a custom /56",
			"2001:218::", "2001:218::/32", "2001:218::/56"},
		{"IPv6: no custom net in the db net",
			"2001:220::1", "2001:220::/32", "2001:220::/32"},
	}
	for _, tt := range tests {
		var db netip.Prefix
		if tt.db != "" {
			db = pfx(tt.db)
		}
		if got := n.Scope(ip(tt.addr), db); got != pfx(tt.want) {
			t.Errorf("%s: Scope(%s, %s) = %s, want %s", tt.name, tt.addr, tt.db, got, tt.want)
		}
	}

	var none *Networks
	empty := mustNetworks(t, nil)
	for _, nn := range []*Networks{none, empty} {
		if got := nn.Scope(ip("2.2.1.5"), pfx("2.2.0.0/16")); got != pfx("2.2.0.0/16") {
			t.Errorf("no custom networks: Scope = %s, want the db net", got)
		}
		if got := nn.Scope(ip("2001:218::1"), pfx("2001:218::/32")); got != pfx("2001:218::/32") {
			t.Errorf("no custom networks, IPv6: Scope = %s, want the db net", got)
		}
	}
}

// scopeNaive is the definition of Scope, walking every custom network.
func scopeNaive(list []CustomNetwork, n *Networks, addr netip.Addr, db netip.Prefix) netip.Prefix {
	res := db
	if _, c, ok := n.Lookup(addr); ok && c.Bits() > res.Bits() {
		res = c
	}
	bits := res.Bits()
	for _, e := range list {
		if !e.Prefix.Contains(addr) && e.Prefix.Overlaps(res) {
			bits = max(bits, commonPrefixLen(addr, e.Prefix.Addr())+1)
		}
	}
	p, _ := addr.Prefix(min(bits, addr.BitLen()))
	return p
}

// TestScopeProperties checks Scope against its definition on random
// tables, and that the answer is the same everywhere inside the scope and
// differs (in db net or custom match) just outside it.
func TestScopeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randPrefix := func(minBits, maxBits int) netip.Prefix {
		a := netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
		p, _ := a.Prefix(minBits + rng.IntN(maxBits-minBits+1))
		return p
	}
	for range 300 {
		seen := map[netip.Prefix]bool{}
		var list []CustomNetwork
		for i := range 1 + rng.IntN(20) {
			p := randPrefix(8, 32)
			if !seen[p] {
				seen[p] = true
				list = append(list, CustomNetwork{p, string(rune('a' + i))})
			}
		}
		n, err := NewNetworksFromList(list)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			db := randPrefix(8, 30)
			addr := randAddrIn(rng, db)
			got := n.Scope(addr, db)
			if want := scopeNaive(list, n, addr, db); got != want {
				t.Fatalf("Scope(%s, %s) = %s, want %s; networks %v", addr, db, got, want, list)
			}
			if !got.Contains(addr) || got.Bits() < db.Bits() {
				t.Fatalf("Scope(%s, %s) = %s is not inside the db net around addr", addr, db, got)
			}
			_, want, _ := n.Lookup(addr)
			for range 20 {
				other := randAddrIn(rng, got)
				if _, net, _ := n.Lookup(other); net != want {
					t.Fatalf("Scope(%s, %s) = %s, but %s matches %s and %s matches %s",
						addr, db, got, addr, want, other, net)
				}
			}
		}
	}
}

func randAddrIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	a := p.Addr().As4()
	host := uint32(0)
	if p.Bits() < 32 {
		host = rng.Uint32() >> p.Bits()
	}
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
