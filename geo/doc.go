// Package geo will own client location: MaxMind and DB-IP .mmdb lookups
// (geoip2-golang), custom CIDR-to-region maps, EDNS Client Subnet
// addresses, great-circle distances, a per-prefix lookup cache and hot
// reload of the database file. It imports nothing else of Meridian.
package geo
