package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/statefile"
)

// shutdownTimeout bounds how long in-flight work may take after SIGTERM.
const shutdownTimeout = 10 * time.Second

// serve runs Meridian until ctx ends: store, state file, DNS, HTTP, and the
// loop that turns store changes into DNS snapshots. It shuts down in the
// reverse order of start-up.
func serve(ctx context.Context, cfg *Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	// A cluster node cut off from etcd starts anyway, on its last known
	// state, and applies the state file once etcd is back.
	stateLater := false
	if cfg.State != "" {
		err := applyStateFile(ctx, st, cfg.State, log)
		switch {
		case errors.Is(err, store.ErrUnavailable):
			log.Warn("state file not applied yet: the shared store is unreachable; it will be applied when it is back", "file", cfg.State, "err", err)
			stateLater = true
		case err != nil:
			return err
		}
	}

	db, opts, err := geoOptions(cfg, log)
	if err != nil {
		return err
	}
	if db != nil {
		defer db.Close()
	}

	// Watch before the first load, so that no change slips between them.
	changes := st.Watch(ctx)
	buildStart := time.Now()
	snap, inputs, err := buildSnapshot(ctx, st, opts)
	if err != nil {
		return fmt.Errorf("building the first DNS snapshot: %w", err)
	}
	reg := newRegistry(st)
	st.registerStoreMetrics(reg)
	metrics, err := dnsserver.NewMetrics(reg)
	if err != nil {
		return err
	}
	metrics.ObserveBuild(time.Since(buildStart), snap, nil)
	dnsCfg := cfg.dnsConfig()
	dnsCfg.Logger, dnsCfg.Metrics = log, metrics
	dns := dnsserver.New(dnsCfg)
	if r := dnsCfg.RRL; r.ResponsesPerSecond > 0 {
		log.Info("response rate limiting on", "responses_per_second", r.ResponsesPerSecond, "slip", r.Slip)
	}
	dns.Swap(snap)
	if err := dns.Start(ctx); err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	f := &follower{st: st, dns: dns, log: log, opts: opts, metrics: metrics, built: snap.Revision(), inputs: inputs}
	f.current.Store(snap)

	hl, err := newHealth(cfg, st, reg, log)
	if err != nil {
		_ = dns.Shutdown(context.Background())
		return err
	}
	healthChanges := st.Watch(ctx)

	var ready atomic.Bool
	apiSrv, err := newAPI(ctx, st, f, hl.engine, reg, &ready, st.degraded, log)
	if err != nil {
		_ = dns.Shutdown(context.Background())
		return err
	}
	httpLn, httpScheme, err := listenHTTP(cfg, log)
	if err != nil {
		_ = dns.Shutdown(context.Background())
		return fmt.Errorf("http: %w", err)
	}
	httpSrv := newHTTPServer(apiSrv, log)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := httpSrv.Serve(httpLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		f.run(gctx, changes)
		return nil
	})
	g.Go(func() error { return hl.run(gctx, healthChanges) })
	g.Go(func() error {
		return store.NewPruner(st, store.PrunerConfig{Logger: log, Retention: store.Retention{Batch: st.pruneBatch()}}).Run(gctx)
	})
	if stateLater {
		g.Go(func() error { return applyWhenAvailable(gctx, st, cfg.State, log) })
	}
	if db != nil {
		g.Go(func() error {
			db.Watch(gctx, cfg.geoReload())
			return nil
		})
	}

	g.Go(func() error {
		trimMemory(gctx, trimEvery, trimOver)
		return nil
	})

	ready.Store(true)
	// Start-up (a reconcile of the state file, the first read of the
	// store, the first build) allocates several times the live heap: with
	// 100,000 services, 2 GB at the peak for 160 MB kept. Hand the rest
	// back to the system now rather than over the next minutes.
	debug.FreeOSMemory()
	log.Info("ready",
		"zones", snap.Zones(),
		"dns_udp", addrStrings(dns.UDPAddrs()),
		"dns_tcp", addrStrings(dns.TCPAddrs()),
		"http", httpLn.Addr().String(),
		"http_scheme", httpScheme,
		"revision", snap.Revision(),
		"version", version)

	<-gctx.Done()
	log.Info("shutting down")
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	herr := httpSrv.Shutdown(sctx)
	derr := dns.Shutdown(sctx)
	gerr := g.Wait()
	if err := errors.Join(gerr, herr, derr); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// applyStateFile reconciles the desired-state file into the store: one
// transaction, or nothing when the file has an error.
func applyStateFile(ctx context.Context, st store.Store, path string, log *slog.Logger) error {
	desired, err := statefile.Load(path, dnsserver.ParseZoneFile)
	if err != nil {
		return err
	}
	if err := validateState(desired); err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	diff, rev, err := store.Reconcile(ctx, st, model.SourceStateFile, desired, store.ReconcileOptions{Actor: "state file " + path})
	if err != nil {
		return fmt.Errorf("state file %s: %w", path, err)
	}
	log.Info("state file reconciled", "file", path, "changes", diff.Summary(),
		"kept_from_other_sources", len(diff.Kept), "revision", rev)
	return nil
}

// snapshotInputs identifies what a snapshot was built from: the newest
// revision among the state's objects, the overrides and the verdicts, and
// how many there are. Other changes (votes, checkers' last-seen times,
// events, tokens) leave it alone, and need no rebuild.
type snapshotInputs struct {
	newest int64
	count  int
	// kinds is the highest store.KindRevision of the kinds read, 0 when
	// the store does not tell: while it stays, nothing is read at all.
	kinds int64
}

