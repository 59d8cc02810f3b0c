package dnsserver

import (
	"math"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/geo"
)

// ExplainQuery is a query to explain: a name and type asked by the
// resolver at Client, with an EDNS Client Subnet option when ECS is a
// valid Prefix.
type ExplainQuery struct {
	Name string
	Type string // "A", "AAAA", ...; "" means A
	// Client is the resolver's source address.
	Client netip.Addr
	// ECS is the query's ECS network; the zero Prefix for none. Its
	// address must have no bits set beyond its length, as on the wire.
	ECS netip.Prefix
}

// Kinds of name (Explanation.Kind): what answered the query's own name.
const (
	kindService    = "service"            // a GSLB service answered
	kindStatic     = "static"             // static records answered
	kindWildcard   = "wildcard"           // static records of a wildcard answered
	kindCNAME      = "cname"              // a static CNAME, followed
	kindNoData     = "nodata"             // the name exists, without data of the type
	kindENT        = "empty_non_terminal" // the name exists only as a parent of others
	kindNXDomain   = "nxdomain"
	kindDelegation = "delegation"
	kindRefused    = "refused"
	kindFormErr    = "formerr"
	kindNotImp     = "notimp"
)

// Explanation says how a query was answered and why. It is made by the
// same code that answers DNS queries, and is JSON-friendly.
type Explanation struct {
	Query    ExplainedQuery     `json:"query"`
	Rcode    string             `json:"rcode"`
	Kind     string             `json:"kind"`
	Zone     string             `json:"zone,omitempty"`
	Note     string             `json:"note,omitempty"`
	Client   ExplainedClient    `json:"client"`
	Location *ExplainedLocation `json:"location,omitempty"`
	Region   *ExplainedRegion   `json:"region,omitempty"`
	// Services are the services that answered, in the order the answer
	// met them (more than one when a CNAME service leads to another).
	Services   []*ExplainedService `json:"services,omitempty"`
	Answer     []string            `json:"answer"`
	Authority  []string            `json:"authority,omitempty"`
	Additional []string            `json:"additional,omitempty"`
	// TTL is the lowest TTL of the answer section, or the negative TTL
	// of a negative answer.
	TTL uint32 `json:"ttl"`
	// ECSScope is the scope prefix length of the response's ECS option;
	// nil when the response has none.
	ECSScope *int `json:"ecs_scope"`
}

// ExplainedQuery is the query as asked.
type ExplainedQuery struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	Client string `json:"client"`
	ECS    string `json:"ecs,omitempty"`
}

// ExplainedClient is the client address the answer is for, and why:
// "ecs", "source address", "ecs ignored: not routable" or "ecs source
// prefix 0".
type ExplainedClient struct {
	Address string `json:"address"`
	Source  string `json:"source"`
}

// ExplainedLocation is what the GeoIP database says of the client.
type ExplainedLocation struct {
	Found       bool     `json:"found"`
	Country     string   `json:"country,omitempty"`
	Continent   string   `json:"continent,omitempty"`
	Subdivision string   `json:"subdivision,omitempty"`
	Lat         *float64 `json:"lat,omitempty"`
	Lon         *float64 `json:"lon,omitempty"`
	ASN         uint32   `json:"asn,omitempty"`
	ASOrg       string   `json:"as_org,omitempty"`
	// Network is the database network the client falls in.
	Network string `json:"network,omitempty"`
}

// ExplainedRegion is the client's region and how it was found:
// "network", "country" or "continent".
type ExplainedRegion struct {
	Name string `json:"name"`
	How  string `json:"how"`
}

// ExplainedService is one service's decision.
type ExplainedService struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Policy     string          `json:"policy"`
	Fallback   string          `json:"fallback"`
	Backup     []string        `json:"backup,omitempty"`
	TTL        uint32          `json:"ttl"`
	MaxAnswers int             `json:"max_answers,omitempty"`
	Steps      []ExplainedStep `json:"steps"`
	// FallbackApplied is the fallback that applied because nothing was
	// healthy: "all", "none" or "backup"; "" when none applied.
	FallbackApplied string `json:"fallback_applied,omitempty"`
	// Chosen are the endpoints answered, after max_answers.
	Chosen []ExplainedCandidate `json:"chosen,omitempty"`
}

