package dnsserver

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/meridian-gslb/meridian/geo"
)

// cand is one candidate endpoint of a decision, with scratch space for the
// key a step sorts by. Candidates live in a per-query buffer: steps filter
// and reorder the buffer, never the snapshot's endpoints.
type cand struct {
	ep  *endpoint
	key uint64
}

// Notes of steps that fell back (Explanation). Constant strings: the DNS
// path must not allocate for them.
const (
	noteFailOpen       = "nothing healthy: fallback all, every endpoint not drained goes on"
	noteFailOpenAll    = "nothing healthy, all drained: fallback all, every endpoint goes on"
	noteFallbackNone   = "nothing healthy: fallback none answers no records"
	noteFallbackBack   = "nothing healthy: fallback backup answers the backup addresses"
	noteOneDC          = "one data center: the client's location cannot change the answer"
	noteNoRegion       = "the client has no region: kept all"
	noteRegionNotInMap = "the client's region is not in the map: kept all"
	noteRegionEmpty    = "no candidate in the client's region: kept all"
	noteNoLocation     = "no location: kept all"
	noteNoLoad         = "no load data: kept the order"
	noteNoClient       = "no client address: kept the order"
)

// decide runs svc's policy chain for the query and returns the chosen
// candidates in q's buffer, capped at max_answers, or, when the healthy
// step found nothing healthy and the fallback is none or backup, no
// candidates and that fallback. It is the one decision function of the
// DNS path and of Explain; with q.tr nil it records nothing and allocates
// nothing (for services of at most stackCandidates endpoints).
func (s *Snapshot) decide(svc *service, q *query) ([]cand, fallbackMode) {
	var c []cand
	if n := len(svc.endpoints); n <= len(q.buf) {
		c = q.buf[:n]
	} else {
		c = make([]cand, n)
	}
	for i := range svc.endpoints {
		c[i] = cand{ep: &svc.endpoints[i]}
	}
	tr := q.tr
	if tr != nil {
		tr.service(svc)
	}
	for i := range svc.chain {
		st := &svc.chain[i]
		if q.routing && st.kind.picks() {
			continue
		}
		var before []cand
		if tr != nil {
			before = slices.Clone(c)
		}
		scope := q.scope
		var note string
		fb := fallbackAll
		switch st.kind {
		case stepHealthy:
			c, note, fb = healthy(c, svc.fallback)
			if note != "" && q.st != nil {
				q.st.fallback(svc, fb, q.rec) // nothing was healthy
			}
		case stepRegion:
			c, note = s.regionStep(st, c, q)
		case stepNearest:
			c, note = s.nearest(c, q)
		case stepPriority:
			c = lowestPriority(c)
		case stepWeighted:
			weighted(c)
			q.random = true
		case stepSticky:
			note = sticky(c, q)
		case stepLeastLoad:
			note = leastLoad(c)
		case stepRoundRobin:
			rotate(c, st.counter.Add(1)-1)
			q.random = true
		case stepFirst:
			c = c[:min(len(c), st.first)]
		}
		if tr != nil {
			tr.step(st, before, c, note, q, scope)
		}
		if fb != fallbackAll {
			if tr != nil {
				tr.fallback(fb)
			}
			return nil, fb
		}
	}
	if svc.maxAnswers > 0 && len(c) > svc.maxAnswers {
		c = c[:svc.maxAnswers]
	}
	if tr != nil {
		tr.chosen(c)
	}
	return c, fallbackAll
}

// healthy keeps the endpoints that are neither down nor drained. When none
// is left the fallback decides: all (fail open) keeps every endpoint that
// is not drained, or every endpoint when all are drained, and the chain
// goes on; none and backup end the chain.
func healthy(c []cand, fb fallbackMode) ([]cand, string, fallbackMode) {
	k := 0
	for i := range c {
		if c[i].ep.usable() {
			c[k] = c[i]
			k++
		}
	}
	if k > 0 {
		return c[:k], "", fallbackAll
	}
	switch fb {
	case fallbackNone:
		return c[:0], noteFallbackNone, fallbackNone
	case fallbackBackup:
		return c[:0], noteFallbackBack, fallbackBackup
	}
	// c is untouched: nothing was usable, so nothing moved.
	for i := range c {
		if !c[i].ep.drained {
			c[k] = c[i]
			k++
		}
	}
	if k == 0 {
		return c, noteFailOpenAll, fallbackAll
	}
	return c[:k], noteFailOpen, fallbackAll
}

// oneDC reports whether every candidate is in the same data center.
func oneDC(c []cand) bool {
	for i := 1; i < len(c); i++ {
		if c[i].ep.dc != c[0].ep.dc {
			return false
		}
	}
	return true
}

