package dnsserver

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// RRLConfig is response rate limiting (RRL) as Knot and BIND do it: a
// name server answering UDP can be made to send its answers to a spoofed
// victim's address; RRL caps how many identical responses one client
// network gets per second, so that Meridian is no use as an amplifier and
// a flood costs little, while real clients are still served: every
// Slip-th limited response goes out truncated (TC, no records), which
// sends a real resolver to TCP, where no address can be spoofed.
//
// Responses are identical when they go to the same client prefix and
// have the same class: a positive answer by query name and type; NXDOMAIN
// and NODATA by zone (so a flood of random names is one class); a
// referral by delegation; every error rcode together. TCP is never
// limited.
type RRLConfig struct {
	// ResponsesPerSecond is the rate of identical responses one client
	// prefix may get; zero turns RRL off.
	ResponsesPerSecond int
	// Slip: every Slip-th limited response is sent truncated instead of
	// dropped; 1 truncates them all, 0 drops them all. Use DefaultRRLSlip
	// for BIND's and Knot's default of 2.
	Slip int
	// Window is how far back a flood is remembered: a client that kept
	// sending above the rate stays limited for up to Window after it
	// slows down (BIND's window). Zero means 15s.
	Window time.Duration
	// IPv4Prefix and IPv6Prefix are the lengths of the client networks
	// responses are counted by. Zero means 24 and 56.
	IPv4Prefix, IPv6Prefix int
	// Buckets is the number of counters kept (each 32 bytes); classes
	// beyond it share counters. Zero means 65536.
	Buckets int
}

// Defaults of RRLConfig.
const (
	DefaultRRLSlip       = 2
	DefaultRRLWindow     = 15 * time.Second
	DefaultRRLIPv4Prefix = 24
	DefaultRRLIPv6Prefix = 56
	DefaultRRLBuckets    = 1 << 16
	maxRRLRate           = 1_000_000
	maxRRLWindow         = time.Hour
)

// withDefaults fills the zero values other than ResponsesPerSecond and
// Slip (zero is meaningful for both).
func (c RRLConfig) withDefaults() RRLConfig {
	if c.Window == 0 {
		c.Window = DefaultRRLWindow
	}
	if c.IPv4Prefix == 0 {
		c.IPv4Prefix = DefaultRRLIPv4Prefix
	}
	if c.IPv6Prefix == 0 {
		c.IPv6Prefix = DefaultRRLIPv6Prefix
	}
	if c.Buckets == 0 {
		c.Buckets = DefaultRRLBuckets
	}
	return c
}

// Validate checks the values; the error names the field.
func (c RRLConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.ResponsesPerSecond < 0 || c.ResponsesPerSecond > maxRRLRate:
		return fmt.Errorf("responses_per_second must be between 0 (off) and %d", maxRRLRate)
	case c.Slip < 0 || c.Slip > 10:
		return errors.New("slip must be between 0 (drop every limited response) and 10")
	case c.Window < time.Second || c.Window > maxRRLWindow:
		return errors.New("window must be between 1s and 1h")
	case c.IPv4Prefix < 1 || c.IPv4Prefix > 32:
		return errors.New("ipv4_prefix must be between 1 and 32")
	case c.IPv6Prefix < 1 || c.IPv6Prefix > 128:
		return errors.New("ipv6_prefix must be between 1 and 128")
	case c.Buckets < rrlShards || c.Buckets > 1<<24:
		return fmt.Errorf("buckets must be between %d and %d", rrlShards, 1<<24)
	}
	return nil
}

// rrlAction is what happens to one UDP response.
type rrlAction uint8

const (
	rrlSend rrlAction = iota
	rrlDrop
	rrlSlip
)

// rrlShards: the buckets are split among this many locks, so concurrent
// queries from different clients rarely meet on one.
const rrlShards = 256

// rrl is the limiter: a fixed table of token buckets addressed by a
// seeded hash of (client prefix, response class), as in Knot. A bucket
// whose hash differs is taken over. The table never grows, so a spoofed
// flood of random sources costs memory once, at New.
type rrl struct {
	// Balances are in nanoresponses: a response costs 1e9, a second
	// credits rate*1e9; the balance is capped at one second of credit
	// and floored at Window's worth of debt.
	rate           int64 // responses per second: nanoresponses per nanosecond
	cost, max, min int64
	horizon        int64 // nanoseconds of credit that can matter
	slip           uint32
	v4, v6         int
	seed           maphash.Seed
	epoch          time.Time
	shards         [rrlShards]rrlShard
}

type rrlShard struct {
	mu      sync.Mutex
	buckets []rrlBucket
	_       [40]byte // keep shards on separate cache lines
}

type rrlBucket struct {
	key     uint64
	last    int64 // nanoseconds since epoch of the last response counted
	balance int64
	limited uint32 // limited responses, for Slip
}

