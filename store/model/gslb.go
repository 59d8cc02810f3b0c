package model

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Region is a named set of client locations: countries, continents and
// networks. Policies map regions to preferred data centers.
type Region struct {
	Meta
	Name       string   `json:"name" yaml:"name"`
	Countries  []string `json:"countries,omitempty" yaml:"countries,omitempty"`
	Continents []string `json:"continents,omitempty" yaml:"continents,omitempty"`
	Networks   []string `json:"networks,omitempty" yaml:"networks,omitempty"`
}

// Continents are the continent codes GeoIP databases use.
var Continents = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}

func (r *Region) ObjectKind() Kind   { return KindRegion }
func (r *Region) ObjectName() string { return r.Name }

func (r *Region) Validate() error {
	if !validIdent(r.Name) {
		return invalid(KindRegion, r.Name, "name", "use letters, digits, '-' and '_' (at most 63)")
	}
	for _, c := range r.Countries {
		if len(c) != 2 || strings.ToUpper(c) != c || !isLetters(c) {
			return invalid(KindRegion, r.Name, "countries", "%q is not an ISO 3166 alpha-2 code in upper case", c)
		}
	}
	for _, c := range r.Continents {
		if !slices.Contains(Continents, c) {
			return invalid(KindRegion, r.Name, "continents", "%q is not one of %s", c, strings.Join(Continents, " "))
		}
	}
	for _, n := range r.Networks {
		if p, err := netip.ParsePrefix(n); err != nil || p.Masked() != p {
			return invalid(KindRegion, r.Name, "networks", "%q is not a network in CIDR form (host bits must be zero)", n)
		}
	}
	return nil
}

// Location is a point on Earth in degrees.
type Location struct {
	Lat float64 `json:"lat" yaml:"lat"`
	Lon float64 `json:"lon" yaml:"lon"`
}

func (l Location) valid() bool { return l.Lat >= -90 && l.Lat <= 90 && l.Lon >= -180 && l.Lon <= 180 }

// Datacenter is a site that hosts endpoints.
type Datacenter struct {
	Meta
	Name     string   `json:"name" yaml:"name"`
	Region   string   `json:"region,omitempty" yaml:"region,omitempty"`
	Location Location `json:"location" yaml:"location"`
	// Drain takes the data center out of answers (an operator's planned
	// maintenance); ForceDown treats it as down whatever checks say.
	Drain     bool `json:"drain,omitempty" yaml:"drain,omitempty"`
	ForceDown bool `json:"force_down,omitempty" yaml:"force_down,omitempty"`
}

func (d *Datacenter) ObjectKind() Kind   { return KindDatacenter }
func (d *Datacenter) ObjectName() string { return d.Name }

func (d *Datacenter) Validate() error {
	if !validIdent(d.Name) {
		return invalid(KindDatacenter, d.Name, "name", "use letters, digits, '-' and '_' (at most 63)")
	}
	if d.Region != "" && !validIdent(d.Region) {
		return invalid(KindDatacenter, d.Name, "region", "%q is not a region name", d.Region)
	}
	if !d.Location.valid() {
		return invalid(KindDatacenter, d.Name, "location", "lat must be within ±90 and lon within ±180")
	}
	return nil
}

// Service is a GSLB name whose answer is chosen per query.
type Service struct {
	Meta
	// Name is a full name inside a served zone.
	Name       string     `json:"name" yaml:"name"`
	Type       string     `json:"type" yaml:"type"` // A, AAAA or CNAME
	TTL        uint32     `json:"ttl,omitempty" yaml:"ttl,omitempty"`
	Policy     Policy     `json:"policy" yaml:"policy"`
	MaxAnswers int        `json:"max_answers,omitempty" yaml:"max_answers,omitempty"`
	Fallback   Fallback   `json:"fallback" yaml:"fallback"`
	Endpoints  []Endpoint `json:"endpoints" yaml:"endpoints"`
	Check      *Check     `json:"check,omitempty" yaml:"check,omitempty"`
}

// Policy is a chain of steps that narrow or order a service's candidate
// endpoints, or the name of a preset that expands to one. In state files
// and JSON it is written as the preset's name ("geo") or as the list of
// steps ([healthy, {region: {europe: [fra, lon]}}, nearest, {first: 2}]);
// see policy.go.
type Policy struct {
	Preset string
	Steps  []PolicyStep
}

// PolicyStep is one step of a policy chain. Region and First carry the
// arguments of the steps that take them.
type PolicyStep struct {
	Step   string
	Region map[string][]string // region step: client region → preferred data centers
	First  int                 // first step: how many endpoints to keep
}

// Fallback says what a service answers when no candidate is healthy:
// "all" (fail open, the default), "none", or the Backup addresses. In
// state files and JSON it is written "all", "none" or {backup: [...]}.
type Fallback struct {
	Mode   string // all, none or backup; "" means all
	Backup []string
}

