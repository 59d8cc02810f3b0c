package dnsserver

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/store/model"
)

// Snapshot is an immutable, fully indexed view of the served zones. It is
// built off the hot path by Build and swapped into a Server; queries only
// read it. Nothing a Snapshot holds may be modified after Build returns:
// responses copy slices before changing them.
type Snapshot struct {
	// chains are the compiled policy chains services share, by their
	// steps (shareChain).
	chains map[string][]step

	rev   int64
	zones map[string]*zone // by canonical apex
	names []string         // sorted apexes

	// locator finds clients; nil without a GeoIP database.
	locator Locator
	// networks are every region's networks, for the longest-prefix match
	// that comes before countries and continents; nil without any.
	networks     *geo.Networks
	regions      []*region // in name order
	regionByName map[string]*region
	byCountry    map[string]*region // the first region, in name order, listing the country
	byContinent  map[string]*region // likewise for continents
	dcs          map[string]*datacenter
	dcList       []*datacenter // in state order; datacenter.idx indexes it
	services     []*service    // every service; service.idx indexes it
	// stale are the targets of the overrides Build ignored.
	stale []string
}

// zone is one served zone, indexed by owner name.
type zone struct {
	apex  string
	idx   int              // position in Snapshot.names, for metrics
	nodes map[string]*node // by canonical owner name, empty non-terminals included
	// negSOA is the SOA for the authority section of negative answers, its
	// TTL lowered to the SOA MINIMUM (RFC 2308 section 5).
	negSOA []dns.RR
}

// node is one owner name of a zone. A node without sets is an empty
// non-terminal.
type node struct {
	name string
	sets []*rrset // in zone order, the SOA first at the apex
	// cut is set on a delegation point: a name below the apex with NS.
	cut bool
	// referral holds the NS RRset and glue of a cut.
	referral referral
	// wildcard is the node "*.<name>", if the zone has it.
	wildcard *node
	// services are the GSLB services of this name: an A and an AAAA
	// service, either or both, or one CNAME service. They answer their
	// own type (every type for a CNAME service) and ANY; sets answer the
	// other types.
	services []*service
}

// rrset is the records of one type at one node.
type rrset struct {
	rrtype uint16
	rrs    []dns.RR
	// extra is the additional-section data for an answer of this set:
	// in-zone addresses of NS, MX and SRV targets.
	extra []dns.RR
	// target is the canonical CNAME target, for CNAME sets.
	target string
}

type referral struct {
	ns   []dns.RR
	glue []dns.RR
}

// set returns the RRset of type t, or for ANY the first one (RFC 8482).
func (n *node) set(t uint16) *rrset {
	if t == dns.TypeANY {
		if len(n.sets) > 0 {
			return n.sets[0]
		}
		return nil
	}
	for _, s := range n.sets {
		if s.rrtype == t {
			return s
		}
	}
	return nil
}

// service returns the service that answers qtype at n, or nil: the CNAME
// service for every type, else the service of that type; for ANY the A
// service, else the AAAA one (RFC 8482: one RRset).
func (n *node) service(qtype uint16) *service {
	for _, svc := range n.services {
		if svc.rrtype == dns.TypeCNAME || svc.rrtype == qtype || qtype == dns.TypeANY {
			return svc
		}
	}
	return nil
}

// Revision is the store revision the snapshot was built from.
func (s *Snapshot) Revision() int64 { return s.rev }

// Zones returns the apexes of the served zones, sorted.
func (s *Snapshot) Zones() []string { return slices.Clone(s.names) }

// BuildOptions are what Build needs besides the state.
type BuildOptions struct {
	// Locator locates clients for the geographic steps; nil means no
	// GeoIP database (custom networks of regions still apply).
	Locator Locator
	// Overrides are the operators' API overrides (drain, force_down,
	// force_up of a data center or an endpoint), read from the store with
	// the state. They beat the state file's drain and force_down flags;
	// see endpointState. An override whose target the state does not have
	// is ignored, and listed by Snapshot.StaleOverrides.
	Overrides []model.Override
	// Verdicts are the health engine's decisions per endpoint, read from
	// the store with the state. An endpoint without one is unknown, which
	// serves like up; a down verdict drops it in the healthy step; a
	// verdict's load feeds the leastload step. Overrides sit above them.
	Verdicts []model.Verdict
}

