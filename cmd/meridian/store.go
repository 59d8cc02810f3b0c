package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/api"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// etcdPasswordEnv gives the etcd password without writing it in the
// config file.
const etcdPasswordEnv = "MERIDIAN_ETCD_PASSWORD"

// StoreConfig is the store section: where the state lives. The YAML keys
// are a contract.
type StoreConfig struct {
	// Backend is "bolt" (the default: one file in data_dir) or "etcd" (a
	// cluster of nodes sharing one state).
	Backend string `yaml:"backend"`
	// Endpoints are the etcd members' client URLs.
	Endpoints []string `yaml:"endpoints"`
	// Prefix starts every key Meridian writes in etcd (default /meridian/).
	Prefix string `yaml:"prefix"`
	TLS    struct {
		CA         string `yaml:"ca"`          // PEM CA bundle that signed etcd's certificates
		Cert       string `yaml:"cert"`        // PEM client certificate, when etcd asks for one
		Key        string `yaml:"key"`         // its key
		ServerName string `yaml:"server_name"` // the name to verify instead of the endpoint's host
	} `yaml:"tls"`
	// Username and Password authenticate to etcd; the password may come
	// from MERIDIAN_ETCD_PASSWORD instead.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// DialTimeout bounds connecting at start (default 5s): a node whose
	// etcd does not answer by then starts on its local copy.
	DialTimeout model.Duration `yaml:"dial_timeout"`
	// RequestTimeout bounds each etcd request (default 5s).
	RequestTimeout model.Duration `yaml:"request_timeout"`
	// VoteTTL is the lease on checker votes (default 30s).
	VoteTTL model.Duration `yaml:"vote_ttl"`
}

func (s *StoreConfig) etcd() bool { return s.Backend == "etcd" }

func (c *Config) validateStore() error {
	s := &c.Store
	switch s.Backend {
	case "", "bolt":
		if len(s.Endpoints) > 0 {
			return c.errorf("store.endpoints", "etcd endpoints are given but store.backend is not etcd")
		}
		return nil
	case "etcd":
	default:
		return c.errorf("store.backend", "%q is not bolt or etcd", s.Backend)
	}
	if len(s.Endpoints) == 0 {
		return c.errorf("store.endpoints", "store.backend etcd needs the etcd members' client URLs")
	}
	for i, e := range s.Endpoints {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() == "" {
			return c.errorf(fmt.Sprintf("store.endpoints[%d]", i), "%q: want http://HOST:PORT or https://HOST:PORT", e)
		}
	}
	if s.Prefix != "" && s.Prefix[0] != '/' {
		return c.errorf("store.prefix", "%q: must start with /", s.Prefix)
	}
	if s.TLS.Cert != "" && s.TLS.Key == "" {
		return c.errorf("store.tls.cert", "a client certificate needs its key (store.tls.key)")
	}
	if s.TLS.Key != "" && s.TLS.Cert == "" {
		return c.errorf("store.tls.key", "a client key needs its certificate (store.tls.cert)")
	}
	for key, p := range map[string]string{"store.tls.ca": s.TLS.CA, "store.tls.cert": s.TLS.Cert, "store.tls.key": s.TLS.Key} {
		if p != "" {
			if _, err := os.Stat(p); err != nil {
				return c.errorf(key, "%v", err)
			}
		}
	}
	for key, d := range map[string]model.Duration{"store.dial_timeout": s.DialTimeout, "store.request_timeout": s.RequestTimeout} {
		if d < 0 || d.D() > 5*time.Minute {
			return c.errorf(key, "must be between 0 (the default, 5s) and 5m")
		}
	}
	// etcd grants no lease under about two seconds; votes are renewed by
	// every report, so the TTL must outlast the gap between reports.
	if s.VoteTTL != 0 && (s.VoteTTL.D() < 2*time.Second || s.VoteTTL.D() > time.Hour) {
		return c.errorf("store.vote_ttl", "must be between 2s and 1h (default 30s)")
	}
	return nil
}

