package dnsserver

import (
	"hash/maphash"
	"math/bits"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// The answer cache keeps packed responses of one served snapshot: Swap
// makes a new, empty one, so a change of configuration or health can
// never be answered from the cache of the snapshot before it. A response
// is cached under what it was decided from — the question in lower case,
// the transport, the EDNS size, DO and ECS layout, and the client
// network it depended on (q.dep bits of the address the decision used:
// the ECS network or the resolver's address) — and served to any query
// with the same key after patching its ID, RD and CD, the letters of the
// question and the ECS address (wire.go). Answers drawn at random
// (weighted, roundrobin) are never cached.
//
// A query does not know in advance how much of its client address will
// matter, so the cache keeps, per key without the address, the set of
// dependency lengths its answers had, and tries each.

// DefaultAnswerCacheSize is the number of responses one snapshot's cache
// keeps; once full, further answers are computed as if uncached.
const DefaultAnswerCacheSize = 100_000

const cacheShards = 64

type answerCache struct {
	gen   uint64 // of the Locator the answers were decided with
	seed  maphash.Seed
	limit int64
	size  atomic.Int64

	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	answers map[uint64]*cachedAnswer
	deps    map[uint64]depSet // by the hash of a base key
	_       [16]byte
}

// depSet has bit d set when an answer for the base key depended on d bits
// of the client address (0 to 128).
type depSet [3]uint64

// cachedAnswer is one packed response and what a hit needs besides.
type cachedAnswer struct {
	key       []byte
	wire      []byte
	ecsLen    int // octets of the ECS address at the end of wire
	qEnd      int // end of the question section
	optLen    int // octets of the OPT record at the end of wire; 0 without
	rcode     int
	truncated bool
	qtype     uint16
	rrlClass  byte
	rrlName   string
	rec       countRecord
}

func newAnswerCache(limit int, gen uint64) *answerCache {
	c := &answerCache{gen: gen, seed: maphash.MakeSeed(), limit: int64(limit)}
	for i := range c.shards {
		c.shards[i].answers = map[uint64]*cachedAnswer{}
		c.shards[i].deps = map[uint64]depSet{}
	}
	return c
}

// generationer is a Locator that tells when its answers change
// (*geo.DB does).
type generationer interface{ Generation() uint64 }

// locatorGeneration is the generation of the snapshot's Locator (0
// without one), and false when answers cannot be cached: no snapshot, or
// a Locator that cannot tell when it changes.
func (s *Snapshot) locatorGeneration() (uint64, bool) {
	switch {
	case s == nil:
		return 0, false
	case s.locator == nil:
		return 0, true
	}
	g, ok := s.locator.(generationer)
	if !ok {
		return 0, false
	}
	return g.Generation(), true
}

// maxKey: a name of at most 254 characters without escapes, then the
// fixed fields of base, then a dependency length and 16 address octets.
const maxKey = 256 + 10 + 17

// cacheKey is built on the stack; n is the length of the base key (no
// address), full the length with it.
type cacheKey struct {
	b    [maxKey]byte
	n    int
	full int
}

// keyFields are the parts of a base key besides the name.
type keyFields struct {
	qtype, qclass              uint16
	tcp, edns, do, ecs, useECS bool
	limit                      int // the client's UDP limit; 0 over TCP
	family, source             byte
}

// base builds the key without the client address from a query of one
// question whose OPT (nil without) is valid and whose ECS q has parsed
// and whose client q has chosen. It reports false for what is never
// cached: names with escapes, or too long.
func (k *cacheKey) base(req *dns.Msg, opt *dns.OPT, tcp bool, q *query) bool {
	qn := req.Question[0]
	if len(qn.Name) > 254 || !plainName(qn.Name) {
		return false
	}
	n := 0
	for i := 0; i < len(qn.Name); i++ {
		c := qn.Name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		k.b[n] = c
		n++
	}
	f := keyFields{qtype: qn.Qtype, qclass: qn.Qclass, tcp: tcp, useECS: q.useECS}
	if !tcp {
		f.limit = udpSize(opt)
	}
	if opt != nil {
		f.edns, f.do = true, opt.Do()
		if q.ecs != nil {
			f.ecs, f.family, f.source = true, byte(q.ecs.Family), q.ecs.SourceNetmask
		}
	}
	k.fixed(n, f)
	return true
}

// fixed writes f after the n octets of name already in k.
func (k *cacheKey) fixed(n int, f keyFields) {
	var flags byte
	for bit, set := range [...]bool{f.tcp, f.edns, f.do, f.ecs, f.useECS} {
		if set {
			flags |= 1 << bit
		}
	}
	k.b[n] = 0 // no name has a NUL without escapes
	k.b[n+1], k.b[n+2] = byte(f.qtype>>8), byte(f.qtype)
	k.b[n+3], k.b[n+4] = byte(f.qclass>>8), byte(f.qclass)
	k.b[n+5] = flags
	k.b[n+6], k.b[n+7] = byte(f.limit>>8), byte(f.limit)
	k.b[n+8], k.b[n+9] = f.family, f.source
	k.n = n + 10
}

// withClient completes the key with dep bits of the client address;
// false when dep is more than the address has.
func (k *cacheKey) withClient(dep int, addr netip.Addr) bool {
	n := k.n
	k.b[n] = byte(dep)
	clear(k.b[n+1 : n+17])
	if dep > 0 {
		p, err := addr.Prefix(dep)
		if err != nil {
			return false
		}
		a := p.Addr().As16()
		copy(k.b[n+1:], a[:])
	}
	k.full = n + 17
	return true
}

// lookup returns the cached answer for the query whose base key is k and
// whose decision would use the client address addr, or nil.
func (c *answerCache) lookup(k *cacheKey, addr netip.Addr) *cachedAnswer {
	h0 := maphash.Bytes(c.seed, k.b[:k.n])
	sh := &c.shards[h0%cacheShards]
	sh.mu.RLock()
	deps, ok := sh.deps[h0]
	sh.mu.RUnlock()
	if !ok {
		return nil
	}
	for w, set := range deps {
		for ; set != 0; set &= set - 1 {
			if !k.withClient(w*64+bits.TrailingZeros64(set), addr) {
				continue
			}
			full := k.b[:k.full]
			h := maphash.Bytes(c.seed, full)
			sh := &c.shards[h%cacheShards]
			sh.mu.RLock()
			e := sh.answers[h]
			sh.mu.RUnlock()
			if e != nil && string(e.key) == string(full) {
				return e
			}
		}
	}
	return nil
}

// put caches e under k (base and client complete, for q.dep bits),
// unless the cache is full or has it already.
func (c *answerCache) put(k *cacheKey, dep int, e *cachedAnswer) {
	if c.size.Load() >= c.limit {
		return
	}
	e.key = append([]byte(nil), k.b[:k.full]...)
	h := maphash.Bytes(c.seed, e.key)
	sh := &c.shards[h%cacheShards]
	sh.mu.Lock()
	if _, dup := sh.answers[h]; dup {
		sh.mu.Unlock()
		return
	}
	sh.answers[h] = e
	sh.mu.Unlock()
	c.size.Add(1)

	h0 := maphash.Bytes(c.seed, k.b[:k.n])
	sh = &c.shards[h0%cacheShards]
	sh.mu.Lock()
	d := sh.deps[h0]
	d[dep/64] |= 1 << (dep % 64)
	sh.deps[h0] = d
	sh.mu.Unlock()
}

// Len is the number of cached responses.
func (c *answerCache) Len() int { return int(c.size.Load()) }

// ecsAddr writes into a the address octets of q's ECS option as a
// response echoes them, and returns how many there are.
func ecsAddr(q *query, a *[16]byte) int {
	if q.ecs == nil || !q.ecsNet.IsValid() {
		return 0
	}
	n := (q.ecsNet.Bits() + 7) / 8
	if q.ecsNet.Addr().Is4() && q.ecs.Family == 1 {
		v := q.ecsNet.Addr().As4()
		copy(a[:], v[:])
	} else {
		*a = q.ecsNet.Addr().As16()
	}
	return n
}
