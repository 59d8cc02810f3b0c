//go:build soak

package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// soakResult is what one run measured.
type soakResult struct {
	bin           string
	race          bool
	dur, load     time.Duration // asked, and how long dnsperf ran
	qps           int
	perf          *dnsperfResult
	applies       soakApplies
	flaps         soakFlaps
	samples       []soakSample // every second under load
	before, after soakSample   // idle, before the load and once settled after it
	settled       time.Duration
	counters      [2]soakCounters // before and after
	dbSize        [2]int64
	logs          string
}

// table is the run's figures, one per line.
func (r *soakResult) table() string {
	perf, c0, c1 := r.perf, r.counters[0], r.counters[1]
	quarter, end := soakSampleAt(r.samples, r.load/4), soakSampleAt(r.samples, r.load)
	maxG := 0
	for _, s := range r.samples {
		maxG = max(maxG, s.goroutines)
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("binary", "%s", r.bin)
	row("load", "%v at %d qps asked, %.0f qps achieved; dnsperf -c %d -q %d", r.dur, r.qps, perf.qps, soakClients, soakOutstanding)
	row("queries sent", "%d", perf.sent)
	row("answered", "%d (%.4f%%)", perf.completed, soakPct(perf.completed, perf.sent))
	row("lost", "%d (%.4f%%; bound %g%%)", perf.lost, soakPct(perf.lost, perf.sent), soakMaxLoss*100)
	row("rcodes", "%s", perf.rcodeText())
	row("SERVFAIL", "%d (bound 0)", perf.rcodes["SERVFAIL"])
	row("latency", "avg %s  p50 %s  p99 %s  p99.9 %s  max %s  (%d answers timed)",
		soakMS(perf.avg), soakMS(perf.quantile(0.50)), soakMS(perf.quantile(0.99)), soakMS(perf.quantile(0.999)), soakMS(perf.max), len(perf.latencies))
	row("applies", "%d ok, %d failed, every %v; took p50 %s p99 %s max %s", r.applies.ok, r.applies.failed, soakApplyEvery,
		soakMS(r.applies.quantile(0.5)), soakMS(r.applies.quantile(0.99)), soakMS(r.applies.quantile(1)))
	row("backend flaps", "%s stopped %d, started %d, %d failed", soakFlapped, r.flaps.stops, r.flaps.starts, r.flaps.failed)
	row("verdict changes", "%s", c1.sub(c0, "meridian_verdict_changes_total"))
	row("snapshot builds", "%s", c1.sub(c0, "meridian_dns_snapshot_builds_total"))
	row("store", "revision %.0f -> %.0f; file %s -> %s", c0["meridian_store_revision"], c1["meridian_store_revision"], soakMiB(r.dbSize[0]), soakMiB(r.dbSize[1]))
	row("goroutines", "before %d, max under load %d, after %d (settled in %v; bound before+%d)",
		r.before.goroutines, maxG, r.after.goroutines, r.settled.Round(100*time.Millisecond), soakGoroutineGap)
	row("RSS", "before %s, at 1/4 of the load %s, at its end %s, after %s",
		soakMiB(r.before.rss), soakMiB(quarter.rss), soakMiB(end.rss), soakMiB(r.after.rss))
	var trail []string
	for i := range 7 {
		trail = append(trail, soakMiB(soakSampleAt(r.samples, r.load*time.Duration(i)/6).rss))
	}
	row("RSS under load", "%s (each sixth of the load)", strings.Join(trail, " "))
	row("Go memory", "from the OS before %s, at 1/4 %s, at the end %s, after %s; heap in use before %s, after %s",
		soakMiB(r.before.sys), soakMiB(quarter.sys), soakMiB(end.sys), soakMiB(r.after.sys), soakMiB(r.before.heap), soakMiB(r.after.heap))
	judged := "RSS and Go memory"
	if r.race {
		judged = "Go memory only (under -race RSS grows with every goroutine started; see TestSoak)"
	}
	row("memory bound", "at the end <= at 1/4 +%.0f%% +%s: %s", soakMemGrowth*100, soakMiB(soakMemSlack), judged)
	cpu := c1["meridian_process_cpu_seconds_total"] - c0["meridian_process_cpu_seconds_total"]
	row("Meridian CPU", "%.2f cores on average (of %d)", cpu/(r.load+r.settled).Seconds(), runtime.NumCPU())
	row("server log", "%s", soakLogLevels(r.logs))
	tw.Flush()
	return b.String()
}

// check fails t for each bound the run broke.
func (r *soakResult) check(t *testing.T) {
	perf := r.perf
	if n := perf.rcodes["SERVFAIL"]; n > 0 {
		t.Errorf("%d SERVFAIL answers", n)
	}
	for rc, n := range perf.rcodes {
		if rc != "NOERROR" && rc != "NXDOMAIN" && rc != "SERVFAIL" {
			t.Errorf("%d %s answers; the query mix asks only for NOERROR and NXDOMAIN", n, rc)
		}
	}
	if perf.sent == 0 || float64(perf.lost)/float64(perf.sent) > soakMaxLoss {
		t.Errorf("lost %d of %d queries, more than %g%%", perf.lost, perf.sent, soakMaxLoss*100)
	}
	if perf.qps < soakMinRate*float64(r.qps) {
		t.Errorf("achieved %.0f qps of %d asked: queries waited for answers (a stall), or the machine is too busy for this rate", perf.qps, r.qps)
	}
	if r.applies.failed > 0 || r.applies.ok < int(r.dur/soakApplyEvery)/2 {
		t.Errorf("applies: %d ok, %d failed (first error: %v); want no failure and at least half of one every %v",
			r.applies.ok, r.applies.failed, r.applies.firstErr, soakApplyEvery)
	}
	if r.flaps.failed > 0 || r.flaps.stops == 0 {
		t.Errorf("backend flaps: %d stops, %d failed (first error: %v)", r.flaps.stops, r.flaps.failed, r.flaps.firstErr)
	}
	if r.after.goroutines > r.before.goroutines+soakGoroutineGap {
		t.Errorf("goroutines grew from %d to %d and did not come back within %v", r.before.goroutines, r.after.goroutines, soakSettle)
	}
	quarter, end := soakSampleAt(r.samples, r.load/4), soakSampleAt(r.samples, r.load)
	grew := func(what string, from, to int64) {
		if limit := int64(float64(from)*(1+soakMemGrowth)) + soakMemSlack; from == 0 || to > limit {
			t.Errorf("%s grew under steady load from %s to %s (bound %s)", what, soakMiB(from), soakMiB(to), soakMiB(limit))
		}
	}
	grew("Go memory from the OS", quarter.sys, end.sys)
	if !r.race {
		grew("RSS", quarter.rss, end.rss)
	}
}

// soakLogLevels counts the JSON log lines by level and names the messages
// of the warnings and errors.
func soakLogLevels(logs string) string {
	levels := map[string]int{}
	msgs := map[string]int{}
	for _, line := range strings.Split(logs, "\n") {
		var e struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &e) != nil || e.Level == "" {
			continue
		}
		levels[e.Level]++
		if e.Level == "WARN" || e.Level == "ERROR" {
			msgs[e.Level+" "+strconv.Quote(e.Msg)]++
		}
	}
	var parts []string
	for _, l := range slices.Sorted(maps.Keys(levels)) {
		parts = append(parts, fmt.Sprintf("%s %d", l, levels[l]))
	}
	for _, m := range slices.Sorted(maps.Keys(msgs)) {
		parts = append(parts, fmt.Sprintf("%s x%d", m, msgs[m]))
	}
	return strings.Join(parts, ", ")
}

func soakFileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func soakPct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func soakMS(seconds float64) string { return fmt.Sprintf("%.3fms", seconds*1000) }

func soakMiB(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }
