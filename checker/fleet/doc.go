// Package fleet is the health engine of a Meridian node: it records the
// checkers' reports (their votes) in the store, turns the fresh votes of
// every endpoint into a verdict with the quorum rule of package checker,
// stores each verdict change with an event, calls the webhooks, and
// computes availability ("the nines") and a status overview from the
// store and its event log.
//
// New(Config) returns an Engine. Record is what the API calls for every
// report; Run evaluates (when a report arrives, and periodically so that
// the votes of a silent checker expire) and delivers webhooks until its
// context ends. Evaluate is one pass, exported for tests and tools.
// ComputeAvailability is the pure function behind Availability.
//
// fleet imports store, store/model and checker, never api, dnsserver or
// cmd: the API reaches it through a small interface that cmd fills with
// an Engine. See README.md.
package fleet
