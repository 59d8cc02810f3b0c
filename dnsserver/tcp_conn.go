package dnsserver

import (
	"net"
	"time"
)

// writeTimeoutListener gives every accepted connection a write deadline
// per response. dns.Server (v1.1.73) documents WriteTimeout but never sets
// a write deadline, so a client that sends queries and stops reading would
// hold a connection goroutine, and Shutdown, for ever.
type writeTimeoutListener struct {
	net.Listener
	timeout time.Duration
}

func (l writeTimeoutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &writeTimeoutConn{Conn: c, timeout: l.timeout}, nil
}

type writeTimeoutConn struct {
	net.Conn
	timeout time.Duration
}

func (c *writeTimeoutConn) Write(b []byte) (int, error) {
	if err := c.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
