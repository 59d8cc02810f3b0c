package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Config are the server's process settings.
type Config struct {
	// Listen are host:port addresses; each is served on UDP and TCP. With
	// port 0 both get the same free port.
	Listen []string
	// TCPIdleTimeout closes a TCP connection idle this long between
	// queries (RFC 7766 section 6.2.3). Zero means 10s.
	TCPIdleTimeout time.Duration
	// ReadTimeout bounds the wait for the first query on a new TCP
	// connection, and each write of a response to a TCP client. Zero
	// means 2s.
	ReadTimeout time.Duration
	// TCPMaxConnections caps the TCP connections open at once; more are
	// closed as soon as they are accepted. Zero means 1000, negative no
	// limit.
	TCPMaxConnections int
	// TCPMaxConnectionsPerClient caps them per client address. Zero
	// means 64, negative no limit.
	TCPMaxConnectionsPerClient int
	// UDPSockets is how many UDP sockets serve each listen address with
	// the fast path (SO_REUSEPORT; the kernel spreads clients over them,
	// each read by its own goroutine). Zero means one per CPU
	// (GOMAXPROCS); only addresses that are not wildcards get more than
	// one.
	UDPSockets int
	// AnswerCacheSize is how many packed responses each snapshot's answer
	// cache keeps (cache.go). Zero means DefaultAnswerCacheSize, negative
	// turns the cache off.
	AnswerCacheSize int
	// RRL limits identical UDP responses per client network; the zero
	// value is off. See RRLConfig.
	RRL RRLConfig
	// Logger receives listener errors; nil discards them. Queries are
	// never logged.
	Logger *slog.Logger
	// Metrics receives the server's Prometheus metrics (NewMetrics); nil
	// means none, at no cost per query.
	Metrics *Metrics
}

// Defaults of Config.
const (
	DefaultTCPIdleTimeout = 10 * time.Second
	DefaultReadTimeout    = 2 * time.Second
	// DefaultTCPMaxConnections is BIND's tcp-clients scaled for an
	// authoritative server that mostly answers UDP.
	DefaultTCPMaxConnections          = 1000
	DefaultTCPMaxConnectionsPerClient = 64
)

// udpReadSize is the receive buffer for one UDP query. Larger datagrams
// are cut short and answered FORMERR.
const udpReadSize = 4096

// Server is the authoritative DNS server: one dns.Server per listener and
// transport, all answering from the snapshot last given to Swap.
type Server struct {
	cfg   Config
	log   *slog.Logger
	cur   atomic.Pointer[served] // never nil after New
	stats counters
	rrl   *rrl // nil when RRL is off

	mu       sync.Mutex // guards the fields below; never taken by a query
	started  bool
	servers  []*dns.Server
	udpAddrs []net.Addr
	tcpAddrs []net.Addr
	serving  sync.WaitGroup

	aborting atomic.Bool // Start is closing what it opened
	errMu    sync.Mutex
	err      error // the first error a listener stopped with
}

// New returns a server for cfg, not yet listening. Until Swap gives it a
// snapshot it refuses every query. cfg.RRL must be valid (Validate).
func New(cfg Config) *Server {
	if cfg.TCPIdleTimeout <= 0 {
		cfg.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	cfg.AnswerCacheSize = limitOrDefault(cfg.AnswerCacheSize, DefaultAnswerCacheSize)
	cfg.TCPMaxConnections = limitOrDefault(cfg.TCPMaxConnections, DefaultTCPMaxConnections)
	cfg.TCPMaxConnectionsPerClient = limitOrDefault(cfg.TCPMaxConnectionsPerClient, DefaultTCPMaxConnectionsPerClient)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log}
	if cfg.RRL.ResponsesPerSecond > 0 {
		s.rrl = newRRL(cfg.RRL)
	}
	if cfg.Metrics != nil {
		cfg.Metrics.addServer(s)
	}
	s.Swap(nil)
	return s
}

// limitOrDefault maps a Config limit to the listener's: zero is the
// default, negative is no limit (0).
func limitOrDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// served is what the handler loads per query: the snapshot and, with
// Metrics, its counter rows.
type served struct {
	snap  *Snapshot
	stats *snapStats // nil without Metrics
	// cache is the answer cache: nil when off, without a snapshot, or
	// with a Locator that cannot tell when it changes; replaced by an
	// empty one when the Locator's generation changes (a GeoIP reload).
	cache      atomic.Pointer[answerCache]
	cacheLimit int
}

