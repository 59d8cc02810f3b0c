package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/meridian-gslb/meridian/api/client"
	"github.com/meridian-gslb/meridian/checker"
	"github.com/meridian-gslb/meridian/store/model"
)

// The remote checker agent: `meridian checker`. It fetches its check list
// from the API, probes, and reports its votes; see cmd/README.md.

const (
	// agentIdlePoll is how often an agent without any check asks for its
	// check list; with checks it asks once per shortest interval.
	agentIdlePoll = 10 * time.Second
	// agentRetryMax bounds the wait between attempts while the API is
	// unreachable.
	agentRetryMax = 10 * time.Second
)

// errTokenRejected ends the agent: retrying a token the server refuses
// cannot succeed.
var errTokenRejected = errors.New("the server rejected the token")

func newCheckerCmd() *cobra.Command {
	var (
		af                    apiFlags
		name, region, locFlag string
		logLevel, logFormat   string
	)
	cmd := &cobra.Command{
		Use:   "checker",
		Short: "Run a remote health-checker agent that votes into a Meridian server",
		Long: `Run a checker agent: fetch the check list from the API (with a token of the
checker role), probe every endpoint, and report votes in batches. The agent
notices check-list changes within one interval, keeps probing while the API
is unreachable (the next report carries the current votes), and exits when
the server rejects its token.

--server may list several servers, comma-separated: the nodes of a
cluster. The agent talks to one at a time and moves to the next when it
does not answer or refuses writes (503: a node cut off from etcd).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				return usageErrorf("--name is required: this checker's name, unique in the fleet")
			}
			me := model.Checker{Name: name, Region: region}
			if locFlag != "" {
				loc, err := parseLocation(locFlag)
				if err != nil {
					return usageErrorf("--location: %v", err)
				}
				me.Location = loc
			}
			if err := me.Validate(); err != nil {
				return usageErrorf("--name/--location: %v", err)
			}
			cs, err := af.clients(cmd)
			if err != nil {
				return err
			}
			lcfg := DefaultConfig()
			lcfg.Log.Level, lcfg.Log.Format = logLevel, logFormat
			if err := lcfg.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return runAgent(ctx, cs, me, newLogger(lcfg))
		},
	}
	af.register(cmd)
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "this checker's name, unique in the fleet (required)")
	f.StringVar(&region, "region", "", "the region this checker probes from")
	f.StringVar(&locFlag, "location", "", "where this checker runs, LAT,LON (shown on the dashboard's map)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	// Reports are small and frequent; a stuck request must not hold the
	// reporter for the CLI's minute-long default.
	cmd.Flags().Lookup("timeout").DefValue = "5s"
	_ = cmd.Flags().Set("timeout", "5s")
	return cmd
}

func parseLocation(s string) (*model.Location, error) {
	lat, lon, ok := strings.Cut(s, ",")
	if !ok {
		return nil, fmt.Errorf("%q: want LAT,LON", s)
	}
	la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
	lo, err2 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%q: want two numbers, LAT,LON", s)
	}
	return &model.Location{Lat: la, Lon: lo}, nil
}

// agent is a running checker agent.
type agent struct {
	cs     []*client.Client // the servers, tried in turn from cur
	cur    int              // under mu
	me     model.Checker
	log    *slog.Logger
	runner *checker.Runner
	cancel context.CancelCauseFunc

	mu          sync.Mutex
	unreachable bool // the last request failed on the network
	stopping    bool // the token was rejected
}

func runAgent(parent context.Context, cs []*client.Client, me model.Checker, log *slog.Logger) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	a := &agent{cs: cs, me: me, log: log.With("checker", me.Name), cancel: cancel}
	a.runner = checker.NewRunner(checker.RunnerConfig{Checker: me, Report: func(rep model.Report) { a.report(ctx, rep) }})
	runnerDone := make(chan struct{})
	go func() {
		a.runner.Run(ctx)
		close(runnerDone)
	}()
	servers := make([]string, len(cs))
	for i, c := range cs {
		servers[i] = c.Server()
	}
	a.log.Info("checker agent started", "server", strings.Join(servers, ","), "region", me.Region)
	a.poll(ctx)
	<-runnerDone
	if err := context.Cause(ctx); errors.Is(err, errTokenRejected) {
		return err
	}
	a.log.Info("checker agent stopped")
	return nil
}

// poll fetches the check list until ctx ends: at once, then once per
// shortest check interval (so a change is noticed within one interval),
// backing off while the API is unreachable.
func (a *agent) poll(ctx context.Context) {
	var etag string
	interval := agentIdlePoll // once per shortest check interval of the list
	wait, retry := time.Duration(0), time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		var jobs []model.Job
		var tag string
		var notModified bool
		err := a.do(ctx, func(c *client.Client) error {
			var err error
			jobs, tag, notModified, err = c.Checks(ctx, etag)
			return err
		})
		if err != nil {
			if ctx.Err() != nil || a.rejected(err) {
				return
			}
			if unreachable(err) {
				a.network(err)
			} else {
				a.log.Error("fetching the check list refused; retrying", "err", err)
			}
			wait, retry = retry, min(retry*2, agentRetryMax)
			continue
		}
		a.network(nil)
		retry = time.Second
		if !notModified {
			etag = tag
			a.runner.SetJobs(jobs)
			a.log.Info("check list updated", "jobs", len(jobs))
			interval = pollInterval(jobs)
		}
		wait = interval
	}
}

// pollInterval is the shortest check interval among jobs, or agentIdlePoll.
func pollInterval(jobs []model.Job) time.Duration {
	d := agentIdlePoll
	for _, j := range jobs {
		if iv := j.CheckSpec().Interval.D(); iv > 0 && iv < d {
			d = iv
		}
	}
	return d
}

// report sends one batch of votes. A failure on the network is logged
// once per outage: probing goes on, and the next report carries the
// current votes.
func (a *agent) report(ctx context.Context, rep model.Report) {
	err := a.do(ctx, func(c *client.Client) error { return c.Report(ctx, rep) })
	if err == nil {
		a.network(nil)
		return
	}
	if ctx.Err() != nil || a.rejected(err) {
		return
	}
	if unreachable(err) {
		a.network(err)
		return
	}
	a.log.Error("report refused", "err", err)
}

// do calls fn with the current server and, when that server does not
// answer or refuses writes for now (503), with each other server in
// turn; the first that works becomes the current one. It returns the
// last error when none works.
func (a *agent) do(ctx context.Context, fn func(*client.Client) error) error {
	a.mu.Lock()
	start := a.cur
	a.mu.Unlock()
	var err error
	for i := range a.cs {
		idx := (start + i) % len(a.cs)
		if err = fn(a.cs[idx]); err == nil {
			if idx != start {
				a.mu.Lock()
				a.cur = idx
				a.mu.Unlock()
				a.log.Info("reporting to another server", "server", a.cs[idx].Server(), "instead_of", a.cs[start].Server())
			}
			return nil
		}
		if ctx.Err() != nil || !unreachable(err) {
			return err
		}
	}
	return err
}

// unreachable reports whether err means the server cannot take the
// request now: no answer, or a 503 (a cluster node cut off from etcd
// refuses writes).
func unreachable(err error) bool {
	var ne *client.NetworkError
	return errors.As(err, &ne) || client.IsStatus(err, http.StatusServiceUnavailable)
}

// rejected ends the agent when err is the server refusing the token.
func (a *agent) rejected(err error) bool {
	if !client.IsStatus(err, http.StatusUnauthorized) && !client.IsStatus(err, http.StatusForbidden) {
		return false
	}
	a.mu.Lock()
	first := !a.stopping
	a.stopping = true
	a.mu.Unlock()
	if first {
		a.log.Error("the server rejected the token; stopping", "err", err)
		a.cancel(fmt.Errorf("%w (%v); give a token of the checker role with --token or %s", errTokenRejected, err, envToken))
	}
	return true
}

// network records whether the API answered, logging each change.
func (a *agent) network(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case err != nil && !a.unreachable:
		a.unreachable = true
		a.log.Warn("API unreachable or refusing writes; probing goes on and votes are reported when it answers again", "err", err)
	case err == nil && a.unreachable:
		a.unreachable = false
		a.log.Info("API reachable again; reporting")
	}
}
