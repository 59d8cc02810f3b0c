// Package model holds Meridian's shared vocabulary: the plain types of the
// desired and observed state (zones, static records, regions, data centers,
// services, checks, checkers, votes, events, API tokens) and their
// validation.
//
// It imports only the standard library, so dnsserver, checker and api can
// speak the same language without importing the database side of store.
package model
