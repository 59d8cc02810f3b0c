package main

import (
	"context"
	"errors"
	"log/slog"
	"reflect"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/checker"
	"github.com/meridian-gslb/meridian/checker/fleet"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// health is a node's part of the checker fleet: the engine that turns
// votes into verdicts, and the embedded checker (nil when the config turns
// it off) that votes under the node's name.
type health struct {
	st     store.Store
	engine *fleet.Engine
	runner *checker.Runner
	log    *slog.Logger
}

func newHealth(cfg *Config, st store.Store, reg prometheus.Registerer, log *slog.Logger) (*health, error) {
	engine, err := fleet.New(fleet.Config{Store: st, Logger: log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	h := &health{st: st, engine: engine, log: log}
	if !cfg.embeddedChecker() {
		return h, nil
	}
	probes, err := fleet.NewProbeMetrics(reg)
	if err != nil {
		return nil, err
	}
	me := model.Checker{Name: cfg.nodeName(), Region: cfg.Node.Region, Location: cfg.Node.Location}
	h.runner = checker.NewRunner(checker.RunnerConfig{
		Checker: me,
		Report: func(rep model.Report) {
			// The engine writes to the local store; it fails only when
			// the store does, and the next report carries the same votes.
			err := engine.Record(context.Background(), rep)
			switch {
			case errors.Is(err, store.ErrUnavailable):
				log.Debug("embedded checker: votes not recorded while the store refuses writes", "err", err)
			case err != nil:
				log.Error("embedded checker: recording votes failed", "err", err)
			}
		},
		Observe: func(job model.Job, r checker.Result) { probes.Observe(job, r.Up, r.Latency) },
	})
	return h, nil
}

// run runs the engine and the embedded checker until ctx ends, handing
// the checker a new check list whenever the services change.
func (h *health) run(ctx context.Context, changes <-chan int64) error {
	done := make(chan error, 1)
	go func() { done <- h.engine.Run(ctx) }()
	if h.runner == nil {
		for range changes {
		}
		return <-done
	}
	runnerDone := make(chan struct{})
	go func() {
		h.runner.Run(ctx)
		close(runnerDone)
	}()
	var last []model.Job
	last = h.updateJobs(ctx, last)
	for range changes {
		last = h.updateJobs(ctx, last)
	}
	<-runnerDone
	return <-done
}

// updateJobs gives the embedded checker the current check list when it
// differs from last, and returns it.
func (h *health) updateJobs(ctx context.Context, last []model.Job) []model.Job {
	jobs, err := h.engine.Jobs(ctx)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("embedded checker: reading the check list failed", "err", err)
		}
		return last
	}
	if jobs == nil {
		jobs = []model.Job{}
	}
	if last != nil && reflect.DeepEqual(jobs, last) {
		return last
	}
	h.runner.SetJobs(jobs)
	h.log.Info("embedded checker: check list updated", "jobs", len(jobs))
	return jobs
}
