package model

import (
	"strings"
)

// Zone is a DNS zone Meridian is authoritative for, with its static
// records. When Records hold no SOA or no apex NS, the DNS server
// synthesizes them from Hostmaster, Nameservers and SOA.
type Zone struct {
	Meta
	// Name is the zone apex, absolute ("gslb.example.com.").
	Name string `json:"name" yaml:"name"`
	// TTL is the default TTL of synthesized records and of records given
	// without one. Zero means DefaultTTL.
	TTL uint32 `json:"ttl,omitempty" yaml:"ttl,omitempty"`
	// Hostmaster is the SOA RNAME, as a mailbox ("hostmaster@example.com")
	// or as a domain name ("hostmaster.example.com."). Empty means
	// hostmaster.<zone>.
	Hostmaster  string       `json:"hostmaster,omitempty" yaml:"hostmaster,omitempty"`
	Nameservers []Nameserver `json:"nameservers,omitempty" yaml:"nameservers,omitempty"`
	SOA         SOATimers    `json:"soa" yaml:"soa,omitempty"`
	// Records are the zone's static records, in zone order.
	Records []Record `json:"records,omitempty" yaml:"-"`
}

// Nameserver is one of the zone's name servers. Address is the glue address
// (IPv4 or IPv6) used when Name lies inside the zone.
type Nameserver struct {
	Name    string `json:"name" yaml:"name"`
	Address string `json:"address,omitempty" yaml:"address,omitempty"`
}

// SOATimers are the SOA timers in seconds. Zero values take the defaults.
// Minimum is the negative-caching TTL of RFC 2308.
type SOATimers struct {
	Refresh uint32 `json:"refresh,omitempty" yaml:"refresh,omitempty"`
	Retry   uint32 `json:"retry,omitempty" yaml:"retry,omitempty"`
	Expire  uint32 `json:"expire,omitempty" yaml:"expire,omitempty"`
	Minimum uint32 `json:"minimum,omitempty" yaml:"minimum,omitempty"`
}

// Defaults for zones.
const (
	DefaultTTL        = 300
	DefaultSOARefresh = 3600
	DefaultSOARetry   = 600
	DefaultSOAExpire  = 1209600
	DefaultSOAMinimum = 300
)

// WithDefaults returns the timers with zero values replaced by defaults.
func (t SOATimers) WithDefaults() SOATimers {
	if t.Refresh == 0 {
		t.Refresh = DefaultSOARefresh
	}
	if t.Retry == 0 {
		t.Retry = DefaultSOARetry
	}
	if t.Expire == 0 {
		t.Expire = DefaultSOAExpire
	}
	if t.Minimum == 0 {
		t.Minimum = DefaultSOAMinimum
	}
	return t
}

// Record is one static resource record in presentation form. Data is the
// RDATA as it would stand in a zone file ("192.0.2.1", "10 mail.example.com.").
// Name is absolute. The DNS server parses Data when it builds its snapshot;
// records are validated in full when they enter the store through a zone
// file or the API.
type Record struct {
	Name string `json:"name" yaml:"name"`
	Type string `json:"type" yaml:"type"`
	TTL  uint32 `json:"ttl" yaml:"ttl"`
	Data string `json:"data" yaml:"data"`
}

func (z *Zone) ObjectKind() Kind   { return KindZone }
func (z *Zone) ObjectName() string { return z.Name }

// EffectiveTTL is the zone's default TTL.
func (z *Zone) EffectiveTTL() uint32 {
	if z.TTL == 0 {
		return DefaultTTL
	}
	return z.TTL
}

// HostmasterName returns the SOA RNAME as an absolute domain name.
func (z *Zone) HostmasterName() string {
	h := z.Hostmaster
	if h == "" {
		return "hostmaster." + CanonicalName(z.Name)
	}
	if i := strings.IndexByte(h, '@'); i >= 0 {
		local := strings.ReplaceAll(h[:i], ".", `\.`)
		return CanonicalName(local + "." + h[i+1:])
	}
	return CanonicalName(h)
}

// Validate checks the zone's own fields and the shape of its records.
func (z *Zone) Validate() error {
	if !ValidName(z.Name) || z.Name == "." {
		return invalid(KindZone, z.Name, "name", "not a valid zone name")
	}
	if !strings.HasSuffix(z.Name, ".") || z.Name != CanonicalName(z.Name) {
		return invalid(KindZone, z.Name, "name", "must be lower case and absolute (end with a dot), as in %q", CanonicalName(z.Name))
	}
	if z.Hostmaster != "" && !ValidName(strings.Replace(strings.ReplaceAll(z.Hostmaster, `\.`, "-"), "@", ".", 1)) {
		return invalid(KindZone, z.Name, "hostmaster", "%q is neither a mailbox nor a domain name", z.Hostmaster)
	}
	for i, ns := range z.Nameservers {
		if !ValidName(ns.Name) || !strings.HasSuffix(ns.Name, ".") {
			return invalid(KindZone, z.Name, "nameservers", "entry %d: %q is not an absolute domain name", i, ns.Name)
		}
		if ns.Address != "" && !validIP(ns.Address) {
			return invalid(KindZone, z.Name, "nameservers", "entry %d: %q is not an IP address", i, ns.Address)
		}
		if InZone(ns.Name, z.Name) && ns.Address == "" && !z.hasAddress(ns.Name) {
			return invalid(KindZone, z.Name, "nameservers", "%s lies inside the zone and needs an address (glue)", ns.Name)
		}
	}
	t := z.SOA.WithDefaults()
	if t.Retry > t.Refresh {
		return invalid(KindZone, z.Name, "soa.retry", "retry (%d) should not exceed refresh (%d)", t.Retry, t.Refresh)
	}
	if t.Expire < t.Refresh {
		return invalid(KindZone, z.Name, "soa.expire", "expire (%d) must be at least refresh (%d)", t.Expire, t.Refresh)
	}
	hasSOA, hasNS := false, false
	for i, r := range z.Records {
		if r.Name == "" || r.Type == "" {
			return invalid(KindZone, z.Name, "records", "record %d has no name or type", i)
		}
		if !InZone(r.Name, z.Name) {
			return invalid(KindZone, z.Name, "records", "%s %s is outside the zone", r.Name, r.Type)
		}
		apex := CanonicalName(r.Name) == z.Name
		switch strings.ToUpper(r.Type) {
		case "SOA":
			if !apex {
				return invalid(KindZone, z.Name, "records", "SOA record at %s, not at the apex", r.Name)
			}
			if hasSOA {
				return invalid(KindZone, z.Name, "records", "more than one SOA record")
			}
			hasSOA = true
		case "NS":
			hasNS = hasNS || apex
		}
	}
	if !hasNS && len(z.Nameservers) == 0 {
		return invalid(KindZone, z.Name, "nameservers", "the zone has no NS records: list its name servers")
	}
	return nil
}

func (z *Zone) hasAddress(name string) bool {
	name = CanonicalName(name)
	for _, r := range z.Records {
		if CanonicalName(r.Name) == name && (strings.EqualFold(r.Type, "A") || strings.EqualFold(r.Type, "AAAA")) {
			return true
		}
	}
	return false
}
