// Package checker owns health checking: probes (HTTP, HTTPS, TCP and DNS),
// the rise/fall thresholds that turn one checker's probe results into an
// up/down opinion, the Runner that runs one checker's jobs and reports its
// votes, and the quorum rule that turns many checkers' votes into one
// verdict per endpoint.
//
//   - New builds a Probe from a model.Check and a "host:port" target; each
//     call of Probe.Probe runs one probe under the check's timeout and
//     returns a Result (up or not, latency, reported load, error text).
//   - A Tracker applies a check's rise and fall thresholds to a sequence of
//     results and reports each state change exactly once.
//   - Jobs turns services into a check list (model.Job); a Runner runs
//     such a list — one goroutine per job with Run, a Tracker each — and
//     reports the checker's votes in batches, promptly on a change, and as
//     unknown when the checker looks cut off (isolated).
//   - Verdict applies a quorum rule ("majority", "any", "all" or a number of
//     checkers) to the fresh votes of all checkers for one endpoint.
//
// The package has no global state; only Runner.Run starts goroutines, and
// they have all ended when it returns. Outside the standard library it
// imports store/model and golang.org/x/net/dns/dnsmessage only, never
// dnsserver, api, the store's database or miekg/dns; see README.md.
package checker