// etcdTLS builds the client TLS configuration, or nil when none is set
// and every endpoint is plain http.
func (s *StoreConfig) etcdTLS() (*tls.Config, error) {
	https := false
	for _, e := range s.Endpoints {
		if u, err := url.Parse(e); err == nil && u.Scheme == "https" {
			https = true
		}
	}
	if !https && s.TLS.CA == "" && s.TLS.Cert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: s.TLS.ServerName}
	if s.TLS.CA != "" {
		pem, err := os.ReadFile(s.TLS.CA)
		if err != nil {
			return nil, fmt.Errorf("store.tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store.tls.ca: %s holds no PEM certificate", s.TLS.CA)
		}
		cfg.RootCAs = pool
	}
	if s.TLS.Cert != "" {
		cert, err := tls.LoadX509KeyPair(s.TLS.Cert, s.TLS.Key)
		if err != nil {
			return nil, fmt.Errorf("store.tls.cert/key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// openedStore is the store serve runs on, and the etcd backend's state
// when that is the backend.
type openedStore struct {
	store.Store
	etcd *store.Etcd // nil for bolt
}

// openStore opens the configured backend. With etcd, the node's local
// copy lives in data_dir/etcd-mirror.db; an etcd that does not answer is
// not an error (the node starts on that copy, degraded).
func openStore(ctx context.Context, cfg *Config, log *slog.Logger) (*openedStore, error) {
	if !cfg.Store.etcd() {
		path := filepath.Join(cfg.DataDir, "meridian.db")
		st, err := store.OpenBolt(path, store.BoltOptions{})
		if err != nil {
			return nil, err
		}
		log.Info("store opened", "backend", "bolt", "path", path)
		return &openedStore{Store: st}, nil
	}
	s := &cfg.Store
	tlsCfg, err := s.etcdTLS()
	if err != nil {
		return nil, err
	}
	password := s.Password
	if password == "" {
		password = os.Getenv(etcdPasswordEnv)
	}
	mirror := filepath.Join(cfg.DataDir, "etcd-mirror.db")
	e, err := store.OpenEtcd(ctx, store.EtcdOptions{
		Endpoints:      s.Endpoints,
		Prefix:         s.Prefix,
		TLS:            tlsCfg,
		Username:       s.Username,
		Password:       password,
		DialTimeout:    s.DialTimeout.D(),
		RequestTimeout: s.RequestTimeout.D(),
		VoteTTL:        s.VoteTTL.D(),
		MirrorPath:     mirror,
		Logger:         log,
	})
	if err != nil {
		return nil, err
	}
	st := e.Status()
	log.Info("store opened", "backend", "etcd", "endpoints", s.Endpoints, "prefix", orDefault(s.Prefix, store.DefaultEtcdPrefix),
		"local_copy", mirror, "connected", st.Connected, "revision", st.Revision)
	return &openedStore{Store: e, etcd: e}, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// degraded reports, for /readyz, why a cluster node serves from its last
// known state; nil when it does not.
func (o *openedStore) degraded() error {
	if o.etcd == nil {
		return nil
	}
	s := o.etcd.Status()
	if s.Connected {
		return nil
	}
	return api.Degraded(fmt.Sprintf("shared store unreachable since %s (%s); answering from the last known state (revision %d); refusing writes",
		s.Since.UTC().Format(time.RFC3339), s.Reason, s.Revision))
}

// pruneBatch keeps each pruning transaction within etcd's default limit
// of 128 operations, in case etcd runs without deploy/'s higher one.
func (o *openedStore) pruneBatch() int {
	if o.etcd != nil {
		return 100
	}
	return 0
}

// registerStoreMetrics adds meridian_store_connected for an etcd store.
func (o *openedStore) registerStoreMetrics(reg prometheus.Registerer) {
	if o.etcd == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "meridian_store_connected",
		Help: "1 while the shared store (etcd) answers and this node's copy follows it; 0 while the node answers from its last known state.",
	}, func() float64 {
		if o.etcd.Status().Connected {
			return 1
		}
		return 0
	}))
	for name, c := range map[string]struct {
		help string
		get  func(store.EtcdStatus) int64
	}{
		"meridian_store_etcd_commits_total": {"Transactions this node committed to etcd.",
			func(s store.EtcdStatus) int64 { return s.Commits }},
		"meridian_store_etcd_conflicts_total": {"Commits lost to another node's write first; the change was then made again on the newer state.",
			func(s store.EtcdStatus) int64 { return s.Conflicts }},
		"meridian_store_etcd_resyncs_total": {"Full reads of the shared state after the first: after an outage long enough for etcd to compact what the watch needed.",
			func(s store.EtcdStatus) int64 { return s.Resyncs }},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: c.help},
			func() float64 { return float64(c.get(o.etcd.Status())) }))
	}
}

// applyWhenAvailable retries the state file every 5 seconds while the
// store refuses writes (a cluster node started with etcd away), so that
// the file is applied once etcd is back.
func applyWhenAvailable(ctx context.Context, st store.Store, path string, log *slog.Logger) error {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := applyStateFile(ctx, st, path, log)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, store.ErrUnavailable) {
			log.Error("state file not applied", "file", path, "err", err)
			return nil
		}
	}
}
