package dnsserver

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// rrlResponse answers q from the example snapshot, as the handler would
// before rate limiting.
func rrlResponse(t testing.TB, snap *Snapshot, q string) *dns.Msg {
	t.Helper()
	return snap.answer(question(t, q), false, testSrc)
}

func TestRRLBucket(t *testing.T) {
	snap := exampleSnapshot(t)
	www := rrlResponse(t, snap, "www.example.test. A")
	client := netip.MustParseAddr("192.0.2.77")
	r := newRRL(RRLConfig{ResponsesPerSecond: 10, Slip: 2, Window: 2 * time.Second})

	// A burst of one second's worth is sent; then every second limited
	// response slips, the others are dropped.
	var got []rrlAction
	for range 16 {
		got = append(got, r.decideAt(client, www, 1))
	}
	want := []rrlAction{rrlSend, rrlSend, rrlSend, rrlSend, rrlSend, rrlSend, rrlSend, rrlSend, rrlSend, rrlSend,
		rrlDrop, rrlSlip, rrlDrop, rrlSlip, rrlDrop, rrlSlip}
	if !slices.Equal(got, want) {
		t.Fatalf("burst: got %v, want %v", got, want)
	}

	// Limited responses count too: the balance is 6 responses in debt,
	// and time credits the rate, so 0.7 s later one response is allowed
	// again, and only one.
	if a := r.decideAt(client, www, 1+int64(600*time.Millisecond)); a == rrlSend {
		t.Fatal("after 600 ms: sent, want still limited")
	}
	if a := r.decideAt(client, www, 1+int64(800*time.Millisecond)); a != rrlSend {
		t.Fatalf("after 800 ms: %v, want send", a)
	}
	if a := r.decideAt(client, www, 1+int64(800*time.Millisecond)); a == rrlSend {
		t.Fatal("two sent after 800 ms, want one")
	}

	// A long flood is remembered for the window: the debt is floored at
	// window × rate, so one second of silence is not enough, but a
	// window's worth is.
	now := int64(time.Second)
	for range 1000 {
		r.decideAt(client, www, now)
	}
	if a := r.decideAt(client, www, now+int64(time.Second)); a == rrlSend {
		t.Fatal("a flooding client was forgiven after one second; want the window (2s) to hold it")
	}
	if a := r.decideAt(client, www, now+int64(4*time.Second)); a != rrlSend {
		t.Fatalf("after the window: %v, want send", a)
	}
}

// TestRRLClasses checks what counts as identical: the client prefix and
// the response class, names without case.
func TestRRLClasses(t *testing.T) {
	snap := exampleSnapshot(t)
	r := newRRL(RRLConfig{ResponsesPerSecond: 1})
	a := netip.MustParseAddr("192.0.2.1")
	same := func(name string, x, y *dns.Msg, ax, ay netip.Addr, want bool) {
		t.Helper()
		if got := r.key(ax, x) == r.key(ay, y); got != want {
			t.Errorf("%s: same key %v, want %v", name, got, want)
		}
	}
	www := rrlResponse(t, snap, "www.example.test. A")
	same("case", www, rrlResponse(t, snap, "WwW.EXAMPLE.test. A"), a, a, true)
	same("type", www, rrlResponse(t, snap, "www.example.test. AAAA"), a, a, false)
	same("name", www, rrlResponse(t, snap, "alias.example.test. A"), a, a, false)
	same("same /24", www, www, a, netip.MustParseAddr("192.0.2.200"), true)
	same("other /24", www, www, a, netip.MustParseAddr("192.0.3.1"), false)
	same("same /56", www, www, netip.MustParseAddr("2001:db8:0:1::1"), netip.MustParseAddr("2001:db8:0:ff::2"), true)
	same("other /56", www, www, netip.MustParseAddr("2001:db8:0:100::1"), netip.MustParseAddr("2001:db8:0:ff::2"), false)

	// Random names of one zone are one class: a random-subdomain flood
	// is limited like a flood of one name.
	nx1 := rrlResponse(t, snap, "nothere1.example.test. A")
	if nx1.Rcode != dns.RcodeNameError {
		t.Fatalf("nothere1: %s", dns.RcodeToString[nx1.Rcode])
	}
	same("nxdomain", nx1, rrlResponse(t, snap, "x7.y.example.test. A"), a, a, true)
	same("nodata and nxdomain", nx1, rrlResponse(t, snap, "www.example.test. MX"), a, a, true)
	same("other zone", nx1, rrlResponse(t, snap, "nothere.other.test. A"), a, a, false)
	same("positive and negative", www, nx1, a, a, false)
	refused := rrlResponse(t, snap, "www.elsewhere.test. A")
	same("errors", refused, rrlResponse(t, snap, "a.b.nowhere.test. A"), a, a, true)
}