// snapshotKinds are the kinds a DNS snapshot is built from.
var snapshotKinds = append(slices.Clone(model.StateKinds), model.KindOverride, model.KindVerdict)

// kindsRevision is the highest kind revision of snapshotKinds in tx, or 0
// when the store cannot tell.
func kindsRevision(tx store.Tx) int64 {
	var top int64
	for _, k := range snapshotKinds {
		rev, ok := store.KindRevision(tx, k)
		if !ok {
			return 0
		}
		top = max(top, rev)
	}
	return top
}

// buildSnapshot reads the desired state, the operators' overrides and the
// fleet's verdicts in one consistent view and builds the DNS snapshot from
// them. When skip is not nil and the inputs equal it, nothing is built and
// the snapshot is nil.
func buildSnapshot(ctx context.Context, st store.Store, opts dnsserver.BuildOptions, skip ...snapshotInputs) (*dnsserver.Snapshot, snapshotInputs, error) {
	var state *model.State
	var rev int64
	var in snapshotInputs
	unchanged := false
	err := st.View(ctx, func(tx store.Tx) error {
		rev = tx.Revision()
		in.kinds = kindsRevision(tx)
		if len(skip) > 0 && in.kinds > 0 && in.kinds == skip[0].kinds {
			// Nothing the answers depend on was written since: with
			// 100,000 services, not decoding them saves half a second
			// of CPU on every vote.
			unchanged = true
			return nil
		}
		var err error
		if state, err = store.ReadState(tx); err != nil {
			return err
		}
		if opts.Overrides, err = store.List[model.Override](tx); err != nil {
			return err
		}
		opts.Verdicts, err = store.List[model.Verdict](tx)
		return err
	})
	if err != nil {
		return nil, in, err
	}
	if unchanged {
		return nil, skip[0], nil
	}
	see := func(m *model.Meta) {
		in.newest = max(in.newest, m.Revision)
		in.count++
	}
	for _, o := range state.Objects() {
		see(o.GetMeta())
	}
	for i := range opts.Overrides {
		see(&opts.Overrides[i].Meta)
	}
	for i := range opts.Verdicts {
		see(&opts.Verdicts[i].Meta)
	}
	if len(skip) > 0 && skip[0].newest == in.newest && skip[0].count == in.count {
		return nil, in, nil
	}
	snap, err := dnsserver.Build(state, rev, opts)
	return snap, in, err
}

// geoOptions opens the GeoIP databases of the config, if any, and returns
// them with the build options that use them; the caller closes db.
func geoOptions(cfg *Config, log *slog.Logger) (*geo.DB, dnsserver.BuildOptions, error) {
	db, err := openGeo(cfg, log)
	if err != nil || db == nil {
		return nil, dnsserver.BuildOptions{}, err
	}
	return db, dnsserver.BuildOptions{Locator: db}, nil
}

// openGeo opens the GeoIP databases named in the config, or returns nil
// when there are none: Meridian then runs without locations, and the steps
// that need one keep every candidate.
func openGeo(cfg *Config, log *slog.Logger) (*geo.DB, error) {
	if cfg.GeoIP.City == "" {
		log.Warn("no GeoIP database (geoip.city): region and nearest steps keep every candidate")
		return nil, nil
	}
	db, err := geo.Open(cfg.GeoIP.City, cfg.GeoIP.ASN, geo.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("geoip: %w", err)
	}
	s := db.Stats()
	log.Info("geoip database loaded", "city", cfg.GeoIP.City, "type", s.CityType, "built", s.CityBuild.Format(time.DateOnly), "asn", cfg.GeoIP.ASN)
	return db, nil
}

// follower rebuilds the DNS snapshot after every store change and swaps it
// in. A build that fails keeps the last good snapshot, is logged and
// counted.
type follower struct {
	st       store.Store
	dns      *dnsserver.Server
	log      *slog.Logger
	opts     dnsserver.BuildOptions
	metrics  *dnsserver.Metrics // nil in tests that need none
	built    int64              // revision of the snapshot being served
	inputs   snapshotInputs     // what it was built from
	failures atomic.Int64
	// current is the snapshot being served, for the API's explain.
	current atomic.Pointer[dnsserver.Snapshot]
}

func (f *follower) run(ctx context.Context, changes <-chan int64) {
	for rev := range changes {
		if rev <= f.built {
			continue
		}
		start := time.Now()
		snap, inputs, err := buildSnapshot(ctx, f.st, f.opts, f.inputs)
		if err == nil && snap == nil {
			f.inputs = inputs // nothing the answers depend on changed
			continue
		}
		if f.metrics != nil && ctx.Err() == nil {
			f.metrics.ObserveBuild(time.Since(start), snap, err)
		}
		if err != nil {
			if ctx.Err() == nil {
				f.failures.Add(1)
				f.log.Error("snapshot build failed; still serving the last good one", "revision", rev, "serving_revision", f.built, "err", err)
			}
			continue
		}
		f.dns.Swap(snap)
		f.current.Store(snap)
		f.built, f.inputs = snap.Revision(), inputs
		f.log.Info("snapshot rebuilt", "revision", f.built, "zones", len(snap.Zones()), "took", time.Since(start).Round(time.Microsecond))
		if stale := snap.StaleOverrides(); len(stale) > 0 {
			f.log.Warn("overrides name targets that no longer exist; they have no effect", "targets", stale)
		}
	}
}

func addrStrings(addrs []net.Addr) []string {
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out
}