// regionStep keeps the candidates of the client's region. With a map, the
// client's region's preferred data centers, in the map's order; without,
// the endpoints whose data center is in the client's region. It keeps all
// when the client has no region, its region is not in the map, or nothing
// would be left.
func (s *Snapshot) regionStep(st *step, c []cand, q *query) ([]cand, string) {
	if oneDC(c) {
		return c, noteOneDC
	}
	r := s.clientRegion(q)
	q.depends(s.geoScope(q))
	if r == nil {
		return c, noteNoRegion
	}
	var prefer []*datacenter
	if st.prefer != nil {
		if prefer = st.prefer[r.idx]; prefer == nil {
			return c, noteRegionNotInMap
		}
	}
	k := 0
	for i := range c {
		pos := -1
		if prefer == nil {
			if c[i].ep.dc.region == r {
				pos = 0
			}
		} else {
			for j, dc := range prefer {
				if c[i].ep.dc == dc {
					pos = j
					break
				}
			}
		}
		if pos >= 0 {
			c[i].key = uint64(pos)
			k++
		} else {
			c[i].key = math.MaxUint64
		}
	}
	if k == 0 {
		return c, noteRegionEmpty
	}
	sortByKey(c)
	return c[:k], ""
}

// nearest keeps the candidates of the data center(s) nearest to the
// client by great-circle distance; equally distant ones are all kept.
func (s *Snapshot) nearest(c []cand, q *query) ([]cand, string) {
	if oneDC(c) {
		return c, noteOneDC
	}
	loc := s.location(q)
	q.depends(s.geoScope(q))
	if !loc.HasCoords {
		return c, noteNoLocation
	}
	best := uint64(math.MaxUint64)
	for i := range c {
		dc := c[i].ep.dc
		if i > 0 && dc == c[i-1].ep.dc {
			c[i].key = c[i-1].key
		} else {
			// Distances are not negative, so their bits order like them.
			c[i].key = math.Float64bits(geo.Distance(loc.Lat, loc.Lon, dc.lat, dc.lon))
		}
		best = min(best, c[i].key)
	}
	k := 0
	for i := range c {
		if c[i].key == best {
			c[k] = c[i]
			k++
		}
	}
	return c[:k], ""
}

// lowestPriority keeps the candidates of the lowest priority value.
func lowestPriority(c []cand) []cand {
	lowest := int32(math.MaxInt32)
	for i := range c {
		lowest = min(lowest, c[i].ep.priority)
	}
	k := 0
	for i := range c {
		if c[i].ep.priority == lowest {
			c[k] = c[i]
			k++
		}
	}
	return c[:k]
}

// weighted orders the candidates by weighted random sampling without
// replacement: each place is drawn among the candidates left with
// probability proportional to weight. A weight of 0 is never drawn while a
// positive weight is left; candidates of weight 0 come last, shuffled.
func weighted(c []cand) {
	var total int64
	for i := range c {
		total += int64(c[i].ep.weight)
	}
	for i := 0; i < len(c)-1; i++ {
		if total <= 0 {
			rest := c[i:]
			rand.Shuffle(len(rest), func(a, b int) { rest[a], rest[b] = rest[b], rest[a] })
			return
		}
		r := rand.Int64N(total)
		j := i
		for ; j < len(c)-1; j++ {
			if r < int64(c[j].ep.weight) {
				break
			}
			r -= int64(c[j].ep.weight)
		}
		total -= int64(c[j].ep.weight)
		c[i], c[j] = c[j], c[i]
	}
}

// sticky orders the candidates by rendezvous (highest random weight)
// hashing of the client network and the endpoint: a client network keeps
// its first candidate as long as that one stays, and losing a candidate
// moves only its own clients.
func sticky(c []cand, q *query) string {
	net := q.stickyNet()
	if !net.IsValid() {
		return noteNoClient
	}
	q.depends(net.Bits())
	h := uint64(fnvOffset)
	if net.Addr().Is4() {
		a := net.Addr().As4()
		h = fnvBytes(h, a[:])
	} else {
		a := net.Addr().As16()
		h = fnvBytes(h, a[:])
	}
	h ^= uint64(net.Bits())
	h = mix64(h * fnvPrime)
	for i := range c {
		c[i].key = ^mix64(h ^ c[i].ep.hash) // highest score first
	}
	sortByKey(c)
	return ""
}

// leastLoad orders the candidates by reported load, lowest first; those
// without load data come last, in their order.
func leastLoad(c []cand) string {
	any := false
	for i := range c {
		if c[i].ep.hasLoad {
			c[i].key = math.Float64bits(max(c[i].ep.load, 0))
			any = true
		} else {
			c[i].key = math.MaxUint64
		}
	}
	if !any {
		return noteNoLoad
	}
	sortByKey(c)
	return ""
}

// rotate turns c left by k places, in place.
func rotate(c []cand, k uint64) {
	if len(c) < 2 {
		return
	}
	n := int(k % uint64(len(c)))
	reverse(c[:n])
	reverse(c[n:])
	reverse(c)
}

func reverse(c []cand) {
	for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
		c[i], c[j] = c[j], c[i]
	}
}

// sortByKey sorts candidates by key, stably: an insertion sort, which
// allocates nothing, for the short lists of most services.
func sortByKey(c []cand) {
	if len(c) > 64 {
		slices.SortStableFunc(c, func(a, b cand) int { return cmp.Compare(a.key, b.key) })
		return
	}
	for i := 1; i < len(c); i++ {
		x := c[i]
		j := i
		for ; j > 0 && c[j-1].key > x.key; j-- {
			c[j] = c[j-1]
		}
		c[j] = x
	}
}