// Fallback modes.
const (
	FallbackAll    = "all"
	FallbackNone   = "none"
	FallbackBackup = "backup"
)

// DefaultServiceTTL is the TTL of a service's answers when it sets none:
// short, so that resolvers follow a failover quickly.
const DefaultServiceTTL = 30

// EffectiveTTL is the service's TTL, or DefaultServiceTTL.
func (s *Service) EffectiveTTL() uint32 {
	if s.TTL == 0 {
		return DefaultServiceTTL
	}
	return s.TTL
}

// Endpoint is one address a service can answer with.
type Endpoint struct {
	Datacenter  string `json:"datacenter" yaml:"datacenter"`
	Address     string `json:"address" yaml:"address"`
	Weight      int    `json:"weight" yaml:"weight"` // absent in JSON means DefaultWeight (see UnmarshalJSON)
	Priority    int    `json:"priority,omitempty" yaml:"priority,omitempty"`
	CheckTarget string `json:"check_target,omitempty" yaml:"check_target,omitempty"`
	Drain       bool   `json:"drain,omitempty" yaml:"drain,omitempty"`
	ForceDown   bool   `json:"force_down,omitempty" yaml:"force_down,omitempty"`
}

// DefaultWeight is an endpoint's weight when none is given.
const DefaultWeight = 1

// UnmarshalJSON reads an endpoint, giving it DefaultWeight when the weight
// is absent, as the state file does; an explicit 0 stays 0.
func (e *Endpoint) UnmarshalJSON(b []byte) error {
	type plain Endpoint // without this method
	v := plain{Weight: DefaultWeight}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*e = Endpoint(v)
	return nil
}

// Check describes how endpoints of a service are probed. The first eleven
// keys are the state file's contract (issue 5); the rest refine a probe of
// their type.
type Check struct {
	Type         string   `json:"type" yaml:"type"` // http, https, tcp, dns
	Port         int      `json:"port,omitempty" yaml:"port,omitempty"`
	Path         string   `json:"path,omitempty" yaml:"path,omitempty"`
	Host         string   `json:"host,omitempty" yaml:"host,omitempty"`
	ExpectStatus []int    `json:"expect_status,omitempty" yaml:"expect_status,omitempty"`
	ExpectBody   string   `json:"expect_body,omitempty" yaml:"expect_body,omitempty"`
	Interval     Duration `json:"interval,omitempty" yaml:"interval,omitempty"`
	Timeout      Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	Rise         int      `json:"rise,omitempty" yaml:"rise,omitempty"`
	Fall         int      `json:"fall,omitempty" yaml:"fall,omitempty"`
	Quorum       Quorum   `json:"quorum,omitempty" yaml:"quorum,omitempty"` // majority (default), any, all, or a number

	// http and https.
	Method     string `json:"method,omitempty" yaml:"method,omitempty"`           // GET (default), HEAD, POST...
	ServerName string `json:"server_name,omitempty" yaml:"server_name,omitempty"` // TLS server name; default: host's, else the target's
	SkipVerify bool   `json:"skip_verify,omitempty" yaml:"skip_verify,omitempty"` // https without certificate verification

	// dns: the query sent to the endpoint (a name server) and what it
	// must answer.
	QueryName    string `json:"query_name,omitempty" yaml:"query_name,omitempty"`       // required for dns
	QueryType    string `json:"query_type,omitempty" yaml:"query_type,omitempty"`       // A (default), AAAA, TXT, SOA, NS, CNAME, MX
	ExpectRcode  string `json:"expect_rcode,omitempty" yaml:"expect_rcode,omitempty"`   // NOERROR (default), NXDOMAIN, ...
	ExpectAnswer string `json:"expect_answer,omitempty" yaml:"expect_answer,omitempty"` // a substring one answer record's data must contain
}

// Quorum is a check's quorum rule: "majority", "any", "all" or a number of
// checkers. JSON and YAML accept the number bare (quorum: 2) or quoted.
type Quorum string

func (q *Quorum) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("quorum: want majority, any, all or a number, got %s", b)
		}
		*q = Quorum(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*q = Quorum(s)
	return nil
}

func (s *Service) ObjectKind() Kind { return KindService }

// ObjectName is the service's name and type, "app.example.com./AAAA": like
// a DNS RRset, a service is identified by both, so that one name can have
// an A and an AAAA service with policies of their own.
func (s *Service) ObjectName() string { return ServiceKey(s.Name, s.Type) }

// ServiceKey is the stored name of the service of that name and type.
func ServiceKey(name, typ string) string { return CanonicalName(name) + "/" + typ }

