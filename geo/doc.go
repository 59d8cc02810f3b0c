// Package geo owns client location for Meridian: lookups in MaxMind
// GeoIP2/GeoLite2 and DB-IP City or Country .mmdb files (through
// github.com/oschwald/geoip2-golang/v2's reader, maxminddb-golang), an
// optional ASN database, an operator's custom networks (CIDR to name, e.g.
// a region) with longest-prefix match, the ECS scope of a geographic answer
// (Networks.Scope), great-circle distances, a sharded per-prefix lookup
// cache, hot reload of the database files and a check for addresses that
// cannot locate a client (Routable).
//
// The entry points are Open (a *DB: Lookup, LookupPrefix, Reload, Watch,
// Stats, Close), NewNetworks (a *Networks: Lookup, Scope), Distance and
// Routable. A nil *DB is valid and knows nothing: every address is not
// found and its Network is the whole address family, which is what a
// server without any database needs.
//
// geo imports nothing of Meridian (cmd/meridian's layering test checks it)
// and nothing DNS-specific: no github.com/miekg/dns. Parsing the EDNS Client
// Subnet option is dnsserver's job; geo takes the address and prefix that
// came out of it as a netip.Prefix.
package geo
