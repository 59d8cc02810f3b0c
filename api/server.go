package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// ZoneParser parses an RFC 1035 master file into records with absolute
// owner names (dnsserver.ParseZoneFile). Its errors name the line.
type ZoneParser func(r io.Reader, origin, filename string, defaultTTL uint32) ([]model.Record, error)

// StateValidator checks a whole desired state the way the state file is
// checked: model validation and everything the DNS server needs to serve
// it (cmd passes model.State.Validate followed by dnsserver.Build).
type StateValidator func(*model.State) error

// ExplainFunc explains how the DNS server would answer a query for name
// and qtype from the resolver at client, with ecs as EDNS Client Subnet
// (the zero Prefix for none). It returns a JSON-able explanation, or an
// error when it cannot explain now (no snapshot yet), answered with 503.
type ExplainFunc func(ctx context.Context, name, qtype string, client netip.Addr, ecs netip.Prefix) (any, error)

// Defaults of Config.
const (
	DefaultMaxBody      = 1 << 20  // 1 MiB
	DefaultMaxApplyBody = 32 << 20 // 32 MiB: a whole state, or a zone file
	DefaultHeartbeat    = 15 * time.Second
)

// Config is what New needs. Store is required; everything else has a
// default.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// Registerer receives the API's metrics (meridian_api_*). Nil keeps
	// them on a private registry.
	Registerer prometheus.Registerer
	// Gatherer, when set, is served at /metrics (without a token).
	Gatherer prometheus.Gatherer
	// Ready backs /readyz; nil means always ready.
	Ready ReadinessFunc
	// ParseZone backs zone-file imports (POST .../records as text/dns);
	// nil refuses them with 415.
	ParseZone ZoneParser
	// ValidateState is the whole-state check every write passes; nil
	// means model.State.Validate alone.
	ValidateState StateValidator
	// Explain backs /api/v1/explain; nil answers 501.
	Explain ExplainFunc
	// Routing backs /api/v1/routing: where each service sends each
	// region's clients now, a JSON-able list; nil answers 501.
	Routing func(ctx context.Context) (any, error)
	// AdminToken, when not empty, is accepted as an admin token (the
	// value of MERIDIAN_ADMIN_TOKEN); its actor name is "env-admin".
	AdminToken string
	// MaxBody limits request bodies (413 beyond); MaxApplyBody limits
	// those of /apply and zone-file imports.
	MaxBody, MaxApplyBody int64
	// Heartbeat is the interval of the stream's keep-alive comments.
	Heartbeat time.Duration
	// AuthFailures limits failed authentications per source address;
	// zero values take DefaultAuthBurst and DefaultAuthPer.
	AuthFailures AuthFailures
	// Fleet is the health engine behind /checks, the checkers' reports,
	// /availability and /status; nil answers those routes 503.
	Fleet Fleet
}

// Server is the HTTP surface: /healthz, /readyz, /metrics (when
// configured) and the REST API under /api/v1/. It is an http.Handler.
type Server struct {
	cfg     Config
	st      store.Store
	log     *slog.Logger
	router  chi.Router
	metrics *metrics
	envHash []byte // SHA-256 of Config.AdminToken, nil when unset

	authLimit *authLimiter

	closeOnce sync.Once
	closed    chan struct{} // closed by CloseStreams
}

