//go:build unix

package checker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// BenchmarkRunner1000HTTP runs 1,000 HTTP jobs at a 1s interval (10
// local backends, 100 distinct paths each) for 5s of wall time per
// iteration, and reports:
//
//   - probes/s: probe results per wall second (about 1,000 when keeping up);
//   - cpu-s/s-incl-backends: user+system CPU seconds of the whole process
//     per wall second — the backends run in this process, so this is an
//     upper bound for the checker alone;
//   - heap-MiB: HeapInuse after a forced GC, measured near the end of the
//     run while every job is running;
//   - failed-probes and reports: totals, for sanity.
//
// Run it with: go test -run xxx -bench BenchmarkRunner1000HTTP -benchtime 1x ./checker/
func BenchmarkRunner1000HTTP(b *testing.B) {
	const backends, perBackend = 10, 100
	const runFor = 5 * time.Second
	var jobs []model.Job
	for s := range backends {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Load", "0.5")
			w.Write([]byte("ok"))
		}))
		b.Cleanup(srv.Close)
		for p := range perBackend {
			i := s*perBackend + p
			jobs = append(jobs, model.Job{
				Service:    fmt.Sprintf("svc%d.example./A", s),
				Endpoint:   fmt.Sprintf("10.%d.%d.%d", s, p/250, p%250),
				Datacenter: fmt.Sprint("dc", i%5),
				Target:     hostPort(srv),
				Check: new(Defaults(model.Check{
					Type: "http", Path: fmt.Sprintf("/health/%d", i), ExpectBody: "ok",
					Interval: model.Duration(time.Second), Timeout: model.Duration(500 * time.Millisecond),
				})),
			})
		}
	}

	var probes, failed, reports int64
	var cpu, wall time.Duration
	var heap uint64
	for b.Loop() {
		var nProbes, nFailed, nReports atomic.Int64
		r := NewRunner(RunnerConfig{
			Checker: model.Checker{Name: "bench"},
			Report:  func(model.Report) { nReports.Add(1) },
			Observe: func(_ model.Job, res Result) {
				nProbes.Add(1)
				if !res.Up {
					nFailed.Add(1)
				}
			},
		})
		r.SetJobs(jobs)
		ctx, cancel := context.WithTimeout(context.Background(), runFor)
		cpu0, wall0 := cpuTime(b), time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.Run(ctx)
		}()
		select {
		case <-time.After(runFor - 500*time.Millisecond):
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			heap = max(heap, ms.HeapInuse)
		case <-done:
		}
		<-done
		cancel()
		cpu += cpuTime(b) - cpu0
		wall += time.Since(wall0)
		probes += nProbes.Load()
		failed += nFailed.Load()
		reports += nReports.Load()
	}
	b.ReportMetric(0, "ns/op") // one op is 5s of running; the rates below say more
	b.ReportMetric(float64(probes)/wall.Seconds(), "probes/s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu-s/s-incl-backends")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(failed), "failed-probes")
	b.ReportMetric(float64(reports), "reports")
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
