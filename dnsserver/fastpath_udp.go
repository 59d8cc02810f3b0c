package dnsserver

import (
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// fastUDPConn hides the *net.UDPConn from dns.Server so that it reads
// through fastReader's ReadPacketConn: dns.Server treats a *net.UDPConn
// specially (ReadUDP with a session for the destination address), and any
// other PacketConn through the reader's ReadPacketConn.
type fastUDPConn struct{ *net.UDPConn }

// fastReader is dns.Server's reader for a UDP socket bound to one
// address: it reads packets itself, answers those the fast path can
// (fastAnswer) on the spot, in the reading goroutine, without a dns.Msg,
// an allocation or a goroutine, and hands the others to dns.Server as
// before. Only for sockets bound to one address: on a wildcard address
// the reply must leave from the address the query came to, which
// dns.Server's own UDP reading handles (the packet's destination from
// its control message).
type fastReader struct {
	dns.Reader
	s    *Server
	in   []byte // one reading goroutine per socket: buffers of its own
	out  []byte
	pcr  dns.PacketConnReader
	conn *net.UDPConn
}

func (s *Server) fastReaderFor(conn *net.UDPConn) dns.DecorateReader {
	return func(r dns.Reader) dns.Reader {
		if b := s.batchReader(conn, r); b != nil {
			return b
		}
		pcr, _ := r.(dns.PacketConnReader)
		return &fastReader{Reader: r, s: s, pcr: pcr, conn: conn,
			in: make([]byte, udpReadSize), out: make([]byte, 0, 4096)}
	}
}

// ReadPacketConn returns the next packet the fast path did not answer.
func (r *fastReader) ReadPacketConn(pc net.PacketConn, timeout time.Duration) ([]byte, net.Addr, error) {
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(r.in)
		if err != nil {
			return nil, nil, err
		}
		src := from.Addr().Unmap()
		if resp, ok := r.s.fastAnswer(r.in[:n], src, false, r.out); ok {
			if resp != nil {
				if _, err := r.conn.WriteToUDPAddrPort(resp, from); err != nil {
					r.s.stats.writeFailed.Add(1)
				}
				r.out = resp[:0]
			}
			continue
		}
		b := make([]byte, n)
		copy(b, r.in[:n])
		return b, net.UDPAddrFromAddrPort(from), nil
	}
}

// fastPathFor reports whether a socket bound to addr takes the fast
// reader: not on a wildcard address (see fastReader).
func fastPathFor(addr net.Addr) bool {
	u, ok := addr.(*net.UDPAddr)
	if !ok {
		return false
	}
	a, ok := netip.AddrFromSlice(u.IP)
	return ok && !a.Unmap().IsUnspecified()
}