// answers returns the answer cache for the Locator's current
// generation, nil when there is none.
func (cur *served) answers() *answerCache {
	c := cur.cache.Load()
	if c == nil {
		return nil
	}
	g, _ := cur.snap.locatorGeneration()
	if c.gen == g {
		return c
	}
	if cur.cache.CompareAndSwap(c, newAnswerCache(cur.cacheLimit, g)) {
		return cur.cache.Load()
	}
	if c = cur.cache.Load(); c.gen == g {
		return c
	}
	return nil
}

// Swap makes snap the snapshot that answers every query from now on. Queries
// being answered finish with the one they started with. A nil snap makes
// every query REFUSED. With Metrics, Swap resolves the snapshot's counter
// rows (off the query path; a service's row is made at its first query,
// and kept by the snapshots after) and releases those of the snapshot it
// replaces.
func (s *Server) Swap(snap *Snapshot) {
	cur := &served{snap: snap, cacheLimit: s.cfg.AnswerCacheSize}
	if g, ok := snap.locatorGeneration(); ok && s.cfg.AnswerCacheSize > 0 {
		cur.cache.Store(newAnswerCache(s.cfg.AnswerCacheSize, g))
	}
	if m := s.cfg.Metrics; m != nil {
		cur.stats = m.attach(snap)
	}
	if old := s.cur.Swap(cur); old != nil && s.cfg.Metrics != nil {
		s.cfg.Metrics.detach(old.stats)
	}
}

// Stats returns the counters.
func (s *Server) Stats() Stats { return s.stats.load() }

// Start binds every listener on UDP and TCP and returns once all of them
// serve, or with the first error, having closed what it opened. ctx bounds
// the start only; Shutdown stops the server.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("dnsserver: already started")
	}
	if len(s.cfg.Listen) == 0 {
		return errors.New("dnsserver: no listen address")
	}

	var pcs []net.PacketConn
	var lns []net.Listener
	var extra [][]*net.UDPConn // more sockets of pcs[i], SO_REUSEPORT
	closeAll := func() {
		for _, pc := range pcs {
			_ = pc.Close()
		}
		for _, ln := range lns {
			_ = ln.Close()
		}
		for _, e := range extra {
			for _, pc := range e {
				_ = pc.Close()
			}
		}
	}
	for _, addr := range s.cfg.Listen {
		reuse := s.udpSockets(addr) > 1
		pc, ln, err := listenPair(ctx, addr, reuse)
		if err != nil {
			closeAll()
			return fmt.Errorf("dnsserver: listen on %s: %w", addr, err)
		}
		pcs, lns = append(pcs, pc), append(lns, ln)
		var more []*net.UDPConn
		if reuse {
			more, err = listenMore(ctx, pc.LocalAddr().String(), s.udpSockets(addr)-1)
		}
		extra = append(extra, more)
		if err != nil {
			closeAll()
			return fmt.Errorf("dnsserver: listen on %s: %w", addr, err)
		}
	}

	n := 2 * len(pcs)
	for _, e := range extra {
		n += len(e)
	}
	started := make(chan struct{}, n)
	stopped := make(chan error, n)
	var servers []*dns.Server
	for i := range pcs {
		u, t := s.dnsServer(false), s.dnsServer(true)
		u.PacketConn, t.Listener = pcs[i], newTCPListener(lns[i], s.cfg, &s.stats.tcpRefused)
		if uc, ok := pcs[i].(*net.UDPConn); ok && s.fastPath(uc.LocalAddr()) {
			u.PacketConn, u.DecorateReader = fastUDPConn{uc}, s.fastReaderFor(uc)
		}
		both := []*dns.Server{u, t}
		for _, uc := range extra[i] {
			x := s.dnsServer(false)
			x.PacketConn, x.DecorateReader = fastUDPConn{uc}, s.fastReaderFor(uc)
			both = append(both, x)
		}
		for _, srv := range both {
			srv.NotifyStartedFunc = func() { started <- struct{}{} }
			servers = append(servers, srv)
			s.serving.Add(1)
			go s.serve(srv, stopped)
		}
	}
	for ready := 0; ready < n; {
		var err error
		select {
		case <-started:
			ready++
			continue
		case err = <-stopped:
			err = fmt.Errorf("dnsserver: listener stopped while starting: %w", err)
		case <-ctx.Done():
			err = ctx.Err()
		}
		s.aborting.Store(true)
		closeAll()
		s.serving.Wait()
		s.aborting.Store(false)
		return err
	}
	s.started = true
	s.servers = servers
	for i := range pcs {
		s.udpAddrs = append(s.udpAddrs, pcs[i].LocalAddr())
		s.tcpAddrs = append(s.tcpAddrs, lns[i].Addr())
	}
	return nil
}