// Build makes a Snapshot of st, read at store revision rev: the zones and
// their records, and the GSLB services inside them with the regions and
// data centers they use, compiled so that a query only reads.
//
// Every record is parsed and checked; the first bad one fails the build
// with an error wrapping ErrInvalidRecord that names the zone, record name
// and type. A service, region or data center that cannot be served fails
// it with an error wrapping ErrInvalidGSLB. Overrides never fail it. A
// failed build changes nothing: the caller keeps serving its last
// snapshot.
func Build(st *model.State, rev int64, opts BuildOptions) (*Snapshot, error) {
	s := &Snapshot{rev: rev, zones: make(map[string]*zone, len(st.Zones)), locator: opts.Locator}
	overrides := compileOverrides(opts.Overrides)
	if err := s.buildGeo(st, overrides); err != nil {
		return nil, err
	}
	apexes := make(map[string]bool, len(st.Zones))
	for i := range st.Zones {
		if apex, ok := canonicalName(st.Zones[i].Name); ok {
			apexes[apex] = true
		}
	}
	overrides.verdicts = compileVerdicts(opts.Verdicts)
	services, err := s.buildServices(st, apexes, overrides)
	if err != nil {
		return nil, err
	}
	for i := range st.Zones {
		apex, _ := canonicalName(st.Zones[i].Name)
		z, err := buildZone(&st.Zones[i], services[apex])
		if err != nil {
			return nil, err
		}
		if s.zones[z.apex] != nil {
			return nil, fmt.Errorf("%w: zone %s: defined twice", ErrInvalidRecord, z.apex)
		}
		s.zones[z.apex] = z
		s.names = append(s.names, z.apex)
	}
	slices.Sort(s.names)
	for i, apex := range s.names {
		s.zones[apex].idx = i
	}
	s.stale = overrides.stale()
	return s, nil
}

// zoneBuilder collects the records of one zone before indexing.
type zoneBuilder struct {
	mz   *model.Zone
	z    *zone
	ttl  uint32
	apex *node
	// packBuf is scratch space for checking that records pack.
	packBuf []byte
}

func buildZone(mz *model.Zone, services []*service) (*zone, error) {
	apex, ok := canonicalName(mz.Name)
	if !ok || apex == "." {
		return nil, fmt.Errorf("%w: zone %q: not a valid zone name", ErrInvalidRecord, mz.Name)
	}
	b := &zoneBuilder{mz: mz, z: &zone{apex: apex, nodes: make(map[string]*node, len(mz.Records))}, ttl: mz.EffectiveTTL(),
		packBuf: make([]byte, dns.MaxMsgSize)}
	b.apex = b.node(apex)
	for _, rec := range mz.Records {
		rr, err := parseRecord(apex, rec, b.ttl, b.packBuf)
		if err != nil {
			return nil, fmt.Errorf("%w: zone %s: record %s %s: %v", ErrInvalidRecord, apex, rec.Name, rec.Type, err)
		}
		if err := b.add(rr); err != nil {
			return nil, fmt.Errorf("%w: zone %s: record %s %s: %v", ErrInvalidRecord, apex, rec.Name, rec.Type, err)
		}
	}
	if err := b.synthesize(); err != nil {
		return nil, err
	}
	for _, svc := range services {
		n := b.node(svc.name)
		for _, other := range n.services {
			if other.rrtype == svc.rrtype {
				return nil, fmt.Errorf("%w: service %s: %s service defined twice", ErrInvalidGSLB, svc.name, svc.typ)
			}
			if other.rrtype == dns.TypeCNAME || svc.rrtype == dns.TypeCNAME {
				return nil, fmt.Errorf("%w: service %s: a CNAME service cannot share its name with another service", ErrInvalidGSLB, svc.name)
			}
		}
		n.services = append(n.services, svc)
		slices.SortFunc(n.services, func(a, b *service) int { return int(a.rrtype) - int(b.rrtype) }) // A before AAAA
	}
	if err := b.index(); err != nil {
		return nil, err
	}
	return b.z, nil
}