func (s *Service) Validate() error {
	if !ValidName(s.Name) || s.Name != CanonicalName(s.Name) {
		return invalid(KindService, s.Name, "name", "must be a lower-case absolute domain name")
	}
	switch s.Type {
	case "A", "AAAA", "CNAME":
	default:
		return invalid(KindService, s.Name, "type", "%q is not A, AAAA or CNAME", s.Type)
	}
	if err := s.Policy.validate(); err != "" {
		return invalid(KindService, s.Name, "policy", "%s", err)
	}
	if s.MaxAnswers < 0 {
		return invalid(KindService, s.Name, "max_answers", "must not be negative")
	}
	switch s.Fallback.Mode {
	case "", FallbackAll, FallbackNone:
		if len(s.Fallback.Backup) > 0 {
			return invalid(KindService, s.Name, "fallback", "backup addresses are only used with the backup mode")
		}
	case FallbackBackup:
		if len(s.Fallback.Backup) == 0 {
			return invalid(KindService, s.Name, "fallback", "backup needs at least one address")
		}
		for _, a := range s.Fallback.Backup {
			if err := s.validAddress(a); err != "" {
				return invalid(KindService, s.Name, "fallback", "backup %s", err)
			}
		}
	default:
		return invalid(KindService, s.Name, "fallback", "%q is not all, none or backup", s.Fallback.Mode)
	}
	if len(s.Endpoints) == 0 {
		return invalid(KindService, s.Name, "endpoints", "a service needs at least one endpoint")
	}
	for i, e := range s.Endpoints {
		if !validIdent(e.Datacenter) {
			return invalid(KindService, s.Name, "endpoints", "entry %d: %q is not a data center name", i, e.Datacenter)
		}
		if err := s.validAddress(e.Address); err != "" {
			return invalid(KindService, s.Name, "endpoints", "entry %d: %s", i, err)
		}
		if e.Weight < 0 || e.Priority < 0 {
			return invalid(KindService, s.Name, "endpoints", "entry %d: weight and priority must not be negative", i)
		}
		if e.CheckTarget != "" {
			if _, err := netip.ParseAddrPort(e.CheckTarget); err != nil && !validHostPort(e.CheckTarget) {
				return invalid(KindService, s.Name, "endpoints", "entry %d: check_target %q is not host:port", i, e.CheckTarget)
			}
		}
	}
	if s.Check != nil {
		if err := s.Check.validate(); err != "" {
			return invalid(KindService, s.Name, "check", "%s", err)
		}
	}
	return nil
}

func (s *Service) validAddress(a string) string {
	switch s.Type {
	case "A":
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is4() {
			return "address " + quote(a) + " is not an IPv4 address"
		}
	case "AAAA":
		if ip, err := netip.ParseAddr(a); err != nil || !ip.Is6() || ip.Is4In6() {
			return "address " + quote(a) + " is not an IPv6 address"
		}
	case "CNAME":
		if !ValidName(a) || !strings.HasSuffix(a, ".") {
			return "address " + quote(a) + " is not an absolute domain name"
		}
	}
	return ""
}

// CheckQueryTypes and CheckRcodes are the values a dns check accepts.
var (
	CheckQueryTypes = []string{"A", "AAAA", "CNAME", "MX", "NS", "SOA", "TXT", "SRV", "PTR"}
	CheckRcodes     = []string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"}
)

func (c *Check) validate() string {
	switch c.Type {
	case "http", "https", "tcp", "dns":
	default:
		return "type " + quote(c.Type) + " is not http, https, tcp or dns"
	}
	if c.Port < 0 || c.Port > 65535 {
		return "port must be within 0-65535"
	}
	if c.Interval != 0 && c.Interval.D() < 1e9 {
		return "interval must be at least 1s"
	}
	if c.Timeout < 0 || (c.Interval != 0 && c.Timeout != 0 && c.Timeout >= c.Interval) {
		return "timeout must be positive and shorter than the interval"
	}
	if c.Rise < 0 || c.Fall < 0 {
		return "rise and fall must not be negative"
	}
	switch c.Quorum {
	case "", "majority", "any", "all":
	default:
		if n := atoiPositive(string(c.Quorum)); n <= 0 {
			return "quorum " + quote(string(c.Quorum)) + " is not majority, any, all or a positive number"
		}
	}
	switch c.Method {
	case "", "GET", "HEAD", "POST", "PUT", "OPTIONS":
	default:
		return "method " + quote(c.Method) + " is not GET, HEAD, POST, PUT or OPTIONS"
	}
	if c.Type == "dns" {
		if c.QueryName == "" || !ValidName(c.QueryName) {
			return "a dns check needs a query_name that is a domain name"
		}
		if c.QueryType != "" && !slices.Contains(CheckQueryTypes, c.QueryType) {
			return "query_type " + quote(c.QueryType) + " is not one of " + strings.Join(CheckQueryTypes, ", ")
		}
		if c.ExpectRcode != "" && !slices.Contains(CheckRcodes, c.ExpectRcode) {
			return "expect_rcode " + quote(c.ExpectRcode) + " is not one of " + strings.Join(CheckRcodes, ", ")
		}
	} else if c.QueryName != "" || c.QueryType != "" || c.ExpectRcode != "" || c.ExpectAnswer != "" {
		return "query_name, query_type, expect_rcode and expect_answer are for dns checks only"
	}
	return ""
}
