package geo

import (
	"net/netip"
	"testing"
)

func TestLookupPrefix(t *testing.T) {
	d := openTest(t, cityTestDB, asnTestDB, Options{})
	tests := []struct {
		prefix string
		first  string // the address whose Lookup the result must equal
		found  bool
	}{
		{"2.2.3.0/24", "2.2.3.0", true},
		{"81.2.69.142/31", "81.2.69.142", true},
		{"81.2.69.143/31", "81.2.69.142", true}, // masked first
		// An ECS /24 covering London's /31 is located by its first
		// address, which is not in the database.
		{"81.2.69.0/24", "81.2.69.0", false},
		{"81.2.69.144/28", "81.2.69.144", true},
		{"89.160.20.112/28", "89.160.20.112", true},
		{"89.160.20.0/24", "89.160.20.0", false},
		{"214.78.120.0/22", "214.78.120.0", true},
		{"175.16.199.0/24", "175.16.199.0", true},
		{"214.0.1.0/24", "214.0.1.0", true},
		{"2001:218::/56", "2001:218::", true},
		{"2001:218:1234:5678::/56", "2001:218:1234:5600::", true},
		{"::ffff:2.2.3.0/120", "2.2.3.0", true}, // mapped: an IPv4 /24
		{"10.0.0.0/8", "10.0.0.0", false},
	}
	for _, tt := range tests {
		want := d.Lookup(ip(tt.first))
		for range 3 {
			if got := d.LookupPrefix(pfx(tt.prefix)); got != want {
				t.Errorf("LookupPrefix(%s) = %+v, want Lookup(%s) = %+v", tt.prefix, got, tt.first, want)
			}
		}
		if want.Found != tt.found {
			t.Errorf("LookupPrefix(%s).Found = %v, want %v", tt.prefix, want.Found, tt.found)
		}
	}
	// Per test: one uncached Lookup and three LookupPrefix, of which the
	// first misses unless an earlier prefix had the same masked form.
	s := d.Stats()
	keys := map[netip.Prefix]bool{}
	for _, tt := range tests {
		p, _ := normPrefix(pfx(tt.prefix))
		keys[p] = true
	}
	wantHits := uint64(3*len(tests) - len(keys))
	if s.Lookups != uint64(4*len(tests)) || s.CacheHits != wantHits {
		t.Errorf("Lookups %d, CacheHits %d; want %d and %d", s.Lookups, s.CacheHits, 4*len(tests), wantHits)
	}
	if got := d.LookupPrefix(netip.Prefix{}); got != (Result{}) {
		t.Errorf("LookupPrefix(invalid) = %+v", got)
	}
}

func TestLookupPrefixUncached(t *testing.T) {
	d := openTest(t, cityTestDB, "", Options{CacheSize: -1})
	for range 3 {
		if got, want := d.LookupPrefix(pfx("2.2.3.0/24")), d.Lookup(ip("2.2.3.0")); got != want || !got.Found {
			t.Fatalf("LookupPrefix = %+v, want %+v", got, want)
		}
	}
	if s := d.Stats(); s.CacheHits != 0 || s.Lookups != 6 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestCacheBounded(t *testing.T) {
	for _, size := range []int{1, 10, 128, 1000, DefaultCacheSize} {
		c := newCache(size)
		total := 0
		for i := range c.shards {
			total += c.shards[i].max
		}
		if total < size || total > size+len(c.shards) {
			t.Errorf("newCache(%d): capacity %d over %d shards", size, total, len(c.shards))
		}
		for i := range 4 * total {
			p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
			c.shard(p).put(p, 1, Result{Found: true})
		}
		if n := c.len(); n > total {
			t.Errorf("newCache(%d): %d entries after %d inserts, want at most %d", size, n, 4*total, total)
		}
	}
}

func TestCacheGenerations(t *testing.T) {
	c := newCache(64)
	p := pfx("192.0.2.0/24")
	s := c.shard(p)
	s.put(p, 1, Result{Location: Location{Country: "AA"}})
	if r, ok := s.get(p, 1); !ok || r.Country != "AA" {
		t.Fatalf("get gen 1 = %+v, %v", r, ok)
	}
	if _, ok := s.get(p, 2); ok {
		t.Error("an entry of generation 1 was a hit for generation 2")
	}
	s.put(p, 2, Result{Location: Location{Country: "BB"}})
	// A slow lookup of the old generation must not overwrite a newer entry.
	s.put(p, 1, Result{Location: Location{Country: "AA"}})
	if r, ok := s.get(p, 2); !ok || r.Country != "BB" {
		t.Errorf("get gen 2 = %+v, %v", r, ok)
	}
	c.purge()
	if c.len() != 0 {
		t.Error("purge left entries")
	}
	lookups, hits := c.counts()
	if lookups != 3 || hits != 2 {
		t.Errorf("counts = %d lookups, %d hits; want 3, 2", lookups, hits)
	}
}

func TestCacheSpreadsShards(t *testing.T) {
	c := newCache(DefaultCacheSize)
	used := map[*shard]int{}
	for i := range 4096 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(i >> 4), byte(i), byte(i * 7), 0}), 24)
		used[c.shard(p)]++
	}
	for i := range 4096 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 8), byte(i)})
		used[c.shard(netip.PrefixFrom(a, 56))]++
	}
	if len(used) != len(c.shards) {
		t.Errorf("8192 prefixes used %d of %d shards", len(used), len(c.shards))
	}
	for _, n := range used {
		if n > 4*8192/len(c.shards) {
			t.Errorf("a shard got %d of 8192 prefixes", n)
		}
	}
}
