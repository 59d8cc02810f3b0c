package checker

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/meridian-gslb/meridian/store/model"
)

// testDNS is a small name server on one loopback port, over UDP and TCP,
// whose answers depend on the query name (see reply).
type testDNS struct {
	addr       string
	udp        net.PacketConn
	tcp        net.Listener
	wg         sync.WaitGroup
	tcpQueries atomic.Int32
	mu         sync.Mutex
	lastQuery  dnsmessage.Header
}

func startDNS(t *testing.T) *testDNS {
	t.Helper()
	s := &testDNS{}
	// UDP and TCP on the same port: take a UDP port, then its TCP twin;
	// retry when the TCP one is taken.
	for i := 0; ; i++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			s.udp, s.tcp, s.addr = pc, l, pc.LocalAddr().String()
			break
		}
		pc.Close()
		if i == 20 {
			t.Fatalf("no port free for both udp and tcp: %v", err)
		}
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(func() {
		s.udp.Close()
		s.tcp.Close()
		s.wg.Wait()
	})
	return s
}

func (s *testDNS) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 512)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		for _, m := range s.reply(buf[:n], false) {
			s.udp.WriteTo(m, from)
		}
	}
}

func (s *testDNS) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.tcpQueries.Add(1)
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err == nil {
			q := make([]byte, binary.BigEndian.Uint16(n[:]))
			if _, err := io.ReadFull(c, q); err == nil {
				for _, m := range s.reply(q, true) {
					c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...))
				}
			}
		}
		c.Close()
	}
}

func dnsName(s string) dnsmessage.Name { return dnsmessage.MustNewName(s) }

func rr(owner string, body dnsmessage.ResourceBody) dnsmessage.Resource {
	return dnsmessage.Resource{Header: dnsmessage.ResourceHeader{Name: dnsName(owner), Class: dnsmessage.ClassINET, TTL: 60}, Body: body}
}

// reply answers one query; it may send several messages (a spoof first).
// The question is echoed in lower case, as a server may.
func (s *testDNS) reply(b []byte, overTCP bool) [][]byte {
	var q dnsmessage.Message
	if q.Unpack(b) != nil || len(q.Questions) != 1 {
		return nil
	}
	s.mu.Lock()
	s.lastQuery = q.Header
	s.mu.Unlock()
	qq := q.Questions[0]
	qname := strings.ToLower(qq.Name.String())
	qq.Name = dnsName(qname)
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true},
		Questions: []dnsmessage.Question{qq},
	}
	pack := func(m dnsmessage.Message) []byte {
		out, err := m.Pack()
		if err != nil {
			panic(err)
		}
		return out
	}
	switch qname {
	case "good.example.":
		switch qq.Type {
		case dnsmessage.TypeA:
			m.Answers = []dnsmessage.Resource{
				rr(qname, &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}),
				rr(qname, &dnsmessage.AResource{A: [4]byte{192, 0, 2, 2}}),
			}
		case dnsmessage.TypeAAAA:
			m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.AAAAResource{AAAA: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}})}
		case dnsmessage.TypeTXT:
			m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.TXTResource{TXT: []string{"v=spf1 ", "-all"}})}
		case dnsmessage.TypeMX:
			m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.MXResource{Pref: 10, MX: dnsName("mail.example.")})}
		case dnsmessage.TypeSOA:
			m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.SOAResource{NS: dnsName("ns1.example."), MBox: dnsName("hostmaster.example."), Serial: 2026010101, Refresh: 3600, Retry: 600, Expire: 86400, MinTTL: 300})}
		case dnsmessage.TypeSRV:
			m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.SRVResource{Priority: 1, Weight: 2, Port: 5060, Target: dnsName("sip.example.")})}
		case dnsmessage.TypeCNAME:
			m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.CNAMEResource{CNAME: dnsName("alias.example.")})}
		case dnsmessage.TypeNS:
			m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.NSResource{NS: dnsName("ns1.example.")})}
		case dnsmessage.TypePTR:
			m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.PTRResource{PTR: dnsName("host.example.")})}
		}
	case "nx.example.":
		m.RCode = dnsmessage.RCodeNameError
	case "empty.example.":
	case "big.example.": // too big for UDP: truncated there, whole over TCP
		if !overTCP {
			m.Truncated = true
			break
		}
		for i := range 60 {
			m.Answers = append(m.Answers, rr(qname, &dnsmessage.AResource{A: [4]byte{198, 51, 100, byte(i)}}))
		}
	case "spoof.example.": // replies with another ID and another question come first
		wrongID, wrongQ := m, m
		wrongID.ID++
		wrongID.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.AResource{A: [4]byte{203, 0, 113, 66}})}
		wrongQ.Questions = []dnsmessage.Question{{Name: dnsName("other.example."), Type: qq.Type, Class: qq.Class}}
		wrongQ.Answers = wrongID.Answers
		m.Answers = []dnsmessage.Resource{rr(qname, &dnsmessage.AResource{A: [4]byte{192, 0, 2, 7}})}
		return [][]byte{pack(wrongID), pack(wrongQ), []byte{0xde, 0xad}, pack(m)}
	case "wrongid.example.": // only a reply with another ID
		m.ID++
	case "silent.example.":
		return nil
	}
	return [][]byte{pack(m)}
}

