package dnsserver

import (
	"net/netip"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/geo"
)

// Locator finds where a client network is. *geo.DB satisfies it. A nil
// Locator means no GeoIP database: nothing is found, and steps that need a
// location keep their candidates.
type Locator interface {
	// LookupPrefix locates the client network p by its first address.
	LookupPrefix(p netip.Prefix) geo.Result
}

// region is a compiled model.Region. idx is its position in name order,
// which indexes the preference tables of region steps.
type region struct {
	name string
	idx  int
}

// datacenter is a compiled model.Datacenter.
type datacenter struct {
	name     string
	idx      int     // position in Snapshot.dcList, for metrics
	region   *region // nil when the data center names none
	lat, lon float64
	// drain and forceDown are the state file's flags; they apply to every
	// endpoint in the data center that no API override covers.
	drain, forceDown bool
	// override is the operator's API override of the data center, if any.
	override *override
}

// health is what the snapshot knows of an endpoint's state. Unknown
// serves like up: a cold start must not black-hole traffic.
type health uint8

const (
	healthUnknown health = iota
	healthUp
	healthDown
)

// endpoint is a compiled model.Endpoint of one service. A snapshot holds
// one per endpoint of every service (400,000 for 100,000 services of four),
// so its fields are ordered and sized to fit 80 bytes.
type endpoint struct {
	dc *datacenter
	// rr is the answer record, owned by the snapshot: an A or AAAA with
	// the service's name and TTL, or a CNAME (whose Target is canonical:
	// see cname).
	rr      dns.RR
	address string // as configured, for explanations
	// override is the API override in effect (the endpoint's own, else its
	// data center's), for explanations; nil when none applies.
	override *override
	// load is the load the health checks report (0 to 1); hasLoad says
	// whether there is any: the mean load of the verdict's up votes.
	load float64
	// hash is the FNV-1a hash of the address, the endpoint's half of the
	// sticky step's rendezvous hash.
	hash     uint64
	weight   int32
	priority int32
	// health and drained are the endpoint's effective state, decided at
	// Build (endpointState): the checkers' verdict under the operator's
	// override or the state file's flags. drained is kept apart from
	// health so that fail-open can still leave drained endpoints out.
	health  health
	drained bool
	hasLoad bool
}

// cname is the canonical target of a CNAME service's endpoint, "" for
// an address.
func (e *endpoint) cname() string {
	if c, ok := e.rr.(*dns.CNAME); ok {
		return c.Target
	}
	return ""
}

// usable reports whether the healthy step keeps the endpoint.
func (e *endpoint) usable() bool { return e.health != healthDown && !e.drained }

// healthString is the endpoint's state for explanations: down wins over
// drained, unknown serves like up.
func (e *endpoint) healthString() string {
	switch {
	case e.health == healthDown:
		return "down"
	case e.drained:
		return "drained"
	case e.health == healthUnknown:
		return "unknown"
	}
	return "up"
}

// fallbackMode says what a service answers when its healthy step finds
// nothing healthy.
type fallbackMode uint8

const (
	fallbackAll fallbackMode = iota // fail open: every endpoint not drained goes on
	fallbackNone
	fallbackBackup
)

func (f fallbackMode) String() string {
	switch f {
	case fallbackNone:
		return "none"
	case fallbackBackup:
		return "backup"
	}
	return "all"
}

// stepKind is a policy step, compiled.
type stepKind uint8

const (
	stepHealthy stepKind = iota
	stepRegion
	stepNearest
	stepPriority
	stepWeighted
	stepSticky
	stepLeastLoad
	stepRoundRobin
	stepFirst
)

// step is one compiled step of a service's chain.
type step struct {
	kind stepKind
	name string // the model's step name
	args string // the arguments as written, for explanations; "" if none
	// first is the count of a first step.
	first int
	// prefer is the map of a region step, by region index: the preferred
	// data centers in order, nil for a region the map does not name. A
	// region step without a map has a nil prefer.
	prefer [][]*datacenter
	// counter rotates a roundrobin step: one atomic add per query, the
	// only thing in a snapshot that a query writes.
	counter atomic.Uint64
}

// service is a compiled model.Service.
type service struct {
	idx        int    // position in Snapshot.services, for metrics
	zone       string // apex of the zone that holds it
	name       string // canonical
	typ        string // "A", "AAAA" or "CNAME"
	policy     string // as written, for explanations
	chain      []step
	endpoints  []endpoint
	backup     *backupSet // the fallback's addresses; nil without fallback backup
	maxAnswers int
	ttl        uint32
	rrtype     uint16 // dns.TypeA, TypeAAAA or TypeCNAME
	fallback   fallbackMode
}

// backupSet is the fallback's answer: its records, their canonical
// targets for a CNAME service, and the addresses as configured.
type backupSet struct {
	rrs     []dns.RR
	targets []string
	text    []string
}

// addresses are the backup addresses as configured, nil without any.
func (b *backupSet) addresses() []string {
	if b == nil {
		return nil
	}
	return b.text
}

// fnv64 is FNV-1a, 64 bits: fast, and the same on every node, so that
// every name server of a cluster gives a client network the same sticky
// answer.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// mix64 is the finalizer of SplitMix64: it spreads FNV's weak low-order
// avalanche over all 64 bits, so that rendezvous scores behave like
// independent random numbers.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
