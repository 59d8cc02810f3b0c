// Package checker owns health checking: probes (HTTP, HTTPS and TCP), the
// rise/fall thresholds that turn one checker's probe results into an
// up/down opinion, and the quorum rule that turns many checkers' votes into
// one verdict per endpoint.
//
// The pieces are independent and free of goroutines and global state:
//
//   - New builds a Probe from a model.Check and a "host:port" target; each
//     call of Probe.Probe runs one probe under the check's timeout and
//     returns a Result (up or not, latency, reported load, error text).
//   - A Tracker applies a check's rise and fall thresholds to a sequence of
//     results and reports each state change exactly once.
//   - Verdict applies a quorum rule ("majority", "any", "all" or a number of
//     checkers) to the fresh votes of all checkers for one endpoint.
//
// Scheduling (one goroutine per check, jittered) and the remote agent are
// built on top of these by their callers. The package imports store/model
// only, never dnsserver, api or the store's database; see README.md.
package checker