func TestDNSProbe(t *testing.T) {
	srv := startDNS(t)
	dns := func(qname, qtype, rcode, answer string) model.Check {
		return model.Check{Type: "dns", QueryName: qname, QueryType: qtype, ExpectRcode: rcode, ExpectAnswer: answer, Timeout: model.Duration(time.Second)}
	}
	tests := []struct {
		name    string
		check   model.Check
		up      bool
		errPart string
	}{
		{"rcode only", dns("good.example.", "", "", ""), true, ""},
		{"A answer", dns("good.example.", "A", "", "192.0.2.2"), true, ""},
		{"relative name, mixed case", dns("GOOD.Example", "", "", "192.0.2.1"), true, ""},
		{"missing answer", dns("good.example.", "A", "", "192.0.2.9"), false, `no answer contains "192.0.2.9" (answers: 192.0.2.1; 192.0.2.2)`},
		{"AAAA", dns("good.example.", "AAAA", "", "2001:db8::1"), true, ""},
		{"TXT joined", dns("good.example.", "TXT", "", "v=spf1 -all"), true, ""},
		{"MX", dns("good.example.", "MX", "", "10 mail.example."), true, ""},
		{"SOA", dns("good.example.", "SOA", "", "ns1.example. hostmaster.example. 2026010101 3600 600 86400 300"), true, ""},
		{"SRV", dns("good.example.", "SRV", "", "1 2 5060 sip.example."), true, ""},
		{"CNAME", dns("good.example.", "CNAME", "", "alias.example."), true, ""},
		{"NS", dns("good.example.", "NS", "", "ns1.example"), true, ""},
		{"PTR", dns("good.example.", "PTR", "", "host.example."), true, ""},
		{"wrong rcode", dns("nx.example.", "", "", ""), false, "rcode NXDOMAIN, want NOERROR"},
		{"expected NXDOMAIN", dns("nx.example.", "", "NXDOMAIN", ""), true, ""},
		{"expected NXDOMAIN, got NOERROR", dns("good.example.", "", "NXDOMAIN", ""), false, "rcode NOERROR, want NXDOMAIN"},
		{"no answers", dns("empty.example.", "", "", "192.0.2.1"), false, `no answer contains "192.0.2.1" (no answers)`},
		{"truncated then tcp", dns("big.example.", "", "", "198.51.100.59"), true, ""},
		{"mismatched replies ignored", dns("spoof.example.", "", "", "192.0.2.7"), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustProbe(t, tt.check, srv.addr, Options{}).Probe(context.Background())
			if r.Up != tt.up || !strings.Contains(r.Err, tt.errPart) || (tt.up && r.Err != "") {
				t.Fatalf("got %+v, want up=%v err containing %q", r, tt.up, tt.errPart)
			}
			if r.Latency <= 0 {
				t.Errorf("latency %v, want > 0", r.Latency)
			}
		})
	}
	if n := srv.tcpQueries.Load(); n != 1 {
		t.Errorf("%d queries over tcp, want 1 (the truncated one)", n)
	}
	srv.mu.Lock()
	q := srv.lastQuery
	srv.mu.Unlock()
	if q.RecursionDesired || q.Response {
		t.Errorf("query header %+v: want RD=0", q)
	}
}

func TestDNSProbeIDsAreRandom(t *testing.T) {
	srv := startDNS(t)
	p := mustProbe(t, model.Check{Type: "dns", QueryName: "good.example."}, srv.addr, Options{})
	ids := map[uint16]bool{}
	for range 8 {
		if r := p.Probe(context.Background()); !r.Up {
			t.Fatalf("got %+v", r)
		}
		srv.mu.Lock()
		ids[srv.lastQuery.ID] = true
		srv.mu.Unlock()
	}
	if len(ids) < 2 {
		t.Fatalf("8 queries used IDs %v", ids)
	}
}

func TestDNSProbeFailures(t *testing.T) {
	srv := startDNS(t)
	timeout := model.Duration(300 * time.Millisecond)

	// No reply at all, and only a reply with another ID: a timeout that
	// says what was ignored.
	r := mustProbe(t, model.Check{Type: "dns", QueryName: "silent.example.", Timeout: timeout}, srv.addr, Options{}).Probe(context.Background())
	if r.Up || !strings.Contains(r.Err, "timed out after 300ms: no reply over udp from "+srv.addr) {
		t.Fatalf("silent server: got %+v", r)
	}
	r = mustProbe(t, model.Check{Type: "dns", QueryName: "wrongid.example.", Timeout: timeout}, srv.addr, Options{}).Probe(context.Background())
	if r.Up || !strings.Contains(r.Err, "timed out after 300ms") || !strings.Contains(r.Err, "ignored 1 that did not match the query, last: ID") {
		t.Fatalf("wrong ID: got %+v", r)
	}

	// No server: the port is closed (the kernel's ICMP answer refuses it).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := pc.LocalAddr().String()
	pc.Close()
	r = mustProbe(t, model.Check{Type: "dns", QueryName: "good.example.", Timeout: timeout}, closed, Options{}).Probe(context.Background())
	if r.Up || r.Err == "" {
		t.Fatalf("no server: got %+v", r)
	}
	t.Logf("no server: %s", r.Err)

	// A cancelled parent context ends a probe that waits for a reply.
	ctx, cancel := context.WithCancel(context.Background())
	p := mustProbe(t, model.Check{Type: "dns", QueryName: "silent.example.", Timeout: model.Duration(time.Minute)}, srv.addr, Options{})
	done := make(chan Result)
	go func() { done <- p.Probe(ctx) }()
	cancel()
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("probe did not end on cancel")
	}
	if r.Up || !strings.Contains(r.Err, "canceled") {
		t.Fatalf("cancelled: got %+v", r)
	}
}
