package dnsserver

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const goodID = 0xBEEF

// packet builders for malformed input.

func packed(t testing.TB, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func queryPacket(t testing.TB, id uint16, q string) []byte {
	m := question(t, q)
	m.Id = id
	return packed(t, m)
}

func withOpcode(b []byte, opcode int) []byte {
	b[2] = b[2]&^0x78 | byte(opcode)<<3
	return b
}

// flagged sets RA, AD and TC, which a response to it must not copy.
func flagged(b []byte) []byte {
	b[2] |= octet2TC
	b[3] |= octet3RA | octet3AD
	return b
}

func header(id, qd uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[4:], qd)
	return b
}

// badPacket is a malformed message and what the server must do with it:
// answer with rcode, or drop it (rcode -1).
type badPacket struct {
	name   string
	id     uint16
	packet []byte
	rcode  int
}

func badPackets(t testing.TB) []badPacket {
	twoQ := question(t, "www.example.test. A")
	twoQ.Id = 5
	twoQ.Question = append(twoQ.Question, dns.Question{Name: "example.test.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET})
	qr := queryPacket(t, 6, "www.example.test. A")
	qr[2] |= 0x80
	twoOPT := withOPT(withOPT(question(t, "www.example.test. A"), 1232, false, 0), 1232, false, 0)
	twoOPT.Id = 12
	badVers := withOPT(question(t, "www.example.test. A"), 1232, false, 1)
	badVers.Id = 13
	return []badPacket{
		{"shorter than a header", 0x0102, []byte{1, 2, 3, 4, 5}, -1},
		{"header only", 2, header(2, 1), dns.RcodeFormatError},
		{"header only with RA, AD and TC set", 14, flagged(header(14, 1)), dns.RcodeFormatError},
		{"NOTIFY with RA, AD and TC set", 15, flagged(withOpcode(queryPacket(t, 15, "example.test. SOA"), dns.OpcodeNotify)), dns.RcodeNotImplemented},
		{"QDCOUNT 0", 3, header(3, 0), dns.RcodeFormatError},
		{"garbage after the header", 4, append(header(4, 1), 0xff, 0xff, 0xff, 0x3f, 0x01, 0x02, 0x00), dns.RcodeFormatError},
		{"QDCOUNT 2", 5, packed(t, twoQ), dns.RcodeFormatError},
		{"QR bit set", 6, qr, -1},
		{"opcode NOTIFY", 7, withOpcode(queryPacket(t, 7, "example.test. SOA"), dns.OpcodeNotify), dns.RcodeNotImplemented},
		{"opcode UPDATE", 8, withOpcode(queryPacket(t, 8, "example.test. SOA"), dns.OpcodeUpdate), dns.RcodeNotImplemented},
		{"unassigned opcode 3", 9, withOpcode(queryPacket(t, 9, "example.test. SOA"), 3), dns.RcodeNotImplemented},
		{"text garbage (opcode 13)", 0x6865, []byte("hello, this is not a DNS message"), dns.RcodeNotImplemented},
		{"compression pointer loop", 11, append(header(11, 1), 0xc0, 0x0c, 0, 1, 0, 1), dns.RcodeFormatError},
		{"two OPT records", 12, packed(t, twoOPT), dns.RcodeFormatError},
		{"EDNS version 1", 13, packed(t, badVers), dns.RcodeBadVers},
	}
}

// readResponse reads one DNS message from a UDP or TCP connection.
func readResponse(conn net.Conn) (*dns.Msg, error) {
	var buf []byte
	if _, ok := conn.(*net.TCPConn); ok {
		var n uint16
		if err := binary.Read(conn, binary.BigEndian, &n); err != nil {
			return nil, err
		}
		buf = make([]byte, n)
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil, err
		}
	} else {
		buf = make([]byte, 65535)
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		buf = buf[:n]
	}
	m := new(dns.Msg)
	return m, m.Unpack(buf)
}

func send(t *testing.T, conn net.Conn, b []byte) {
	t.Helper()
	if _, ok := conn.(*net.TCPConn); ok {
		b = append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
	}
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// TestBadInput sends each malformed message over UDP and over TCP, then a
// good query on the same socket or connection, which must be answered.
func TestBadInput(t *testing.T) {
	s := startServer(t, Config{}, exampleSnapshot(t))
	a := addr(t, s)
	cases := badPackets(t)
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(network+" "+tc.name, func(t *testing.T) {
				conn, err := net.Dial(network, a)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				send(t, conn, tc.packet)
				send(t, conn, queryPacket(t, goodID, "www.example.test. A"))

				// Over TCP the server answers a connection's messages in
				// order; over UDP each packet has its own goroutine.
				var bad *dns.Msg
				for good := false; !good || bad == nil && tc.rcode >= 0; {
					r, err := readResponse(conn)
					if err != nil {
						t.Fatalf("reading (good answered: %v): %v", good, err)
					}
					switch {
					case r.Id == goodID:
						if network == "tcp" && tc.rcode >= 0 && bad == nil {
							t.Error("TCP: the good query was answered before the bad one")
						}
						if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
							t.Errorf("good query: rcode %s, answer %s", dns.RcodeToString[r.Rcode], names(r.Answer))
						}
						good = true
					case r.Id == tc.id && tc.rcode < 0:
						t.Fatalf("a message that must be dropped was answered: %v", r)
					case r.Id == tc.id:
						bad = r
					default:
						t.Fatalf("response with unknown id %d", r.Id)
					}
				}
				if tc.rcode >= 0 {
					if bad.Rcode != tc.rcode || !bad.Response || bad.Authoritative || len(bad.Answer) != 0 {
						t.Errorf("response to the bad message: rcode %s QR %v AA %v answer %v; want %s, QR, no AA, no answer",
							dns.RcodeToString[bad.Rcode], bad.Response, bad.Authoritative, bad.Answer, dns.RcodeToString[tc.rcode])
					}
					if bad.RecursionAvailable || bad.AuthenticatedData || bad.Truncated {
						t.Errorf("response to the bad message has RA %v AD %v TC %v, copied from the query",
							bad.RecursionAvailable, bad.AuthenticatedData, bad.Truncated)
					}
					return
				}
				if network == "udp" {
					// Nothing may come for the dropped packet, even late.
					_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					if r, err := readResponse(conn); !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Errorf("after the good answer: %v, %v; want nothing", r, err)
					}
				}
			})
		}
	}

	st := s.Stats()
	var drops, formErrs, notImps uint64
	for _, tc := range cases {
		switch tc.rcode {
		case -1:
			drops += 2
		case dns.RcodeFormatError:
			formErrs += 2
		case dns.RcodeNotImplemented:
			notImps += 2
		}
	}
	if st.Dropped != drops || st.FormErr != formErrs || st.NotImp != notImps {
		t.Errorf("stats %+v: want %d dropped, %d FORMERR, %d NOTIMP", st, drops, formErrs, notImps)
	}
}

// TestBadTCPFraming breaks the TCP length prefix: the server closes the
// connection, and answers the next one.
func TestBadTCPFraming(t *testing.T) {
	s := startServer(t, Config{ReadTimeout: 200 * time.Millisecond}, exampleSnapshot(t))
	a := addr(t, s)
	cases := []struct {
		name      string
		data      []byte
		closeSend bool
	}{
		{"one byte of the length, then close", []byte{0}, true},
		{"a length, fewer bytes, then close", append([]byte{0, 100}, make([]byte, 10)...), true},
		{"one byte of the length, then silence", []byte{0}, false},
		{"a length, fewer bytes, then silence", append([]byte{0, 100}, make([]byte, 10)...), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", a)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			if tc.closeSend {
				if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			// Silence is ended by the server's read timeout.
			if n, err := conn.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
				t.Fatalf("read %d, %v: want the server to close the connection", n, err)
			}
			r := exchange(t, "tcp", a, question(t, "www.example.test. A"))
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
				t.Errorf("next query: rcode %s, answer %s", dns.RcodeToString[r.Rcode], names(r.Answer))
			}
		})
	}
}