// parseRecord parses one stored record as the zone-file line
// "NAME TTL IN TYPE DATA" with the apex as origin. A TTL of zero takes the
// zone's default. buf is scratch space of dns.MaxMsgSize octets.
func parseRecord(apex string, rec model.Record, defTTL uint32, buf []byte) (dns.RR, error) {
	ttl := rec.TTL
	if ttl == 0 {
		ttl = defTTL
	}
	want, ok := typeCode(rec.Type)
	if !ok {
		return nil, fmt.Errorf("unknown record type %q", rec.Type)
	}
	if strings.TrimSpace(rec.Data) == "" {
		return nil, fmt.Errorf("no RDATA")
	}
	if strings.ContainsAny(rec.Data, "\n\r") || strings.ContainsAny(rec.Name, " \t\n\r;()") {
		return nil, fmt.Errorf("a record must be one line: %q %q", rec.Name, rec.Data)
	}
	zp := dns.NewZoneParser(strings.NewReader(fmt.Sprintf("%s %d IN %s %s\n", rec.Name, ttl, rec.Type, rec.Data)), apex, "")
	rr, ok := zp.Next()
	if !ok {
		if err := zp.Err(); err != nil {
			return nil, fmt.Errorf("%s", parseErrorMessage(err))
		}
		return nil, fmt.Errorf("no record")
	}
	if _, more := zp.Next(); more || zp.Err() != nil {
		return nil, fmt.Errorf("RDATA %q is more than one record", rec.Data)
	}
	if rr.Header().Rrtype != want {
		return nil, fmt.Errorf("RDATA %q does not make a %s record", rec.Data, rec.Type)
	}
	if _, err := recordOf(rr); err != nil {
		return nil, err
	}
	// Packing catches what the text parser lets through (an A record
	// without an address, say).
	if _, err := dns.PackRR(rr, buf, 0, nil, false); err != nil {
		return nil, fmt.Errorf("RDATA %q does not pack: %v", rec.Data, err)
	}
	name, ok := canonicalName(rr.Header().Name)
	owner := rec.Name
	if !dns.IsFqdn(owner) && owner != "@" {
		owner += "." + apex
	}
	if want, _ := canonicalName(owner); !ok || (rec.Name != "@" && name != want) {
		return nil, fmt.Errorf("bad owner name %q", rec.Name)
	}
	rr.Header().Name = name
	return rr, nil
}

// parseErrorMessage is the message of a one-line parse error, without the
// "dns:" prefix and position.
func parseErrorMessage(err error) string {
	s := strings.TrimPrefix(err.Error(), "dns: ")
	if i := strings.LastIndex(s, " at line: "); i >= 0 {
		s = s[:i]
	}
	msg, token := splitToken(s)
	msg = friendlyParseMessage(msg)
	if token != "" && token != "\n" {
		msg += " " + fmt.Sprintf("%q", token)
	}
	return msg
}

// typeCode is the type of a mnemonic ("A", "a", "TYPE65534").
func typeCode(s string) (uint16, bool) {
	s = strings.ToUpper(s)
	if t, ok := dns.StringToType[s]; ok {
		return t, true
	}
	if rest, ok := strings.CutPrefix(s, "TYPE"); ok {
		if n, err := strconv.ParseUint(rest, 10, 16); err == nil && n > 0 {
			return uint16(n), true
		}
	}
	return 0, false
}

// canonicalName is the presentation form of name as it comes out of a
// packet (escapes normalized), in lower case and absolute.
func canonicalName(name string) (string, bool) {
	var buf [256]byte // a wire name is at most 255 octets
	off, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return "", false
	}
	out, _, err := dns.UnpackDomainName(buf[:off], 0)
	if err != nil {
		return "", false
	}
	return strings.ToLower(out), true
}

// node returns the node of a canonical name, creating it.
func (b *zoneBuilder) node(name string) *node {
	n := b.z.nodes[name]
	if n == nil {
		n = &node{name: name}
		b.z.nodes[name] = n
	}
	return n
}

// add puts a parsed record into its node and RRset, dropping duplicates.
func (b *zoneBuilder) add(rr dns.RR) error {
	h := rr.Header()
	if !dns.IsSubDomain(b.z.apex, h.Name) {
		return fmt.Errorf("%s is outside the zone", h.Name)
	}
	if h.Rrtype == dns.TypeSOA && h.Name != b.z.apex {
		return fmt.Errorf("SOA record not at the apex")
	}
	n := b.node(h.Name)
	set := n.set(h.Rrtype)
	if set == nil {
		set = &rrset{rrtype: h.Rrtype}
		n.sets = append(n.sets, set)
	}
	for _, old := range set.rrs {
		if dns.IsDuplicate(old, rr) {
			return nil
		}
	}
	if h.Rrtype == dns.TypeSOA && len(set.rrs) > 0 {
		return fmt.Errorf("more than one SOA record")
	}
	set.rrs = append(set.rrs, rr)
	return nil
}
