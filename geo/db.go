package geo

import (
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DefaultCacheSize is the number of per-prefix cache entries when
// Options.CacheSize is 0.
const DefaultCacheSize = 65536

// Options configure a DB.
type Options struct {
	// Logger receives reloads and reload failures; nil discards.
	Logger *slog.Logger
	// CacheSize is the number of entries of the per-prefix lookup cache
	// used by LookupPrefix: 0 means DefaultCacheSize, negative disables it.
	CacheSize int
	// SkipVerify skips maxminddb's full Verify of each file at Open and
	// Reload. Verify walks the whole search tree and data section (a
	// second or so for a full-size City database) and is what catches a
	// truncated or corrupt replacement; skip it only if start-up time
	// matters more.
	SkipVerify bool
	// MMap maps the files into memory instead of reading them onto the
	// heap. Mapping shares the page cache and costs no heap, but a file
	// that is rewritten or truncated in place (cp over it, instead of
	// write and rename as geoipupdate does) can then crash the process
	// with SIGBUS. Off by default.
	MMap bool
}

// Stats are the counters and metadata of a DB.
type Stats struct {
	Lookups        uint64 // Lookup and LookupPrefix calls
	CacheHits      uint64 // LookupPrefix calls answered from the cache
	LookupErrors   uint64 // lookups whose record could not be read (answered as not found)
	Reloads        uint64 // successful reloads
	ReloadFailures uint64 // failed reloads (the previous database stayed in use)
	CityType       string // metadata database type, e.g. "GeoIP2-City"
	ASNType        string // "" without an ASN database
	CityBuild      time.Time
	ASNBuild       time.Time
}

// DB is a City or Country database (MaxMind GeoIP2/GeoLite2 or DB-IP
// layout) plus an optional ASN database. It is safe for concurrent use;
// lookups never block on a reload.
type DB struct {
	cityPath, asnPath string
	opts              Options
	log               *slog.Logger
	cache             *cache // nil when disabled

	state atomic.Pointer[state]

	lookups        atomic.Uint64 // uncached lookups; cached ones count per shard
	lookupErrors   atomic.Uint64
	reloads        atomic.Uint64
	reloadFailures atomic.Uint64

	mu        sync.Mutex // serialises Reload, Close and the watcher's bookkeeping
	failed    [2]fileID  // files of the last failed reload, not retried until they change
	hasFailed bool
	closed    bool
}

// state is one generation of loaded readers. It is immutable once
// published; a reload publishes a new one.
//
// Readers are never closed. A replaced state becomes garbage as soon as no
// lookup holds it, and maxminddb releases a reader's memory (or unmaps its
// file) when the garbage collector finds the reader unreachable. A lookup
// in flight keeps its state reachable, so it can never see a closed or
// unmapped reader. See README.md, "Decisions".
type state struct {
	gen  uint64
	city *maxminddb.Reader // nil after Close
	kind kind
	asn  *maxminddb.Reader
	ids  [2]fileID
}

// Open opens the City or Country database at cityPath and, when asnPath is
// not "", the ASN database there. Each file is read, its metadata database
// type checked and (unless opts.SkipVerify) the whole file verified; a
// missing, unreadable, corrupt or wrong-type file is an error that names
// it.
func Open(cityPath, asnPath string, opts Options) (*DB, error) {
	if cityPath == "" {
		return nil, ErrNoPath
	}
	st, _, err := openState(cityPath, asnPath, opts)
	if err != nil {
		return nil, err
	}
	d := &DB{cityPath: cityPath, asnPath: asnPath, opts: opts, log: opts.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	size := opts.CacheSize
	if size == 0 {
		size = DefaultCacheSize
	}
	if size > 0 {
		d.cache = newCache(size)
	}
	st.gen = 1
	d.state.Store(st)
	return d, nil
}

// Lookup locates addr without the cache. IPv4-mapped IPv6 addresses are
// unmapped first; an invalid address gives the zero Result.
func (d *DB) Lookup(addr netip.Addr) Result {
	if d == nil {
		return unknown(addr)
	}
	d.lookups.Add(1)
	return d.lookup(d.state.Load(), addr)
}

// LookupPrefix locates the client network p the way RFC 7871 asks for an
// ECS option: by its first address (p is masked; an IPv4-mapped prefix of
// at least /96 is turned into its IPv4 form). Results are cached per
// masked prefix until the next reload. The Result is the one Lookup gives
// for p's first address; an invalid prefix gives the zero Result.
func (d *DB) LookupPrefix(p netip.Prefix) Result {
	p, ok := normPrefix(p)
	if !ok {
		return Result{}
	}
	if d == nil {
		return unknown(p.Addr())
	}
	st := d.state.Load()
	if d.cache == nil {
		d.lookups.Add(1)
		return d.lookup(st, p.Addr())
	}
	sh := d.cache.shard(p)
	if r, ok := sh.get(p, st.gen); ok {
		return r
	}
	r := d.lookup(st, p.Addr())
	sh.put(p, st.gen, r)
	return r
}

// lookup does the work of Lookup against one generation of readers.
func (d *DB) lookup(st *state, addr netip.Addr) Result {
	addr = addr.Unmap().WithZone("")
	if !addr.IsValid() {
		return Result{}
	}
	if st.city == nil {
		return unknown(addr)
	}
	var r Result
	res, net, ok := find(st.city, addr)
	r.Network = net
	switch {
	case !ok: // an IPv6 address and an IPv4-only database
	case res.Err() != nil:
		d.lookupErrors.Add(1)
	case res.Found():
		var err error
		if st.kind == kindCountry {
			r.Location, err = countryLocation(res)
		} else {
			r.Location, err = cityLocation(res)
		}
		if err != nil {
			d.lookupErrors.Add(1)
		} else {
			r.Found = true
		}
	}
	if st.asn != nil {
		ar, net, ok := find(st.asn, addr)
		r.ASNNetwork = net
		switch {
		case !ok:
		case ar.Err() != nil:
			d.lookupErrors.Add(1)
		case ar.Found():
			asn, org, err := asnOf(ar)
			if err != nil {
				d.lookupErrors.Add(1)
			} else {
				r.ASN, r.ASOrg = asn, org
			}
		}
	}
	return r
}

// find looks addr up in rd and returns the database network around it, in
// addr's family. An IPv6 address in an IPv4-only database is not looked up
// (maxminddb would call that an error): ok is false and the network ::/0.
func find(rd *maxminddb.Reader, addr netip.Addr) (res maxminddb.Result, net netip.Prefix, ok bool) {
	if addr.Is6() && rd.Metadata.IPVersion == 4 {
		return res, netip.PrefixFrom(netip.IPv6Unspecified(), 0), false
	}
	res = rd.Lookup(addr)
	p := res.Prefix()
	if addr.Is4() && p.IsValid() && !p.Addr().Is4() {
		// The IPv6 tree ends above its IPv4 subtree: no IPv4 data at all.
		return res, netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	}
	if !p.IsValid() || !p.Contains(addr) {
		return res, netip.PrefixFrom(addr, addr.BitLen()), true
	}
	return res, p, true
}

// unknown is the Result for a missing database: nothing is known anywhere
// in addr's family.
func unknown(addr netip.Addr) Result {
	addr = addr.Unmap()
	switch {
	case addr.Is4():
		return Result{Network: netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
	case addr.Is6():
		return Result{Network: netip.PrefixFrom(netip.IPv6Unspecified(), 0)}
	}
	return Result{}
}

// normPrefix masks p and turns an IPv4-mapped prefix into IPv4.
func normPrefix(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() {
		return netip.Prefix{}, false
	}
	a, bits := p.Addr().WithZone(""), p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked(), true
}

// Generation changes whenever the databases in use change (a reload, a
// close): an answer computed from lookups of one generation may be kept
// until it changes. A nil DB is generation 0 for ever.
func (d *DB) Generation() uint64 {
	if d == nil {
		return 0
	}
	return d.state.Load().gen
}

// Stats returns the counters and the metadata of the loaded databases.
func (d *DB) Stats() Stats {
	if d == nil {
		return Stats{}
	}
	s := Stats{
		Lookups:        d.lookups.Load(),
		LookupErrors:   d.lookupErrors.Load(),
		Reloads:        d.reloads.Load(),
		ReloadFailures: d.reloadFailures.Load(),
	}
	if d.cache != nil {
		n, hits := d.cache.counts()
		s.Lookups += n
		s.CacheHits = hits
	}
	st := d.state.Load()
	if st.city != nil {
		s.CityType = st.city.Metadata.DatabaseType
		s.CityBuild = st.city.Metadata.BuildTime()
	}
	if st.asn != nil {
		s.ASNType = st.asn.Metadata.DatabaseType
		s.ASNBuild = st.asn.Metadata.BuildTime()
	}
	return s
}

// Close stops reloads and drops the databases: lookups after Close find
// nothing, as with a nil *DB, and Watch returns. It is safe to call while
// lookups run; the memory is released once the last of them has finished
// (see state).
func (d *DB) Close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	old := d.state.Load()
	d.state.Store(&state{gen: old.gen + 1})
	if d.cache != nil {
		d.cache.purge()
	}
	return nil
}

func (d *DB) logAttrs(st *state) []any {
	a := []any{"city", d.cityPath, "type", st.city.Metadata.DatabaseType,
		"build", st.city.Metadata.BuildTime().UTC().Format(time.RFC3339)}
	if st.asn != nil {
		a = append(a, "asn", d.asnPath, "asn_type", st.asn.Metadata.DatabaseType,
			"asn_build", st.asn.Metadata.BuildTime().UTC().Format(time.RFC3339))
	}
	return a
}
