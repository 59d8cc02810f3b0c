package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkEmbeddedChecker1000 measures a real `meridian serve` whose
// embedded checker runs 1,000 HTTP checks at a 1 s interval against local
// backends (a separate `meridian demo-backends` process, so that the
// backends' work is not counted): the serve process's CPU (from
// /proc/PID/stat, in cores) and resident memory over 10 s of steady state,
// with everything it does besides probing (recording votes, verdicts,
// snapshots) included.
func BenchmarkEmbeddedChecker1000(b *testing.B) {
	const (
		backends  = 10
		services  = 50
		endpoints = 20 // per service: 1,000 checks in all
		window    = 10 * time.Second
	)
	dir := b.TempDir()
	var specs []string
	for i := 0; i < backends; i++ {
		specs = append(specs, fmt.Sprintf("dc%d=127.0.0.1:%d", i, freePort(b)))
	}
	demo := exec.Command(meridianBin, "demo-backends", "--control", fmt.Sprintf("127.0.0.1:%d", freePort(b)), "--backend", strings.Join(specs, ","))
	demoErr, _ := demo.StderrPipe()
	if err := demo.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = demo.Process.Kill(); _ = demo.Wait() })
	waitLine(b, demoErr, "demo backends ready")

	var st strings.Builder
	st.WriteString("zones:\n  - name: bench.test\n    nameservers: [{name: ns1.bench.test, address: 127.0.0.1}]\ndatacenters:\n")
	for i := 0; i < backends; i++ {
		fmt.Fprintf(&st, "  - {name: dc%d, location: {lat: %d, lon: %d}}\n", i, i*5, i*10)
	}
	st.WriteString("services:\n")
	for s := 0; s < services; s++ {
		fmt.Fprintf(&st, "  - name: s%d.bench.test\n    type: A\n    policy: all\n", s)
		st.WriteString("    check: {type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 3}\n    endpoints:\n")
		for e := 0; e < endpoints; e++ {
			dc := e % backends
			_, addr, _ := strings.Cut(specs[dc], "=")
			fmt.Fprintf(&st, "      - {datacenter: dc%d, address: 198.18.%d.%d, check_target: \"%s\"}\n", dc, s, e+1, addr)
		}
	}
	state := filepath.Join(dir, "state.yaml")
	if err := os.WriteFile(state, []byte(st.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Setenv("MERIDIAN_ADMIN_TOKEN", testAdminToken)
	p := startServe(b, "--state", state, "--data-dir", filepath.Join(dir, "data"))

	// Steady state: every endpoint has an up verdict.
	deadline := time.Now().Add(60 * time.Second)
	for upVerdicts(b, p) < services*endpoints {
		if time.Now().After(deadline) {
			b.Fatalf("not every endpoint up after 60s:\n%s", p.Logs())
		}
		time.Sleep(500 * time.Millisecond)
	}
	pid := p.cmd.Process.Pid
	cpu0, probes0, t0 := cpuSeconds(b, pid), probesTotal(b, p), time.Now()
	time.Sleep(window)
	cpu1, probes1, t1 := cpuSeconds(b, pid), probesTotal(b, p), time.Now()
	secs := t1.Sub(t0).Seconds()
	b.ReportMetric((cpu1-cpu0)/secs, "cpu-cores")
	b.ReportMetric((probes1-probes0)/secs, "probes/s")
	b.ReportMetric(rssMiB(b, pid), "rss-MiB")
}

func waitLine(b *testing.B, r interface{ Read([]byte) (int, error) }, want string) {
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				close(found)
				for sc.Scan() {
				}
				return
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(15 * time.Second):
		b.Fatalf("no %q within 15s", want)
	}
}

func upVerdicts(b *testing.B, p *proc) int {
	req, _ := http.NewRequest("GET", "http://"+p.http+"/api/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Datacenters []struct {
			Up int `json:"up"`
		} `json:"datacenters"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, d := range st.Datacenters {
		n += d.Up
	}
	return n
}

// cpuSeconds is the process's user and system CPU time (/proc/PID/stat
// fields 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuSeconds(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

func rssMiB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func probesTotal(b *testing.B, p *proc) float64 {
	resp, err := http.Get("http://" + p.http + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "meridian_checker_probes_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			total += v
		}
	}
	return total
}
