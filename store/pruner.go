package store

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// DefaultPruneInterval is how often a Pruner prunes after its first run.
const DefaultPruneInterval = 10 * time.Minute

// PrunerConfig configures NewPruner. The zero value is the production
// setting.
type PrunerConfig struct {
	// Retention is what to keep; zero fields take their defaults.
	Retention Retention
	// Interval between runs; 0 means DefaultPruneInterval.
	Interval time.Duration
	// Logger receives what was deleted (info) and failures (warn); nil
	// discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests inject one.
	Now func() time.Time
}

// Pruner applies a Retention to a store's event log periodically.
type Pruner struct {
	st  Store
	cfg PrunerConfig
}

// NewPruner returns a Pruner of st's event log.
func NewPruner(st Store, cfg PrunerConfig) *Pruner {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultPruneInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Pruner{st: st, cfg: cfg}
}

// Run prunes once at once and then every Interval until ctx ends or the
// store closes, and returns nil then. A failed run is logged and retried
// at the next tick: an event log that is too long for a while harms
// nothing.
func (p *Pruner) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		if !p.Prune(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Prune runs PruneEvents once and logs the outcome: an info line when it
// deleted something, a warning when it failed. It reports false when the
// context ended or the store is closed, so that there is no point in
// running again.
func (p *Pruner) Prune(ctx context.Context) bool {
	start := time.Now()
	n, err := PruneEvents(ctx, p.st, p.cfg.Retention, p.cfg.Now())
	if n > 0 {
		p.cfg.Logger.Info("event log pruned", "deleted", n, "took", time.Since(start).Round(time.Millisecond))
	}
	switch {
	case err == nil:
		return true
	case ctx.Err() != nil || errors.Is(err, ErrClosed):
		return false
	}
	p.cfg.Logger.Warn("pruning the event log failed", "deleted", n, "err", err)
	return true
}
