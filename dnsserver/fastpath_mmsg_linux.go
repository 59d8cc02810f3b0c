//go:build linux

package dnsserver

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// mmsgBatch is how many packets one recvmmsg reads and one sendmmsg
// writes at most.
const mmsgBatch = 32

// mmsgReader is fastReader with batched system calls (Linux): recvmmsg
// reads up to mmsgBatch packets in one call, issued inside the socket's
// RawConn Read callback so that the netpoller does the waiting; the fast
// path answers what it can; one sendmmsg sends those answers back to the
// addresses they came from; the rest are handed to dns.Server one by one.
// Every buffer and header is allocated once, with the reader.
type mmsgReader struct {
	dns.Reader // dns.Server's, for what is not a packet conn's
	s          *Server
	rc         syscall.RawConn

	in      [mmsgBatch][udpReadSize]byte
	names   [mmsgBatch]unix.RawSockaddrInet6 // large enough for IPv4 too
	iovIn   [mmsgBatch]unix.Iovec
	msgsIn  [mmsgBatch]unix.Mmsghdr
	out     [mmsgBatch][]byte
	iovOut  [mmsgBatch]unix.Iovec
	msgsOut [mmsgBatch]unix.Mmsghdr

	pending []missed // packets the fast path left, for dns.Server
}

type missed struct {
	b    []byte
	from net.Addr
}

// batchReader is the mmsgReader of conn, or nil when the socket has no
// raw access (never, for a *net.UDPConn).
func (s *Server) batchReader(conn *net.UDPConn, inner dns.Reader) dns.Reader {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil
	}
	r := &mmsgReader{Reader: inner, s: s, rc: rc}
	for i := range r.msgsIn {
		r.iovIn[i].Base = &r.in[i][0]
		r.iovIn[i].SetLen(udpReadSize)
		r.msgsIn[i].Hdr.Iov = &r.iovIn[i]
		r.msgsIn[i].Hdr.SetIovlen(1)
		r.msgsIn[i].Hdr.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		r.out[i] = make([]byte, 0, 2048)
		r.msgsOut[i].Hdr.Iov = &r.iovOut[i]
		r.msgsOut[i].Hdr.SetIovlen(1)
	}
	return r
}

// ReadPacketConn returns the next packet the fast path did not answer.
func (r *mmsgReader) ReadPacketConn(_ net.PacketConn, _ time.Duration) ([]byte, net.Addr, error) {
	for len(r.pending) == 0 {
		n, err := r.recv()
		if err != nil {
			return nil, nil, err
		}
		r.serve(n)
	}
	m := r.pending[0]
	r.pending[0] = missed{}
	r.pending = r.pending[1:]
	return m.b, m.from, nil
}

// recv reads a batch: how many packets arrived.
func (r *mmsgReader) recv() (int, error) {
	for i := range r.msgsIn {
		r.msgsIn[i].Hdr.Namelen = uint32(unsafe.Sizeof(r.names[i]))
		r.msgsIn[i].Len = 0
	}
	for {
		var n int
		var errno syscall.Errno
		err := r.rc.Read(func(fd uintptr) bool {
			r1, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgsIn[0])), mmsgBatch, unix.MSG_DONTWAIT, 0, 0)
			if e == unix.EAGAIN || e == unix.EWOULDBLOCK {
				return false // the netpoller waits for the next packet
			}
			n, errno = int(r1), e
			return true
		})
		switch {
		case err != nil:
			return 0, err // closed: Shutdown
		case errno == 0:
			return n, nil
		case errors.Is(errno, unix.EINTR), errors.Is(errno, unix.ECONNREFUSED), errors.Is(errno, unix.EHOSTUNREACH), errors.Is(errno, unix.ENETUNREACH):
			continue // an ICMP error of an earlier send: not this socket's fault
		default:
			return 0, &net.OpError{Op: "recvmmsg", Net: "udp", Err: errno}
		}
	}
}

// serve answers the n packets read, sends the answers in one sendmmsg and
// queues the misses.
func (r *mmsgReader) serve(n int) {
	k := 0
	for i := range n {
		pkt := r.in[i][:r.msgsIn[i].Len]
		from, ok := sockaddrPort(&r.names[i], r.msgsIn[i].Hdr.Namelen)
		if !ok {
			continue
		}
		if resp, ok := r.s.fastAnswer(pkt, from.Addr().Unmap(), false, r.out[k][:0]); ok {
			if resp != nil {
				r.out[k] = resp[:0]
				r.iovOut[k].Base = &resp[0]
				r.iovOut[k].SetLen(len(resp))
				r.msgsOut[k].Hdr.Name = r.msgsIn[i].Hdr.Name
				r.msgsOut[k].Hdr.Namelen = r.msgsIn[i].Hdr.Namelen
				k++
			}
			continue
		}
		b := make([]byte, len(pkt))
		copy(b, pkt)
		r.pending = append(r.pending, missed{b: b, from: net.UDPAddrFromAddrPort(from)})
	}
	r.send(k)
}

// send writes the first k answers, each to the address its query came
// from; an answer the kernel refuses is counted and skipped.
func (r *mmsgReader) send(k int) {
	for sent := 0; sent < k; {
		err := r.rc.Write(func(fd uintptr) bool {
			r1, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&r.msgsOut[sent])), uintptr(k-sent), unix.MSG_DONTWAIT, 0, 0)
			switch {
			case e == unix.EAGAIN || e == unix.EWOULDBLOCK:
				return false
			case e != 0 || r1 == 0:
				r.s.stats.writeFailed.Add(1) // the first one could not go
				sent++
			default:
				sent += int(r1)
			}
			return true
		})
		if err != nil {
			r.s.stats.writeFailed.Add(uint64(k - sent)) // closed
			return
		}
	}
}

// sockaddrPort reads the address a packet came from.
func sockaddrPort(sa *unix.RawSockaddrInet6, n uint32) (netip.AddrPort, bool) {
	port := func(p *uint16) uint16 { return binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(p))[:]) }
	switch sa.Family {
	case unix.AF_INET6:
		if n < uint32(unsafe.Sizeof(*sa)) {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port(&sa.Port)), true
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		if n < uint32(unsafe.Sizeof(*sa4)) {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port(&sa4.Port)), true
	}
	return netip.AddrPort{}, false
}
