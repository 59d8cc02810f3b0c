package geo

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
)

// cache is a bounded, concurrency-safe map from a masked client prefix to
// its lookup Result. It is split into shards, each a map behind its own
// RWMutex, so that queries for different prefixes rarely touch the same
// lock; a hit takes one read lock and does one map lookup.
//
// Each entry carries the generation of the database state it was computed
// from; an entry of an older generation is a miss. Reload also purges the
// shards, to free memory at once, but correctness rests on the generation:
// a lookup that started before a reload may insert its old result after
// the purge, and the generation makes it invisible.
//
// A full shard evicts one entry at random (Go randomises where a map
// iteration starts) before inserting: no bookkeeping on the hit path, and
// memory stays bounded.
type cache struct {
	shards []shard
	mask   uint64
}

type shard struct {
	mu     sync.RWMutex
	m      map[netip.Prefix]*entry
	max    int
	hits   atomic.Uint64
	misses atomic.Uint64
	_      [64]byte // keep neighbouring shards off this cache line
}

type entry struct {
	gen uint64
	r   Result
}

// newCache makes a cache of about size entries in all.
func newCache(size int) *cache {
	n := 64
	for n > 1 && size/n < 64 {
		n /= 2
	}
	c := &cache{shards: make([]shard, n), mask: uint64(n - 1)}
	per := (size + n - 1) / n
	for i := range c.shards {
		// No size hint: a map of 65,536 entries made up front holds 12
		// MiB before the first query, and most servers see far fewer
		// client networks.
		c.shards[i].m = make(map[netip.Prefix]*entry)
		c.shards[i].max = per
	}
	return c
}

// shard picks the shard of a masked prefix by a cheap mix of its bits.
func (c *cache) shard(p netip.Prefix) *shard {
	a := p.Addr().As16()
	hi, lo := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])
	h := hi*0x9e3779b97f4a7c15 ^ lo*0xc2b2ae3d27d4eb4f ^ uint64(p.Bits())
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 29
	return &c.shards[h&c.mask]
}

// get returns the cached Result of p if it is of generation gen, and
// counts the lookup as a hit or a miss.
func (s *shard) get(p netip.Prefix, gen uint64) (Result, bool) {
	s.mu.RLock()
	e := s.m[p]
	s.mu.RUnlock()
	if e != nil && e.gen == gen {
		s.hits.Add(1)
		return e.r, true
	}
	s.misses.Add(1)
	return Result{}, false
}

// put stores the Result of p computed from generation gen.
func (s *shard) put(p netip.Prefix, gen uint64, r Result) {
	e := &entry{gen: gen, r: r}
	s.mu.Lock()
	if old, ok := s.m[p]; ok {
		if old.gen <= gen {
			s.m[p] = e
		}
		s.mu.Unlock()
		return
	}
	if len(s.m) >= s.max {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[p] = e
	s.mu.Unlock()
}

// purge drops every entry.
func (c *cache) purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

// counts returns the lookups (hits and misses) and the hits so far.
func (c *cache) counts() (lookups, hits uint64) {
	for i := range c.shards {
		h := c.shards[i].hits.Load()
		lookups += h + c.shards[i].misses.Load()
		hits += h
	}
	return lookups, hits
}

// len returns the number of entries, for tests.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