// New builds the Server and registers its metrics.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: Config.Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Ready == nil {
		cfg.Ready = func() error { return nil }
	}
	if cfg.ValidateState == nil {
		cfg.ValidateState = (*model.State).Validate
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxApplyBody <= 0 {
		cfg.MaxApplyBody = DefaultMaxApplyBody
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, st: cfg.Store, log: cfg.Logger, metrics: m, closed: make(chan struct{}),
		authLimit: newAuthLimiter(cfg.AuthFailures, time.Now)}
	if cfg.AdminToken != "" {
		s.envHash = hashSecret(cfg.AdminToken)
	}
	s.router = s.routes()
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// CloseStreams ends every open /api/v1/stream response, and those opened
// later. http.Server.Shutdown waits for active requests and does not
// cancel them, so cmd registers this with http.Server.RegisterOnShutdown.
func (s *Server) CloseStreams() { s.closeOnce.Do(func() { close(s.closed) }) }

// routes is the route table. Paths are a contract; each route names the
// access class that may use it (see auth.go).
func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.metrics.middleware, s.recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, problemf(http.StatusNotFound, typeNotFound, "no route for %s", r.URL.Path))
	})
	r.MethodNotAllowed(s.methodNotAllowed)

	health := healthHandlers(s.cfg.Ready)
	r.Get("/healthz", health.healthz)
	r.Get("/readyz", health.readyz)
	if s.cfg.Gatherer != nil {
		r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}))
	}

	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/openapi.json", serveOpenAPI)
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			read, write := r.With(s.allow(classRead)), r.With(s.allow(classWrite))

			read.Get("/zones", s.listZones)
			write.Post("/zones", s.createZone)
			read.Get("/zones/{zone}", s.getZone)
			write.Put("/zones/{zone}", s.putZone)
			write.Delete("/zones/{zone}", s.deleteZone)
			read.Get("/zones/{zone}/records", s.listRecords)
			write.Post("/zones/{zone}/records", s.postRecords)
			write.Put("/zones/{zone}/records", s.putRecords)

			for _, k := range []namedKind{regions, datacenters} {
				read.Get("/"+k.plural, s.listNamed(k))
				write.Post("/"+k.plural, s.createNamed(k))
				read.Get("/"+k.plural+"/{name}", s.getNamed(k))
				write.Put("/"+k.plural+"/{name}", s.putNamed(k))
				write.Delete("/"+k.plural+"/{name}", s.deleteNamed(k))
			}

			read.Get("/services", s.listServices)
			write.Post("/services", s.createService)
			read.Get("/services/{name}", s.getService)
			write.Put("/services/{name}", s.putService)
			write.Delete("/services/{name}", s.deleteService)

			read.Get("/overrides", s.listOverrides)
			write.Post("/overrides", s.postOverride)
			for _, p := range overridePaths {
				read.Get("/overrides/"+p, s.getOverride)
				write.Delete("/overrides/"+p, s.deleteOverride)
			}

			read.Get("/events", s.listEvents)
			read.Get("/stream", s.stream)
			read.Get("/explain", s.explain)
			read.Get("/routing", s.routing)
			write.Post("/apply", s.apply)

			checker := r.With(s.allow(classChecker))
			checker.Get("/whoami", s.whoami)
			checker.Get("/checkers", s.listCheckers)
			checker.Get("/checkers/{name}", s.getChecker)
			write.Delete("/checkers/{name}", s.deleteChecker)
			checker.Get("/checks", s.listChecks)
			checker.Post("/checkers/{name}/report", s.postReport)
			read.Get("/verdicts", s.listVerdicts)
			read.Get("/availability", s.availability)
			read.Get("/status", s.status)

			read.Get("/webhooks", s.listWebhooks)
			write.Post("/webhooks", s.createWebhook)
			read.Get("/webhooks/{name}", s.getWebhook)
			write.Put("/webhooks/{name}", s.putWebhook)
			write.Delete("/webhooks/{name}", s.deleteWebhook)

			tokens := r.With(s.allow(classTokens))
			tokens.Get("/tokens", s.listTokens)
			tokens.Post("/tokens", s.createToken)
			tokens.Get("/tokens/{name}", s.getToken)
			tokens.Delete("/tokens/{name}", s.deleteToken)
		})
	})
	return r
}

// methodNotAllowed answers 405 with the Allow header chi's own handler
// would set, found by asking the router which methods match.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if s.router.Match(chi.NewRouteContext(), m, r.URL.Path) {
			w.Header().Add("Allow", m)
		}
	}
	s.problem(w, r, problemf(http.StatusMethodNotAllowed, typeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
}

// recoverer turns a handler's panic into a logged 500.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
				s.problem(w, r, problemf(http.StatusInternalServerError, typeInternal, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
