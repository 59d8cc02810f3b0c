// Package checker will own health checking: HTTP, HTTPS, TCP and DNS
// probes, schedules with jitter, rise and fall thresholds, the remote
// checker agent, and the quorum that turns many checkers' votes into one
// verdict. It imports store/model only, never dnsserver.
package checker
