package dnsserver

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// tcpListener is what dns.Server accepts TCP connections from. It caps
// the connections open at once, overall and per client address, closing
// those over a limit at once (they are counted, never queued), and gives
// every accepted connection a write deadline per response: dns.Server
// (v1.1.73) documents WriteTimeout but never sets a write deadline, so a
// client that sends queries and stops reading would hold a connection
// goroutine, and Shutdown, for ever.
type tcpListener struct {
	net.Listener
	timeout   time.Duration
	max       int // overall; 0 is no limit
	perClient int // per client address; 0 is no limit
	refused   *atomic.Uint64

	mu      sync.Mutex // guards the fields below; taken per connection, never per query
	open    int
	clients map[netip.Addr]int
}

func newTCPListener(ln net.Listener, cfg Config, refused *atomic.Uint64) *tcpListener {
	return &tcpListener{
		Listener: ln, timeout: cfg.ReadTimeout, max: cfg.TCPMaxConnections,
		perClient: cfg.TCPMaxConnectionsPerClient, refused: refused,
		clients: map[netip.Addr]int{},
	}
}

// Accept returns the next connection within the limits.
func (l *tcpListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var client netip.Addr
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			client = a.AddrPort().Addr().Unmap()
		}
		if l.admit(client) {
			return &tcpConn{Conn: c, l: l, client: client}, nil
		}
		l.refused.Add(1)
		_ = c.Close()
	}
}

// admit takes a slot for a connection from client, if there is one.
func (l *tcpListener) admit(client netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.max > 0 && l.open >= l.max {
		return false
	}
	if l.perClient > 0 && l.clients[client] >= l.perClient {
		return false
	}
	l.open++
	l.clients[client]++
	return true
}

func (l *tcpListener) release(client netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n := l.clients[client] - 1; n > 0 {
		l.clients[client] = n
	} else {
		delete(l.clients, client)
	}
}

type tcpConn struct {
	net.Conn
	l      *tcpListener
	client netip.Addr
	closed atomic.Bool
}

func (c *tcpConn) Write(b []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(c.l.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// Close closes the connection and frees its slot, once.
func (c *tcpConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c.client)
	}
	return err
}
