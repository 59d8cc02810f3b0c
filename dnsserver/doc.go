// Package dnsserver owns Meridian's authoritative DNS server: the UDP and
// TCP listeners (github.com/miekg/dns), the immutable answer Snapshot built
// from the zones of a model.State and swapped in atomically, the answers
// themselves (referrals, CNAME following, wildcards, EDNS(0), truncation),
// the parser of RFC 1035 zone files that turns them into model.Records,
// and the server's counters. Traffic policies, the answer cache and EDNS
// Client Subnet come with later issues.
//
// It imports store/model for the shared vocabulary and never the database
// side of store: cmd reads the store and hands the state to Build. It
// never writes to the store. All use of github.com/miekg/dns in Meridian
// stays inside this package; its exported API speaks model types, not
// miekg/dns types.
package dnsserver
