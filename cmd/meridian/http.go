package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meridian-gslb/meridian/api"
	"github.com/meridian-gslb/meridian/checker/fleet"
	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/web"
)

// adminTokenEnv names the environment variable whose value is accepted as
// an admin token (for automation and tests): a contract.
const adminTokenEnv = "MERIDIAN_ADMIN_TOKEN"

// newRegistry is the process's Prometheus registry, served at /metrics:
// Go and process collectors and the store's revision. The DNS and API
// packages register their own collectors on it.
func newRegistry(st store.Store) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	// Every name begins with meridian_, the Go runtime's and the process's
	// too (meridian_go_goroutines, meridian_process_cpu_seconds_total).
	prometheus.WrapRegistererWithPrefix("meridian_", reg).MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "meridian_store_revision",
			Help: "Current revision of the store: one more for every committed change.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			rev, err := st.Revision(ctx)
			if err != nil {
				return -1
			}
			return float64(rev)
		}),
	)
	return reg
}

// newAPI builds the HTTP API over the store, wired to the DNS side through
// functions (api must not import dnsserver), and creates the first admin
// token when there is none, printing its secret once.
func newAPI(ctx context.Context, st store.Store, f *follower, engine *fleet.Engine, reg *prometheus.Registry, ready *atomic.Bool, degraded func() error, log *slog.Logger) (*api.Server, error) {
	srv, err := api.New(api.Config{
		Store:      st,
		Logger:     log,
		Registerer: reg,
		Gatherer:   reg,
		Ready: func() error {
			if !ready.Load() {
				return errors.New("starting or stopping")
			}
			return degraded()
		},
		ParseZone:     dnsserver.ParseZoneFile,
		ValidateState: validateState,
		Explain: func(_ context.Context, name, qtype string, client netip.Addr, ecs netip.Prefix) (any, error) {
			snap := f.current.Load()
			if snap == nil {
				return nil, errors.New("no snapshot loaded yet")
			}
			return snap.Explain(dnsserver.ExplainQuery{Name: name, Type: qtype, Client: client, ECS: ecs}), nil
		},
		Routing: func(context.Context) (any, error) {
			snap := f.current.Load()
			if snap == nil {
				return nil, errors.New("no snapshot loaded yet")
			}
			return snap.Routing(), nil
		},
		AdminToken: os.Getenv(adminTokenEnv),
		Fleet:      fleetAPI{engine},
	})
	if err != nil {
		return nil, err
	}
	secret, err := srv.Bootstrap(ctx)
	switch {
	case errors.Is(err, store.ErrUnavailable):
		// A cluster node started with etcd away: another node, or this
		// one at its next start, creates the first token.
		log.Warn("could not check for a first admin token: the shared store is unreachable", "err", err)
	case err != nil:
		return nil, err
	}
	if secret != "" {
		log.Warn("created the first admin token, named admin; it is shown only this once: keep it, or create another with it", "token", secret)
	}
	return srv, nil
}

// validateState is the one validation path for every change, from the
// state file or the API: the model's rules, then a full DNS snapshot build
// so that bad record data or a service the server cannot answer is
// refused before it is stored.
func validateState(st *model.State) error {
	if err := st.Validate(); err != nil {
		return err
	}
	_, err := dnsserver.Build(st, 0, dnsserver.BuildOptions{})
	return err
}

// newHTTPServer serves the API with timeouts against slow clients. The
// event stream clears its own write deadline. The dashboard (package web)
// answers / and its files under web.AssetPrefix; every other path,
// /api/, /healthz, /readyz and /metrics included, goes to the API, which
// answers unknown paths with its own problem responses.
func newHTTPServer(h *api.Server, log *slog.Logger) *http.Server {
	dashboard := web.Handler()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, web.AssetPrefix) {
			dashboard.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(h.CloseStreams)
	return srv
}

// fleetAPI serves the API's checker-fleet routes from the health engine.
type fleetAPI struct{ e *fleet.Engine }

func (a fleetAPI) Jobs(ctx context.Context) ([]model.Job, error)    { return a.e.Jobs(ctx) }
func (a fleetAPI) Record(ctx context.Context, r model.Report) error { return a.e.Record(ctx, r) }
func (a fleetAPI) Availability(ctx context.Context) (any, error)    { return a.e.Availability(ctx) }
func (a fleetAPI) Status(ctx context.Context) (any, error)          { return a.e.Status(ctx) }
