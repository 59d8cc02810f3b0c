//go:build soak

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// soakQueries is the query mix: mostly the geo service from clients on
// three continents (ECS, IPv4 and IPv6 networks), the other policies,
// and static names, a CNAME chain, a wildcard and an NXDOMAIN.
var soakQueries = []struct {
	name   string
	qtype  uint16
	subnet string // ECS; "" for none (the client, loopback, has no location)
	weight int
}{
	{"app.gslb.example.test.", dns.TypeA, "2.2.3.0/24", 8},        // United Kingdom: fra
	{"app.gslb.example.test.", dns.TypeA, "89.160.20.112/28", 4},  // Sweden: fra
	{"app.gslb.example.test.", dns.TypeA, "214.78.120.0/22", 8},   // San Diego: iad, which flaps
	{"app.gslb.example.test.", dns.TypeA, "175.16.199.0/24", 8},   // China: sin
	{"app.gslb.example.test.", dns.TypeAAAA, "2001:218::/32", 4},  // Japan: sin
	{"app.gslb.example.test.", dns.TypeAAAA, "81.2.69.142/32", 4}, // London: fra
	{"app.gslb.example.test.", dns.TypeA, "", 4},
	{"api.gslb.example.test.", dns.TypeA, "214.78.120.0/22", 4}, // failover, iad first
	{"cdn.gslb.example.test.", dns.TypeA, "", 2},                // weighted
	{"www.gslb.example.test.", dns.TypeA, "2.2.3.0/24", 2},
	{"docs.gslb.example.test.", dns.TypeA, "", 1}, // docs -> web -> www
	{"gslb.example.test.", dns.TypeMX, "", 1},
	{"x.preview.gslb.example.test.", dns.TypeA, "", 1}, // wildcard
	{"nope.gslb.example.test.", dns.TypeA, "", 1},      // NXDOMAIN
}

// writeSoakQueries writes the mix, shuffled, in dnsperf's binary format
// (-B: each message preceded by its length; dnsperf sets the IDs), since
// its text format cannot give each query its own ECS option.
func writeSoakQueries(t *testing.T, path string) {
	var msgs [][]byte
	for _, q := range soakQueries {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(1232, false)
		if q.subnet != "" {
			opt := m.IsEdns0()
			opt.Option = append(opt.Option, ecsFor(t, q.subnet))
		}
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		for range q.weight * 20 {
			msgs = append(msgs, wire)
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
	var buf bytes.Buffer
	for _, w := range msgs {
		buf.Write(binary.BigEndian.AppendUint16(nil, uint16(len(w))))
		buf.Write(w)
	}
	writeFile(t, path, buf.String())
}

// dnsperfResult is what dnsperf printed: its summary, and the latency
// of every answer from its -v lines ("> NOERROR name type 0.000123").
type dnsperfResult struct {
	sent, completed, lost int
	qps, avg, max         float64 // seconds for the latencies
	rcodes                map[string]int
	latencies             []float64 // sorted
}

var (
	dnsperfSent      = regexp.MustCompile(`Queries sent:\s+(\d+)`)
	dnsperfCompleted = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	dnsperfLost      = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	dnsperfRcodes    = regexp.MustCompile(`Response codes:\s+(.*)`)
	dnsperfRcode     = regexp.MustCompile(`([A-Z0-9]+) (\d+) \(`)
	dnsperfQPS       = regexp.MustCompile(`Queries per second:\s+([\d.]+)`)
	dnsperfLatency   = regexp.MustCompile(`Average Latency \(s\):\s+([\d.]+) \(min [\d.]+, max ([\d.]+)\)`)
)

func runSoakDNSPerf(server, queries string, dur time.Duration, qps int) (*dnsperfResult, error) {
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("dnsperf", "-B", "-d", queries, "-s", host, "-p", port,
		"-l", strconv.Itoa(int(dur.Seconds())), "-Q", strconv.Itoa(qps),
		"-c", strconv.Itoa(soakClients), "-q", strconv.Itoa(soakOutstanding), "-v")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	res := &dnsperfResult{rcodes: map[string]int{}}
	var summary strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 5 && f[0] == ">" && f[1] != "T" {
			if l, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
				res.latencies = append(res.latencies, l)
			}
			continue
		}
		if len(f) == 0 || f[0] != ">" {
			summary.WriteString(line + "\n")
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%v\n%s%s", err, summary.String(), stderr.String())
	}
	out := summary.String()
	num := func(re *regexp.Regexp, i int) string {
		if m := re.FindStringSubmatch(out); m != nil {
			return m[i]
		}
		err = errors.Join(err, fmt.Errorf("no %q in dnsperf's output", re))
		return "0"
	}
	res.sent, _ = strconv.Atoi(num(dnsperfSent, 1))
	res.completed, _ = strconv.Atoi(num(dnsperfCompleted, 1))
	res.lost, _ = strconv.Atoi(num(dnsperfLost, 1))
	res.qps, _ = strconv.ParseFloat(num(dnsperfQPS, 1), 64)
	res.avg, _ = strconv.ParseFloat(num(dnsperfLatency, 1), 64)
	res.max, _ = strconv.ParseFloat(num(dnsperfLatency, 2), 64)
	for _, m := range dnsperfRcode.FindAllStringSubmatch(num(dnsperfRcodes, 1), -1) {
		res.rcodes[m[1]], _ = strconv.Atoi(m[2])
	}
	slices.Sort(res.latencies)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	return res, nil
}

func (r *dnsperfResult) quantile(q float64) float64 { return soakQuantile(r.latencies, q) }

func (r *dnsperfResult) rcodeText() string {
	var parts []string
	for _, rc := range slices.Sorted(maps.Keys(r.rcodes)) {
		parts = append(parts, fmt.Sprintf("%s %d", rc, r.rcodes[rc]))
	}
	return strings.Join(parts, ", ")
}

// soakQuantile is the q quantile of sorted values, nearest rank; 0 for none.
func soakQuantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