// serve runs one dns.Server until it stops.
func (s *Server) serve(srv *dns.Server, stopped chan<- error) {
	defer s.serving.Done()
	err := srv.ActivateAndServe()
	if err != nil && !s.aborting.Load() {
		s.log.Error("dns listener stopped", "addr", listenerAddr(srv), "err", err)
		s.errMu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.errMu.Unlock()
	}
	stopped <- err
}

func listenerAddr(srv *dns.Server) string {
	if srv.PacketConn != nil {
		return "udp/" + srv.PacketConn.LocalAddr().String()
	}
	return "tcp/" + srv.Listener.Addr().String()
}

func (s *Server) dnsServer(tcp bool) *dns.Server {
	idle := s.cfg.TCPIdleTimeout
	srv := &dns.Server{
		Net:            "udp",
		Handler:        handler{s: s, tcp: tcp},
		UDPSize:        udpReadSize,
		ReadTimeout:    s.cfg.ReadTimeout,
		WriteTimeout:   s.cfg.ReadTimeout,
		IdleTimeout:    func() time.Duration { return idle },
		MsgAcceptFunc:  s.stats.accept(tcp),
		MsgInvalidFunc: s.stats.invalid(tcp),
		DecorateWriter: func(w dns.Writer) dns.Writer { return scrubWriter{w} },
	}
	if tcp {
		srv.Net = "tcp"
	}
	return srv
}

// fastPath reports whether the UDP socket bound to addr is read by the
// fast path: the answer cache is on and addr is not a wildcard.
func (s *Server) fastPath(addr net.Addr) bool {
	return s.cfg.AnswerCacheSize > 0 && fastPathFor(addr)
}

// udpSockets is how many UDP sockets serve the listen address addr.
func (s *Server) udpSockets(addr string) int {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	if err != nil || ip == nil || !s.fastPath(&net.UDPAddr{IP: ip}) {
		return 1
	}
	if s.cfg.UDPSockets > 0 {
		return s.cfg.UDPSockets
	}
	return runtime.GOMAXPROCS(0)
}

// reusePort is a ListenConfig whose sockets share their port
// (SO_REUSEPORT): the kernel spreads clients over them by address and
// port, and only sockets of the same user may join.
var reusePort = net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}}

// listenMore binds n more UDP sockets to addr, with SO_REUSEPORT.
func listenMore(ctx context.Context, addr string, n int) ([]*net.UDPConn, error) {
	var out []*net.UDPConn
	for range n {
		pc, err := reusePort.ListenPacket(ctx, "udp", addr)
		if err != nil {
			for _, c := range out {
				_ = c.Close()
			}
			return nil, err
		}
		out = append(out, pc.(*net.UDPConn))
	}
	return out, nil
}

// listenPair binds addr on UDP and TCP. With port 0 it finds a port free
// on both, so that one address serves both transports. With reuse the
// UDP socket lets others join its port (listenMore).
func listenPair(ctx context.Context, addr string, reuse bool) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var lc net.ListenConfig
	ulc := lc
	if reuse {
		ulc = reusePort
	}
	if p, err := strconv.Atoi(port); err != nil || p != 0 {
		pc, err := ulc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, err
		}
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			_ = pc.Close()
			return nil, nil, err
		}
		return pc, ln, nil
	}
	for attempt := 0; ; attempt++ {
		pc, err := ulc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, err
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return pc, ln, nil
		}
		_ = pc.Close()
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 20 {
			return nil, nil, err
		}
	}
}

// UDPAddrs returns the bound UDP addresses, in Listen order.
func (s *Server) UDPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.udpAddrs...)
}

// TCPAddrs returns the bound TCP addresses, in Listen order.
func (s *Server) TCPAddrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.tcpAddrs...)
}

// Shutdown stops the server gracefully: listeners stop accepting, queries
// being answered are answered, idle TCP connections are closed. When ctx
// ends first it returns ctx's error and the rest is abandoned. Shutdown of
// a server that is not running does nothing.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	servers := s.servers
	s.servers = nil
	s.mu.Unlock()
	if len(servers) == 0 {
		return nil
	}
	var g errgroup.Group
	for _, srv := range servers {
		g.Go(func() error { return srv.ShutdownContext(ctx) })
	}
	err := g.Wait()
	done := make(chan struct{})
	go func() {
		s.serving.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

// Wait blocks until every listener has stopped and returns the first error
// one stopped with: nil after Shutdown, the cause when a listener failed on
// its own (the server then answers on the other listeners only).
func (s *Server) Wait() error {
	s.serving.Wait()
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}