func newRRL(c RRLConfig) *rrl {
	c = c.withDefaults()
	rate := int64(c.ResponsesPerSecond)
	r := &rrl{
		rate:    rate,
		cost:    1e9,
		max:     rate * 1e9,
		min:     -rate * int64(c.Window),
		horizon: int64(c.Window) + int64(time.Second),
		slip:    uint32(c.Slip),
		v4:      c.IPv4Prefix,
		v6:      c.IPv6Prefix,
		seed:    maphash.MakeSeed(),
		epoch:   time.Now(),
	}
	per := c.Buckets / rrlShards
	for i := range r.shards {
		r.shards[i].buckets = make([]rrlBucket, per)
	}
	return r
}

// Response classes of the key.
const (
	rrlPositive byte = iota + 1
	rrlNegative      // NXDOMAIN and NODATA, by zone
	rrlReferral      // by delegation
	rrlError         // every other rcode, together
)

// classify returns m's class and the name that identifies it.
func classify(m *dns.Msg) (byte, string) {
	switch m.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return rrlNegative, authorityOwner(m)
	default:
		return rrlError, ""
	}
	if len(m.Answer) > 0 && len(m.Question) == 1 {
		return rrlPositive, m.Question[0].Name
	}
	if len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeNS {
		return rrlReferral, m.Ns[0].Header().Name
	}
	return rrlNegative, authorityOwner(m)
}

func authorityOwner(m *dns.Msg) string {
	if len(m.Ns) > 0 {
		return m.Ns[0].Header().Name
	}
	return ""
}

// key hashes the client prefix and m's class.
func (r *rrl) key(src netip.Addr, m *dns.Msg) uint64 {
	class, name := classify(m)
	var qtype uint16
	if class == rrlPositive {
		qtype = m.Question[0].Qtype
	}
	return r.keyOf(src, class, name, qtype)
}

// keyOf hashes the client prefix and a response class: class, the name
// that identifies it, and for a positive answer the query type.
func (r *rrl) keyOf(src netip.Addr, class byte, name string, qtype uint16) uint64 {
	bits := r.v6
	if src.Is4() {
		bits = r.v4
	}
	p, _ := src.Prefix(bits) // an invalid src hashes as the zero prefix
	var h maphash.Hash
	h.SetSeed(r.seed)
	a := p.Addr().As16()
	_, _ = h.Write(a[:])
	_ = h.WriteByte(class)
	if class == rrlPositive {
		_ = h.WriteByte(byte(qtype >> 8))
		_ = h.WriteByte(byte(qtype))
	}
	writeLower(&h, name)
	return h.Sum64()
}

// writeLower hashes name in lower case (names compare without case), in
// one call when it has no upper-case letter, as most names do.
func writeLower(h *maphash.Hash, name string) {
	upper := false
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		_, _ = h.WriteString(name)
		return
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		_ = h.WriteByte(c)
	}
}

// decide counts one UDP response m to src and says whether to send it.
func (r *rrl) decide(src netip.Addr, m *dns.Msg) rrlAction {
	return r.decideAt(src, m, int64(time.Since(r.epoch)))
}

// decideKey is decide for a response whose class keyOf has hashed.
func (r *rrl) decideKey(k uint64) rrlAction {
	return r.decideHash(k, int64(time.Since(r.epoch)))
}

func (r *rrl) decideAt(src netip.Addr, m *dns.Msg, now int64) rrlAction {
	return r.decideHash(r.key(src, m), now)
}

func (r *rrl) decideHash(k uint64, now int64) rrlAction {
	sh := &r.shards[k%rrlShards]
	sh.mu.Lock()
	b := &sh.buckets[(k/rrlShards)%uint64(len(sh.buckets))]
	if b.key != k || b.last == 0 {
		*b = rrlBucket{key: k, last: now, balance: r.max}
	} else {
		elapsed := min(now-b.last, r.horizon)
		if elapsed > 0 {
			b.last = now
			b.balance = min(b.balance+elapsed*r.rate, r.max)
		}
	}
	b.balance = max(b.balance-r.cost, r.min)
	if b.balance >= 0 {
		sh.mu.Unlock()
		return rrlSend
	}
	b.limited++
	n := b.limited
	sh.mu.Unlock()
	if r.slip > 0 && n%r.slip == 0 {
		return rrlSlip
	}
	return rrlDrop
}

// slipped turns m into the truncated response RRL sends instead of a
// limited one: the header, the question and the OPT record only, with
// TC set, so that the client retries over TCP.
func slipped(m *dns.Msg) {
	m.Truncated = true
	m.Answer, m.Ns = nil, nil
	var opt []dns.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = append(opt, rr)
		}
	}
	m.Extra = opt
}
