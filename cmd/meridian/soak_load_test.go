//go:build soak

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/api/client"
	"github.com/meridian-gslb/meridian/store/model"
)

type soakApplies struct {
	ok, failed int
	firstErr   error
	took       []float64 // seconds, sorted
}

func (a *soakApplies) quantile(q float64) float64 { return soakQuantile(a.took, q) }

// soakApplyLoop applies the two states in turn through the API, one every
// soakApplyEvery (a slow apply delays the next: ticks are not queued).
func soakApplyLoop(ctx context.Context, base string, hc *http.Client, states [2]*model.State) soakApplies {
	var a soakApplies
	c, err := client.New(base, soakToken, hc)
	if err != nil {
		a.failed, a.firstErr = 1, err
		return a
	}
	tick := time.NewTicker(soakApplyEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			slices.Sort(a.took)
			return a
		case <-tick.C:
		}
		start := time.Now()
		_, err := c.Apply(ctx, states[i%2], false)
		switch {
		case err == nil:
			a.ok++
			a.took = append(a.took, time.Since(start).Seconds())
		case ctx.Err() == nil:
			a.failed++
			if a.firstErr == nil {
				a.firstErr = err
			}
		}
	}
}

type soakFlaps struct {
	stops, starts, failed int
	firstErr              error
	down                  bool // the flapped backend is stopped
}

// soakFlapLoop stops and starts the flapped demo backend in turn, one every
// soakFlapEvery.
func soakFlapLoop(ctx context.Context, control string) soakFlaps {
	var f soakFlaps
	tick := time.NewTicker(soakFlapEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return f
		case <-tick.C:
		}
		action := map[bool]string{false: "stop", true: "start"}[f.down]
		if _, err := soakControl(control, soakFlapped, action); err != nil {
			f.failed++
			if f.firstErr == nil {
				f.firstErr = err
			}
			continue
		}
		if f.down = !f.down; f.down {
			f.stops++
		} else {
			f.starts++
		}
	}
}

// soakHTTP is the soak's client for /metrics and the demo control API.
var soakHTTP = &http.Client{Timeout: 10 * time.Second}

// soakControl asks the demo backends' control API to stop or start one.
func soakControl(control, backend, action string) ([]byte, error) {
	resp, err := soakHTTP.Post("http://"+control+"/"+backend+"/"+action, "", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /%s/%s: %d %s", backend, action, resp.StatusCode, body)
	}
	return body, nil
}

// soakSample is the server's goroutines (meridian_go_goroutines), RSS
// (VmRSS of /proc/PID/status), the memory the Go runtime holds from the
// OS (meridian_go_memstats_sys_bytes: the race runtime's is not in it)
// and its heap in use, at one moment.
type soakSample struct {
	at             time.Time
	goroutines     int
	rss, sys, heap int64
}

func soakSampleNow(base string, pid int) (soakSample, error) {
	s := soakSample{at: time.Now()}
	m, err := soakScrape(base)
	if err != nil {
		return s, err
	}
	s.goroutines = int(m["meridian_go_goroutines"])
	s.heap = int64(m["meridian_go_memstats_heap_inuse_bytes"])
	s.sys = int64(m["meridian_go_memstats_sys_bytes"])
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" && f[2] == "kB" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			s.rss = kb << 10
		}
	}
	return s, nil
}

// soakSampleMin is n samples half a second apart, the fewest goroutines of
// them (goroutines that come and go, a probe or this scrape, do not
// count) and the last RSS.
func soakSampleMin(t *testing.T, base string, pid, n int) soakSample {
	var out soakSample
	for i := range n {
		if i > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		s, err := soakSampleNow(base, pid)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 || s.goroutines < out.goroutines {
			out.goroutines = s.goroutines
		}
		out.at, out.rss, out.sys, out.heap = s.at, s.rss, s.sys, s.heap
	}
	return out
}

func soakSampleLoop(ctx context.Context, base string, pid int) []soakSample {
	var out []soakSample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
		if s, err := soakSampleNow(base, pid); err == nil {
			out = append(out, s)
		}
	}
}

// soakSampleAt is the last sample taken within d of the first.
func soakSampleAt(samples []soakSample, d time.Duration) soakSample {
	var out soakSample
	for _, s := range samples {
		if s.at.Sub(samples[0].at) > d {
			break
		}
		out = s
	}
	return out
}

// soakCounters are the sums of the /metrics series the table shows, by
// name and, for labelled ones, name{labels}.
type soakCounters map[string]float64

func soakCountersOf(t *testing.T, base string) soakCounters {
	m, err := soakScrape(base)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sub is name's series in c minus those in c0: "ok 612, error 0".
func (c soakCounters) sub(c0 soakCounters, name string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		if labels, ok := strings.CutPrefix(k, name+"{"); ok {
			parts = append(parts, fmt.Sprintf("%s %.0f", strings.TrimSuffix(labels, "}"), c[k]-c0[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// soakScrape reads /metrics: each series' value by its full name with labels,
// and each name's sum over its series.
func soakScrape(base string) (soakCounters, error) {
	resp, err := soakHTTP.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := soakCounters{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		out[series] = v
		if name, _, ok := strings.Cut(series, "{"); ok {
			out[name] += v
		}
	}
	return out, sc.Err()
}
