package dnsserver

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startServer starts a server on 127.0.0.1:0 with snap and stops it when
// the test ends. Start returns once every listener serves: no sleeps.
func startServer(t *testing.T, cfg Config, snap *Snapshot) *Server {
	t.Helper()
	if cfg.Listen == nil {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	s := New(cfg)
	s.Swap(snap)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return s
}

// addr is the server's one address; UDP and TCP share the port.
func addr(t *testing.T, s *Server) string {
	t.Helper()
	u, tc := s.UDPAddrs(), s.TCPAddrs()
	if len(u) != 1 || len(tc) != 1 {
		t.Fatalf("addresses %v %v", u, tc)
	}
	if u[0].(*net.UDPAddr).Port != tc[0].(*net.TCPAddr).Port {
		t.Fatalf("UDP %v and TCP %v differ in port", u[0], tc[0])
	}
	return u[0].String()
}

func exchange(t *testing.T, network, address string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, address)
	if err != nil {
		t.Fatalf("%s exchange %v: %v", network, m.Question, err)
	}
	return r
}

// TestServerAnswers checks answers end to end, over UDP and over TCP.
func TestServerAnswers(t *testing.T) {
	s := startServer(t, Config{}, exampleSnapshot(t))
	a := addr(t, s)
	cases := []struct {
		q    string
		want expect
	}{
		{"www.example.test. A", expect{rcode: "NOERROR", flags: "aa", answer: www}},
		{"www.example.test. ANY", expect{rcode: "NOERROR", flags: "aa", answer: www}},
		{"alias.example.test. A", expect{rcode: "NOERROR", flags: "aa", answer: "alias.example.test. 300 IN CNAME www.example.test.\n" + www}},
		{"nothere.example.test. A", expect{rcode: "NXDOMAIN", flags: "aa", ns: negSOA}},
		{"b.example.test. A", expect{rcode: "NOERROR", flags: "aa", ns: negSOA}},
		{"host.sub.example.test. A", expect{rcode: "NOERROR", ns: subReferral, extra: subGlue}},
		{"foo.wild.example.test. A", expect{rcode: "NOERROR", flags: "aa", answer: "foo.wild.example.test. 300 IN A 192.0.2.100"}},
		{"www.elsewhere.test. A", expect{rcode: "REFUSED"}},
		{"version.bind. TXT CH", expect{rcode: "REFUSED"}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(network+" "+tc.q, func(t *testing.T) {
				req := question(t, tc.q)
				r := exchange(t, network, a, req)
				checkResponse(t, r, tc.want)
				if r.Question[0].Name != req.Question[0].Name {
					t.Errorf("question %q, want %q", r.Question[0].Name, req.Question[0].Name)
				}
			})
		}
	}
	st := s.Stats()
	n := uint64(2 * len(cases))
	if st.Queries != n || st.UDP != n/2 || st.TCP != n/2 || st.NXDomain != 2 || st.Refused != 4 {
		t.Errorf("stats %+v: want %d queries, half each way, 2 NXDOMAIN, 4 REFUSED", st, n)
	}
}

// TestServerTruncation checks TC over UDP and the full answer over TCP.
func TestServerTruncation(t *testing.T) {
	s := startServer(t, Config{}, snapshotOf(t, "trunc.test.", truncZone()))
	a := addr(t, s)
	for _, edns := range []uint16{0, 4096} {
		req := question(t, "big.trunc.test. TXT")
		if edns != 0 {
			withOPT(req, edns, false, 0)
		}
		r := exchange(t, "udp", a, req)
		if !r.Truncated || len(r.Answer) >= 40 {
			t.Errorf("UDP (EDNS %d): TC %v with %d records, want TC and fewer than 40", edns, r.Truncated, len(r.Answer))
		}
		r = exchange(t, "tcp", a, req)
		if r.Truncated || len(r.Answer) != 40 {
			t.Errorf("TCP (EDNS %d): TC %v with %d records, want all 40", edns, r.Truncated, len(r.Answer))
		}
	}
	if st := s.Stats(); st.Truncated != 2 {
		t.Errorf("%d truncated, want 2", st.Truncated)
	}
}

