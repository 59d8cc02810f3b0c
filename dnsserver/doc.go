// Package dnsserver owns Meridian's authoritative DNS server: the UDP and
// TCP listeners (github.com/miekg/dns), the immutable answer Snapshot built
// from a model.State and swapped in atomically, the answers themselves
// (referrals, CNAME following, wildcards, EDNS(0), truncation), the GSLB
// services with their policy chains (healthy, region, nearest, priority,
// weighted, sticky, leastload, roundrobin, first) and fallbacks, EDNS
// Client Subnet with a computed scope, the operators' overrides (applied
// at Build), Explain (the same decision code, traced), the parser of RFC
// 1035 zone files that turns them into model.Records, and the server's
// counters and Prometheus metrics (registered on a registerer it is
// given). The answer cache comes with a later issue.
//
// It imports store/model for the shared vocabulary and geo for client
// locations (through the small Locator interface, which *geo.DB
// satisfies), and never the database side of store: cmd reads the store
// and hands the state to Build. It never writes to the store and does not
// import checker: health reaches it only through the state. All use of
// github.com/miekg/dns in Meridian stays inside this package; its exported
// API speaks model, geo and net/netip types, not miekg/dns types.
package dnsserver
