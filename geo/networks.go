package geo

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
)

// ErrInvalidNetwork is wrapped by the errors of NewNetworks.
var ErrInvalidNetwork = errors.New("geo: invalid network")

// CustomNetwork is one entry of an operator's table of networks.
type CustomNetwork struct {
	Prefix netip.Prefix
	Name   string // e.g. a region
}

// Networks is an operator's table of custom networks (CIDR to name, e.g. a
// region), which override the database. Lookup is a longest-prefix match.
// A Networks is immutable and safe for concurrent use; a nil *Networks is
// an empty table.
type Networks struct {
	v4, v6 netFamily
	n      int
}

// netFamily holds the networks of one address family twice: per prefix
// length for the longest-prefix match, and sorted by first address for
// Scope's search of neighbours.
type netFamily struct {
	byLen  []lenTable      // longest first
	sorted []CustomNetwork // by first address, then length
}

type lenTable struct {
	bits int
	m    map[netip.Prefix]string
}

// NewNetworks builds a table from a map of network to name. See
// NewNetworksFromList.
func NewNetworks(m map[netip.Prefix]string) (*Networks, error) {
	list := make([]CustomNetwork, 0, len(m))
	for p, name := range m {
		list = append(list, CustomNetwork{Prefix: p, Name: name})
	}
	slices.SortFunc(list, func(a, b CustomNetwork) int { return comparePrefix(a.Prefix, b.Prefix) })
	return NewNetworksFromList(list)
}

// NewNetworksFromList builds a table from a list, which, unlike a map, can
// say that a network was given twice: the same network under two names
// is an error (twice under the same name is harmless). A prefix with host
// bits set (10.1.2.3/24), an invalid prefix and an empty name are errors
// too. IPv4-mapped IPv6 prefixes (::ffff:10.0.0.0/104) count as their IPv4
// form. Nested networks are fine: the longest match wins.
func NewNetworksFromList(list []CustomNetwork) (*Networks, error) {
	seen := make(map[netip.Prefix]string, len(list))
	n := &Networks{}
	for _, e := range list {
		p := e.Prefix
		switch {
		case !p.IsValid():
			return nil, fmt.Errorf("%w: %q (name %q) is not a valid prefix", ErrInvalidNetwork, p, e.Name)
		case p != p.Masked():
			return nil, fmt.Errorf("%w: %s has host bits set (the network is %s)", ErrInvalidNetwork, p, p.Masked())
		case e.Name == "":
			return nil, fmt.Errorf("%w: %s has no name", ErrInvalidNetwork, p)
		}
		p, _ = normPrefix(p)
		if old, ok := seen[p]; ok {
			if old != e.Name {
				return nil, fmt.Errorf("%w: %s is given as both %q and %q", ErrInvalidNetwork, p, old, e.Name)
			}
			continue
		}
		seen[p] = e.Name
		f := &n.v6
		if p.Addr().Is4() {
			f = &n.v4
		}
		f.add(CustomNetwork{Prefix: p, Name: e.Name})
		n.n++
	}
	n.v4.finish()
	n.v6.finish()
	return n, nil
}

func (f *netFamily) add(e CustomNetwork) {
	f.sorted = append(f.sorted, e)
	i := slices.IndexFunc(f.byLen, func(t lenTable) bool { return t.bits == e.Prefix.Bits() })
	if i < 0 {
		f.byLen = append(f.byLen, lenTable{bits: e.Prefix.Bits(), m: map[netip.Prefix]string{}})
		i = len(f.byLen) - 1
	}
	f.byLen[i].m[e.Prefix] = e.Name
}

func (f *netFamily) finish() {
	slices.SortFunc(f.byLen, func(a, b lenTable) int { return cmp.Compare(b.bits, a.bits) })
	slices.SortFunc(f.sorted, func(a, b CustomNetwork) int { return comparePrefix(a.Prefix, b.Prefix) })
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// Len returns the number of networks.
func (n *Networks) Len() int {
	if n == nil {
		return 0
	}
	return n.n
}

func (n *Networks) family(addr netip.Addr) *netFamily {
	if addr.Is4() {
		return &n.v4
	}
	return &n.v6
}

// Lookup returns the name and network of the longest network containing
// addr (IPv4-mapped addresses are unmapped first).
func (n *Networks) Lookup(addr netip.Addr) (name string, network netip.Prefix, ok bool) {
	addr = addr.Unmap().WithZone("")
	if n == nil || !addr.IsValid() {
		return "", netip.Prefix{}, false
	}
	for _, t := range n.family(addr).byLen {
		p, _ := addr.Prefix(t.bits)
		if name, ok := t.m[p]; ok {
			return name, p, true
		}
	}
	return "", netip.Prefix{}, false
}

// Scope returns the largest network around addr inside which every
// address gets the same answer, given the database network dbNet that
// addr falls in (Result.Network): the ECS scope of a geographic answer.
//
// It starts from dbNet (the host prefix of addr if dbNet is invalid or
// does not contain addr). If a custom network containing addr is smaller,
// the scope becomes that network: the answer depends on both the database
// and the custom table. Then the scope shrinks until no custom network
// that does not contain addr lies inside it — for such a network C, to at
// least commonPrefixLen(addr, C)+1 bits. Inside the result both the
// database network and the longest custom match are the same for every
// address, so the answer is too; any larger network would include
// addresses that may be answered differently.
//
// Only the nearest custom networks on either side of addr, in address
// order, can set the length, so Scope costs a binary search plus a few
// steps, not a walk over the table.
func (n *Networks) Scope(addr netip.Addr, dbNet netip.Prefix) netip.Prefix {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	res, ok := normPrefix(dbNet)
	if !ok || !res.Contains(addr) {
		res = netip.PrefixFrom(addr, addr.BitLen())
	}
	if n == nil || n.n == 0 {
		return res
	}
	if _, c, ok := n.Lookup(addr); ok && c.Bits() > res.Bits() {
		res = c
	}
	f := n.family(addr)
	best := -1 // longest common prefix with a network not containing addr
	i, _ := slices.BinarySearchFunc(f.sorted, addr, func(e CustomNetwork, a netip.Addr) int {
		if e.Prefix.Addr().Compare(a) <= 0 {
			return -1
		}
		return 1
	})
	if i < len(f.sorted) { // the first network starting after addr
		best = commonPrefixLen(addr, f.sorted[i].Prefix.Addr())
	}
	for j := i - 1; j >= 0; j-- { // the last one starting at or before addr, not containing it
		if c := f.sorted[j].Prefix; !c.Contains(addr) {
			best = max(best, commonPrefixLen(addr, c.Addr()))
			break
		}
	}
	b := min(max(res.Bits(), best+1), addr.BitLen())
	p, _ := addr.Prefix(b)
	return p
}

// commonPrefixLen is the number of leading bits a and b share (same
// family).
func commonPrefixLen(a, b netip.Addr) int {
	if a.Is4() {
		x, y := a.As4(), b.As4()
		return bits.LeadingZeros32(binary.BigEndian.Uint32(x[:]) ^ binary.BigEndian.Uint32(y[:]))
	}
	x, y := a.As16(), b.As16()
	be := binary.BigEndian
	if d := be.Uint64(x[:8]) ^ be.Uint64(y[:8]); d != 0 {
		return bits.LeadingZeros64(d)
	}
	return 64 + bits.LeadingZeros64(be.Uint64(x[8:])^be.Uint64(y[8:]))
}