func TestRRLSlipped(t *testing.T) {
	m := rrlResponse(t, exampleSnapshot(t), "www.example.test. A")
	m.SetEdns0(1232, false)
	slipped(m)
	if !m.Truncated || len(m.Answer) != 0 || len(m.Ns) != 0 || len(m.Extra) != 1 || m.IsEdns0() == nil {
		t.Fatalf("slipped response: %v", m)
	}
	if len(m.Question) != 1 {
		t.Fatal("the question must stay")
	}
}

func TestRRLValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  RRLConfig
		want string
	}{
		{RRLConfig{ResponsesPerSecond: -1}, "responses_per_second"},
		{RRLConfig{ResponsesPerSecond: 5, Slip: 11}, "slip"},
		{RRLConfig{ResponsesPerSecond: 5, Window: time.Millisecond}, "window"},
		{RRLConfig{ResponsesPerSecond: 5, IPv4Prefix: 33}, "ipv4_prefix"},
		{RRLConfig{ResponsesPerSecond: 5, IPv6Prefix: 129}, "ipv6_prefix"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %s", c.cfg, err, c.want)
		}
	}
	if err := (RRLConfig{ResponsesPerSecond: 5, Slip: 1}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// udpFrom sends every query in qs from local (a loopback address) to
// server at once, then reads responses until none comes for quiet.
func udpFrom(t *testing.T, local, server string, qs []*dns.Msg, quiet time.Duration) []*dns.Msg {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(local, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	dst, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pc.WriteTo(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	var out []*dns.Msg
	buf := make([]byte, 65535)
	for len(out) < len(qs) {
		_ = pc.SetReadDeadline(time.Now().Add(quiet))
		n, _, err := pc.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("response does not unpack: %v", err)
		}
		out = append(out, m)
	}
	return out
}

// TestRRLOverSockets floods one client address with identical queries:
// beyond the rate, responses are dropped and every second one slips out
// truncated, while another client address is answered normally; over
// TCP the flooding client is not limited.
func TestRRLOverSockets(t *testing.T) {
	const rate, flood = 5, 200
	s := startServer(t, Config{RRL: RRLConfig{ResponsesPerSecond: rate, Slip: 2, IPv4Prefix: 32}}, exampleSnapshot(t))
	a := addr(t, s)

	qs := make([]*dns.Msg, flood)
	for i := range qs {
		qs[i] = question(t, "www.example.test. A")
		qs[i].Id = uint16(i + 1)
	}
	start := time.Now()
	got := udpFrom(t, "127.0.0.2", a, qs, 500*time.Millisecond)
	took := time.Since(start)

	var full, tc int
	for _, m := range got {
		switch {
		case m.Truncated && len(m.Answer) == 0:
			tc++
		case !m.Truncated && len(m.Answer) == 2:
			full++
		default:
			t.Fatalf("unexpected response: %v", m)
		}
	}
	st := s.Stats()
	t.Logf("flood of %d from 127.0.0.2: %d answered, %d truncated, %d dropped (%v)", flood, full, tc, st.RRLDropped, took)
	if st.Queries != flood {
		t.Fatalf("server saw %d queries, want %d", st.Queries, flood)
	}
	// The burst of one second, plus what the rate credited meanwhile.
	if maxFull := rate + 1 + int(took.Seconds()*rate); full < rate || full > maxFull {
		t.Errorf("%d full answers, want %d to %d", full, rate, maxFull)
	}
	limited := flood - full
	if int(st.RRLSlipped) != tc || int(st.RRLDropped+st.RRLSlipped) != limited {
		t.Errorf("stats %+v, but %d truncated and %d limited arrived", st, tc, limited)
	}
	if d := int(st.RRLDropped) - int(st.RRLSlipped); d < 0 || d > 1 {
		t.Errorf("slip 2: %d dropped and %d slipped, want every second one slipped", st.RRLDropped, st.RRLSlipped)
	}

	// Another client is answered normally meanwhile.
	other := udpFrom(t, "127.0.0.3", a, qs[:rate], 2*time.Second)
	if len(other) != rate {
		t.Fatalf("127.0.0.3 got %d of %d answers", len(other), rate)
	}
	for _, m := range other {
		if m.Truncated || len(m.Answer) != 2 {
			t.Fatalf("127.0.0.3 got a limited answer: %v", m)
		}
	}

	// TCP is never limited: the flooding client gets its answer there.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	dc := &dns.Conn{Conn: conn}
	if err := dc.WriteMsg(qs[0]); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if r, err := dc.ReadMsg(); err != nil || r.Truncated || len(r.Answer) != 2 {
		t.Fatalf("TCP from the limited client: %v %v", r, err)
	}
}

// tcpQuery opens a TCP connection from local to server and asks one
// query on it; it returns the connection (open) and the error, if any.
func tcpQuery(t *testing.T, local, server string) (net.Conn, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", server)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	dc := &dns.Conn{Conn: conn}
	if err := dc.WriteMsg(question(t, "www.example.test. A")); err != nil {
		return conn, err
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	r, err := dc.ReadMsg()
	if err == nil && len(r.Answer) != 2 {
		t.Fatalf("TCP answer %v", r)
	}
	return conn, err
}

// TestTCPConnectionLimits opens connections from several loopback
// addresses: beyond the per-client limit, and beyond the overall one,
// a connection is closed without an answer; closing one frees its slot.
func TestTCPConnectionLimits(t *testing.T) {
	s := startServer(t, Config{TCPMaxConnections: 3, TCPMaxConnectionsPerClient: 2}, exampleSnapshot(t))
	a := addr(t, s)

	first, err := tcpQuery(t, "127.0.0.2", a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tcpQuery(t, "127.0.0.2", a); err != nil {
		t.Fatal(err)
	}
	if _, err := tcpQuery(t, "127.0.0.2", a); err == nil {
		t.Fatal("a third connection from 127.0.0.2 was served; the per-client limit is 2")
	}
	if _, err := tcpQuery(t, "127.0.0.3", a); err != nil {
		t.Fatalf("another client: %v", err)
	}
	if _, err := tcpQuery(t, "127.0.0.4", a); err == nil {
		t.Fatal("a fourth connection was served; the overall limit is 3")
	}
	if n := s.Stats().TCPRefused; n != 2 {
		t.Fatalf("TCPRefused %d, want 2", n)
	}

	// Closing a connection frees its slot once the server has seen the
	// close; poll for it (bounded), no fixed sleep.
	_ = first.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, err := tcpQuery(t, "127.0.0.4", a); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the slot of a closed connection was never freed")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// BenchmarkRRLDecide is the cost RRL adds to a UDP response.
func BenchmarkRRLDecide(b *testing.B) {
	snap := exampleSnapshot(b)
	m := snap.answer(question(b, "www.example.test. A"), false, testSrc)
	r := newRRL(RRLConfig{ResponsesPerSecond: 1000})
	clients := make([]netip.Addr, 256)
	for i := range clients {
		clients[i] = netip.AddrFrom4([4]byte{198, 51, byte(i), 1})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.decide(clients[i%len(clients)], m)
	}
}

// TestRRLSlipFastPath: a response the fast path slips is the one the
// full path slips, octet for octet (header, question, OPT with ECS, TC).
func TestRRLSlipFastPath(t *testing.T) {
	snap := cacheSnapshot(t)
	compared := 0
	defer func() {
		if compared == 0 {
			t.Error("the fast path slipped nothing")
		}
	}()
	for _, q := range []string{"www.example.test. A", "geo.gslb.example.test. A", "nothere.example.test. A"} {
		for v := range cacheVariants {
			s := New(Config{RRL: RRLConfig{ResponsesPerSecond: 1, Slip: 1}})
			s.Swap(snap)
			raw := variantPacket(t, q, v, 99, true)
			serveRaw(handler{s: s}, raw, serviceBenchSrc) // a miss: cached, and the burst used
			got, ok := s.fastAnswer(raw, serviceBenchSrc, false, nil)
			if !ok {
				continue // not a fast-path query
			}
			var req dns.Msg
			if err := req.Unpack(raw); err != nil {
				t.Fatal(err)
			}
			m := snap.answer(&req, false, serviceBenchSrc)
			slipped(m)
			want, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			compared++
			if !bytes.Equal(got, want) {
				t.Errorf("%s %s: fast path slip differs:\n%s", q, cacheVariants[v].name, diffMsgs(got, want))
			}
			if s.Stats().RRLSlipped != 1 {
				t.Errorf("%s: stats %+v", q, s.Stats())
			}
		}
	}
}