// ExplainedStep is one step of a chain with the candidates before and
// after it.
type ExplainedStep struct {
	Step   string               `json:"step"`
	Args   string               `json:"args,omitempty"`
	Before []ExplainedCandidate `json:"before"`
	After  []ExplainedCandidate `json:"after"`
	Note   string               `json:"note,omitempty"`
	// ECSScope is set when the step raised the response's ECS scope.
	ECSScope *int `json:"ecs_scope,omitempty"`
}

// ExplainedCandidate is one endpoint in a step's list.
type ExplainedCandidate struct {
	Datacenter string `json:"datacenter"`
	Region     string `json:"region,omitempty"`
	Address    string `json:"address"`
	Weight     int    `json:"weight"`
	Priority   int    `json:"priority"`
	// Health is "up", "down", "drained" or "unknown" (served like up).
	Health string `json:"health"`
	// Override is the operator's API override that decided Health, if
	// any: the endpoint's own, else its data center's.
	Override *ExplainedOverride `json:"override,omitempty"`
	// DistanceKM is the great-circle distance from the client, on the
	// nearest step.
	DistanceKM *float64 `json:"distance_km,omitempty"`
}

// ExplainedOverride is an operator's override in effect on a candidate.
type ExplainedOverride struct {
	// Target is "datacenter/NAME" or "endpoint/SERVICE/TYPE/ADDRESS".
	Target string `json:"target"`
	// Action is "drain", "force_down" or "force_up".
	Action    string    `json:"action"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Explain answers q the way the server would, with the same code, and
// says why: the client and its location, each policy step, the answer,
// its TTL and ECS scope. Random steps (weighted, roundrobin) draw anew, so
// the explained answer is one the server could give. A roundrobin step's
// rotation advances as for a query.
func (s *Snapshot) Explain(q ExplainQuery) *Explanation {
	e := &Explanation{Query: ExplainedQuery{Name: q.Name, Type: q.Type, Client: addrString(q.Client)}, Answer: []string{}}
	typ := q.Type
	if typ == "" {
		typ = "A"
	}
	qtype, ok := typeCode(typ)
	name := dns.Fqdn(q.Name)
	if _, okName := dns.IsDomainName(name); !ok || !okName {
		e.Rcode, e.Kind, e.Note = dns.RcodeToString[dns.RcodeFormatError], kindFormErr, "not a valid name and type"
		return e
	}
	e.Query.Name, e.Query.Type = name, dns.Type(qtype).String()
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	req.RecursionDesired = false
	if q.ECS.IsValid() {
		e.Query.ECS = q.ECS.String()
		sub := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2, SourceNetmask: uint8(q.ECS.Bits()),
			Address: net.IP(q.ECS.Addr().AsSlice())}
		if q.ECS.Addr().Is4() {
			sub.Family = 1
		}
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}, Option: []dns.EDNS0{sub}}
		opt.SetUDPSize(ednsUDPSize)
		req.Extra = append(req.Extra, opt)
	}
	s.respond(req, true, q.Client, &trace{exp: e}, nil)
	return e
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// trace records an answer for Explain. Every method does nothing on a nil
// trace, which is what the DNS path passes.
type trace struct {
	exp *Explanation
	cur *ExplainedService
}

// kind records what answered the query's own name (chain 0).
func (q *query) kind(chain int, k string) {
	if q.tr != nil && chain == 0 {
		q.tr.exp.Kind = k
	}
}

// nodeKind is the kind of a node whose set answered.
func nodeKind(n *node, owner string, set *rrset) string {
	switch {
	case owner != "":
		return kindWildcard
	case set.rrtype == dns.TypeCNAME:
		return kindCNAME
	}
	return kindStatic
}

// noDataKind is the kind of a node without data of the asked type.
func noDataKind(n *node) string {
	if len(n.sets) == 0 && len(n.services) == 0 {
		return kindENT
	}
	return kindNoData
}

func (t *trace) note(kind, note string) {
	if t != nil {
		t.exp.Kind, t.exp.Note = kind, note
	}
}

func (t *trace) zone(apex string) {
	if t != nil {
		t.exp.Zone = apex
	}
}

func (t *trace) location(q *query) {
	loc := &q.loc
	el := &ExplainedLocation{Found: loc.Found, Country: loc.Country, Continent: loc.Continent,
		Subdivision: loc.Subdivision, ASN: loc.ASN, ASOrg: loc.ASOrg}
	if loc.HasCoords {
		lat, lon := loc.Lat, loc.Lon
		el.Lat, el.Lon = &lat, &lon
	}
	if loc.Network.IsValid() {
		el.Network = loc.Network.String()
	}
	t.exp.Location = el
}

func (t *trace) region(q *query) {
	if q.region != nil {
		t.exp.Region = &ExplainedRegion{Name: q.region.name, How: q.regionHow}
	}
}

func (t *trace) service(svc *service) {
	es := &ExplainedService{Name: svc.name, Type: svc.typ, Policy: svc.policy, Fallback: svc.fallback.String(),
		Backup: svc.backup.addresses(), TTL: svc.ttl, MaxAnswers: svc.maxAnswers, Steps: []ExplainedStep{}}
	t.exp.Services = append(t.exp.Services, es)
	t.cur = es
}

// candidates converts a candidate list; with the client's location,
// nearest shows each one's distance.
func (t *trace) candidates(c []cand, loc *geo.Result) []ExplainedCandidate {
	out := make([]ExplainedCandidate, len(c))
	for i := range c {
		ep := c[i].ep
		out[i] = ExplainedCandidate{Datacenter: ep.dc.name, Address: ep.address, Weight: int(ep.weight),
			Priority: int(ep.priority), Health: ep.healthString()}
		if ep.dc.region != nil {
			out[i].Region = ep.dc.region.name
		}
		if ov := ep.override; ov != nil {
			out[i].Override = &ExplainedOverride{Target: ov.target, Action: ov.action, Reason: ov.reason,
				CreatedBy: ov.by, CreatedAt: ov.at}
		}
		if loc != nil {
			d := math.Round(geo.Distance(loc.Lat, loc.Lon, ep.dc.lat, ep.dc.lon)*10) / 10
			out[i].DistanceKM = &d
		}
	}
	return out
}

func (t *trace) step(st *step, before, after []cand, note string, q *query, scopeBefore int) {
	var loc *geo.Result
	if st.kind == stepNearest && q.located && q.loc.HasCoords {
		loc = &q.loc
	}
	es := ExplainedStep{Step: st.name, Args: st.args, Before: t.candidates(before, loc),
		After: t.candidates(after, loc), Note: note}
	if q.scope > scopeBefore {
		sc := q.scope
		es.ECSScope = &sc
	}
	if st.kind == stepHealthy && (note == noteFailOpen || note == noteFailOpenAll) {
		t.cur.FallbackApplied = fallbackAll.String()
	}
	t.cur.Steps = append(t.cur.Steps, es)
}

func (t *trace) chosen(c []cand) {
	t.cur.Chosen = t.candidates(c, nil)
}

func (t *trace) fallback(fb fallbackMode) {
	t.cur.FallbackApplied = fb.String()
}

// finish records the response, and the client's location and region when
// the answer did not need them (an operator wants to see them anyway).
func (t *trace) finish(s *Snapshot, q *query, m *dns.Msg) {
	if t == nil {
		return
	}
	e := t.exp
	e.Rcode = dns.RcodeToString[m.Rcode]
	if m.Rcode == dns.RcodeFormatError || m.Rcode == dns.RcodeBadVers {
		return // the query was not understood: no client, no answer
	}
	if s != nil {
		s.location(q)
		s.clientRegion(q)
	}
	q.client()
	e.Client = ExplainedClient{Address: addrString(q.addr), Source: q.how}
	e.Answer = rrStrings(m.Answer)
	e.Authority = rrStrings(m.Ns)
	e.Additional = rrStrings(m.Extra)
	if e.Answer == nil {
		e.Answer = []string{}
	}
	switch {
	case len(m.Answer) > 0:
		e.TTL = m.Answer[0].Header().Ttl
		for _, rr := range m.Answer {
			e.TTL = min(e.TTL, rr.Header().Ttl)
		}
	case len(m.Ns) > 0 && m.Ns[0].Header().Rrtype == dns.TypeSOA:
		e.TTL = m.Ns[0].Header().Ttl
	}
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if sub, ok := o.(*dns.EDNS0_SUBNET); ok {
				sc := int(sub.SourceScope)
				e.ECSScope = &sc
			}
		}
	}
}

// rrStrings is the presentation form of records, without OPT, with
// blanks instead of tabs between fields.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, strings.ReplaceAll(rr.String(), "\t", " "))
		}
	}
	return out
}
