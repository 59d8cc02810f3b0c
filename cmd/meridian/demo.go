package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Demo backends: small HTTP servers that stand in for the example's data
// centers, so that a new user can stop one and watch the DNS answer move.
// Each answers GET /healthz with {"status":"ok","backend":NAME,"load":L}
// and anything else with a greeting. A control server starts and stops
// them: stopping closes the backend's listener for real (connections are
// refused), as when a data center's load balancer goes away.

// defaultDemoBackends are the example's (examples/state.yaml) check
// targets.
var defaultDemoBackends = []string{"fra=127.0.0.1:18081", "iad=127.0.0.1:18082", "sin=127.0.0.1:18083"}

func newDemoCmd() *cobra.Command {
	var (
		control  string
		backends []string
		load     float64
	)
	cmd := &cobra.Command{
		Use:   "demo-backends",
		Short: "Run local HTTP backends for the bundled example, with a control API to stop and start them",
		Long: `Run one HTTP server per backend (NAME=host:port) answering /healthz, and a
control server:

  curl -X POST http://127.0.0.1:18080/fra/stop    # fra's listener closes: checks fail
  curl -X POST http://127.0.0.1:18080/fra/start   # fra listens again
  curl http://127.0.0.1:18080/                    # every backend and whether it runs

Until SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := newDemo(backends, load)
			if err != nil {
				return usageErrorf("%v", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			log := newLogger(DefaultConfig())
			return d.run(ctx, control, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&control, "control", "127.0.0.1:18080", "control API address, host:port")
	f.StringSliceVar(&backends, "backend", defaultDemoBackends, "backends, NAME=host:port (repeat or comma-separate)")
	f.Float64Var(&load, "load", 0.3, "load (0-1) the backends report in their health answers")
	return cmd
}

// demo is the set of demo backends.
type demo struct {
	mu       sync.Mutex
	order    []string
	backends map[string]*demoBackend
	load     float64
	log      *slog.Logger
}

type demoBackend struct {
	name, addr string
	srv        *http.Server // nil while stopped
	done       chan struct{}
}

func newDemo(specs []string, load float64) (*demo, error) {
	if load < 0 || load > 1 {
		return nil, fmt.Errorf("--load %v is not within 0-1", load)
	}
	d := &demo{backends: map[string]*demoBackend{}, load: load}
	for _, s := range specs {
		name, addr, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--backend %q: want NAME=host:port", s)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("--backend %q: %v", s, err)
		}
		if d.backends[name] != nil {
			return nil, fmt.Errorf("--backend %q: %s given twice", s, name)
		}
		d.backends[name] = &demoBackend{name: name, addr: addr}
		d.order = append(d.order, name)
	}
	if len(d.order) == 0 {
		return nil, errors.New("no backends")
	}
	return d, nil
}

// run starts every backend and the control server and serves until ctx
// ends. A backend that cannot listen at start is an error.
func (d *demo) run(ctx context.Context, control string, log *slog.Logger) error {
	d.log = log
	ctl, err := net.Listen("tcp", control)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	for _, name := range d.order {
		if err := d.start(name); err != nil {
			ctl.Close()
			d.stopAll()
			return err
		}
	}
	srv := &http.Server{Handler: d.controlHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("demo backends ready", "control", ctl.Addr().String(), "backends", d.list())
	err = srv.Serve(ctl)
	d.stopAll()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (d *demo) start(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.backends[name]
	if b == nil {
		return fmt.Errorf("no backend %q", name)
	}
	if b.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		return fmt.Errorf("backend %s: %w", name, err)
	}
	b.srv = &http.Server{Handler: d.backendHandler(name), ReadHeaderTimeout: 5 * time.Second}
	b.done = make(chan struct{})
	go func(srv *http.Server, done chan struct{}) {
		_ = srv.Serve(ln)
		close(done)
	}(b.srv, b.done)
	d.log.Info("backend started", "backend", name, "addr", b.addr)
	return nil
}

// stop closes the backend's listener and its connections, and waits for
// it to end.
func (d *demo) stop(name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.backends[name]
	if b == nil {
		return fmt.Errorf("no backend %q", name)
	}
	if b.srv == nil {
		return nil
	}
	_ = b.srv.Close()
	<-b.done
	b.srv = nil
	d.log.Info("backend stopped", "backend", name, "addr", b.addr)
	return nil
}

func (d *demo) stopAll() {
	for _, name := range d.order {
		_ = d.stop(name)
	}
}

type demoState struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`
	Running bool   `json:"running"`
}

func (d *demo) list() []demoState {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]demoState, 0, len(d.order))
	for _, name := range d.order {
		b := d.backends[name]
		out = append(out, demoState{Name: name, Addr: b.addr, Running: b.srv != nil})
	}
	return out
}

func (d *demo) backendHandler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ok", "backend": name, "load": d.load})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", name)
	})
	return mux
}

func (d *demo) controlHandler() http.Handler {
	mux := http.NewServeMux()
	writeList := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d.list())
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { writeList(w) })
	mux.HandleFunc("POST /{name}/{action}", func(w http.ResponseWriter, r *http.Request) {
		name, action := r.PathValue("name"), r.PathValue("action")
		if !slices.Contains(d.order, name) {
			http.Error(w, fmt.Sprintf("no backend %q", name), http.StatusNotFound)
			return
		}
		var err error
		switch action {
		case "stop":
			err = d.stop(name)
		case "start":
			err = d.start(name)
		default:
			http.Error(w, "action must be start or stop", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		writeList(w)
	})
	return mux
}