// TestServerTCPPipelined sends several queries on one TCP connection
// before reading, as RFC 7766 section 6.2.1.1 allows.
func TestServerTCPPipelined(t *testing.T) {
	s := startServer(t, Config{}, exampleSnapshot(t))
	conn, err := dns.Dial("tcp", addr(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	qs := []string{"www.example.test. A", "nothere.example.test. A", "alias.example.test. A", "example.test. SOA"}
	want := map[uint16]int{}
	for i, q := range qs {
		m := question(t, q)
		m.Id = uint16(1000 + i)
		want[m.Id] = []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeSuccess, dns.RcodeSuccess}[i]
		if err := conn.WriteMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	for range qs {
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		rcode, ok := want[r.Id]
		if !ok {
			t.Fatalf("unexpected response id %d", r.Id)
		}
		if r.Rcode != rcode {
			t.Errorf("id %d: rcode %s, want %s", r.Id, dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
		}
		delete(want, r.Id)
	}
}

// TestServerTCPIdleTimeout checks that an idle connection is closed after
// TCPIdleTimeout, and kept open until then.
func TestServerTCPIdleTimeout(t *testing.T) {
	const idle = 150 * time.Millisecond
	s := startServer(t, Config{TCPIdleTimeout: idle}, exampleSnapshot(t))
	conn, err := dns.Dial("tcp", addr(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMsg(question(t, "www.example.test. A")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	answered := time.Now()
	_, err = conn.ReadMsg()
	if !errors.Is(err, io.EOF) {
		t.Fatalf("read on the idle connection: %v, want EOF (closed by the server)", err)
	}
	if since := time.Since(answered); since < idle/2 {
		t.Errorf("closed after %v, before the idle timeout %v", since, idle)
	}
}

// TestServerSwap checks that a swapped snapshot answers the next query,
// and that without a snapshot queries are refused.
func TestServerSwap(t *testing.T) {
	one := snapshotOf(t, "swap.test.", "@ IN NS ns.other.test.\nwww IN A 192.0.2.1\n")
	two := snapshotOf(t, "swap.test.", "@ IN NS ns.other.test.\nwww IN A 192.0.2.2\n")
	s := startServer(t, Config{}, one)
	a := addr(t, s)
	for _, step := range []struct {
		snap *Snapshot
		want expect
	}{
		{one, expect{rcode: "NOERROR", flags: "aa", answer: "www.swap.test. 300 IN A 192.0.2.1"}},
		{two, expect{rcode: "NOERROR", flags: "aa", answer: "www.swap.test. 300 IN A 192.0.2.2"}},
		{nil, expect{rcode: "REFUSED"}},
		{one, expect{rcode: "NOERROR", flags: "aa", answer: "www.swap.test. 300 IN A 192.0.2.1"}},
	} {
		s.Swap(step.snap)
		for _, network := range []string{"udp", "tcp"} {
			checkResponse(t, exchange(t, network, a, question(t, "www.swap.test. A")), step.want)
		}
	}
}

// TestServerShutdown checks that Shutdown closes idle connections at
// once, stops the listeners, and that Wait then reports no error.
func TestServerShutdown(t *testing.T) {
	s := New(Config{Listen: []string{"127.0.0.1:0", "127.0.0.1:0"}})
	s.Swap(exampleSnapshot(t))
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err == nil {
		t.Error("second Start succeeded")
	}
	if len(s.UDPAddrs()) != 2 || len(s.TCPAddrs()) != 2 {
		t.Fatalf("addresses %v %v, want two of each", s.UDPAddrs(), s.TCPAddrs())
	}
	tcpAddr := s.TCPAddrs()[1].String()
	conn, err := dns.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMsg(question(t, "www.example.test. A")); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ReadMsg(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if took := time.Since(start); took > DefaultTCPIdleTimeout/2 {
		t.Errorf("Shutdown took %v: it waited for the idle connection", took)
	}
	if err := s.Wait(); err != nil {
		t.Errorf("Wait after Shutdown: %v", err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.ReadMsg(); err == nil {
		t.Error("the idle connection is still open")
	}
	if c, err := net.DialTimeout("tcp", tcpAddr, 5*time.Second); err == nil {
		c.Close()
		t.Error("the TCP listener still accepts")
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

// TestServerStartError checks that a listener that cannot bind fails
// Start, which closes what it had opened.
func TestServerStartError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)

	s := New(Config{Listen: []string{"127.0.0.1:0", "127.0.0.1:" + port}})
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("Start succeeded on a busy TCP port")
	}
	// The UDP socket on the busy port was opened before TCP failed: it
	// must be closed again.
	u, err := net.ListenPacket("udp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatalf("UDP port %s still bound after the failed Start: %v", port, err)
	}
	u.Close()

	for _, bad := range [][]string{nil, {"no port"}, {"256.0.0.1:53"}} {
		if err := New(Config{Listen: bad}).Start(context.Background()); err == nil {
			t.Errorf("Start with %q succeeded", bad)
		}
	}
}

// TestWriteTimeout checks that a TCP response to a client that does not
// read gives up after the timeout instead of blocking for ever.
func TestWriteTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := newTCPListener(ln, Config{ReadTimeout: 100 * time.Millisecond}, new(atomic.Uint64))
	defer wl.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close() // never read
	server, err := wl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 1<<20)
		for {
			if _, err := server.Write(buf); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("write error %v, want a deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writes to a client that does not read still block after 10s")
	}
}

// TestServerReusePort: an address that is not a wildcard is served by
// UDPSockets sockets sharing its port, every one of which answers; a
// wildcard address gets one (dns.Server reads it, see fastReader).
func TestServerReusePort(t *testing.T) {
	s := startServer(t, Config{UDPSockets: 3}, exampleSnapshot(t))
	if n := len(s.servers); n != 4 {
		t.Fatalf("%d dns.Servers, want 1 TCP and 3 UDP", n)
	}
	a := addr(t, s)
	for i := range 64 { // new source ports: the kernel spreads them over the sockets
		r := exchange(t, "udp", a, question(t, "www.example.test. A"))
		if len(r.Answer) != 2 {
			t.Fatalf("query %d: %v", i, r)
		}
	}
	if st := s.Stats(); st.FastPath < 60 {
		t.Errorf("%d of 64 queries took the fast path", st.FastPath)
	}

	w := startServer(t, Config{Listen: []string{"0.0.0.0:0"}, UDPSockets: 3}, exampleSnapshot(t))
	if n := len(w.servers); n != 2 {
		t.Fatalf("wildcard address: %d dns.Servers, want 2", n)
	}
	port := w.UDPAddrs()[0].(*net.UDPAddr).Port
	r := exchange(t, "udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), question(t, "www.example.test. A"))
	if len(r.Answer) != 2 || w.Stats().FastPath != 0 {
		t.Fatalf("wildcard: %v, stats %+v", r, w.Stats())
	}
}
