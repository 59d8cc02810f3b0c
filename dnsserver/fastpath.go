package dnsserver

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/meridian-gslb/meridian/geo"
)

// The fast path answers the common query from the answer cache without
// unpacking it into a dns.Msg: one question of a plain name, no answer or
// authority records, at most an OPT of version 0 whose options are ECS
// (well formed, as RFC 7871 asks) and cookies. parseRaw reads exactly
// that and reports false for anything else, which then takes the full
// path (dns.Server's unpack and the handler) as before. The key and the
// response are the same as the full path's: the tests compare the two
// octet for octet.

// rawQuery is what parseRaw reads.
type rawQuery struct {
	id            uint16
	rd, cd        bool
	name          []byte // the question name in wire form, inside the packet
	qtype, qclass uint16
	edns, do      bool
	udpSize       uint16
	ecs           bool
	family        uint16
	source        uint8
	ecsNet        netip.Prefix
	ecsLen        int // address octets of the ECS option
	ecsAddr       [16]byte
}

// Bits of the query header the fast path looks at.
const (
	flagQR     = 0x8000
	flagOpcode = 0x7800
	flagRD     = 0x0100
	flagCD     = 0x0010
)

// parseRaw reads a query packet for the fast path.
func parseRaw(b []byte, q *rawQuery) bool {
	if len(b) < 17 {
		return false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	if flags&(flagQR|flagOpcode) != 0 || binary.BigEndian.Uint16(b[4:]) != 1 ||
		binary.BigEndian.Uint16(b[6:]) != 0 || binary.BigEndian.Uint16(b[8:]) != 0 {
		return false
	}
	ar := binary.BigEndian.Uint16(b[10:])
	if ar > 1 {
		return false
	}
	q.id = binary.BigEndian.Uint16(b)
	q.rd, q.cd = flags&flagRD != 0, flags&flagCD != 0
	off := 12
	for {
		if off >= len(b) {
			return false
		}
		n := int(b[off])
		if n == 0 {
			off++
			break
		}
		if n > 63 || off+1+n > len(b) || off+1+n-12 > 254 {
			return false // a pointer, a reserved label type, or too long
		}
		for _, c := range b[off+1 : off+1+n] {
			if !plainByte(c) {
				return false
			}
		}
		off += 1 + n
	}
	q.name = b[12:off]
	if off+4 > len(b) {
		return false
	}
	q.qtype, q.qclass = binary.BigEndian.Uint16(b[off:]), binary.BigEndian.Uint16(b[off+2:])
	off += 4
	if ar == 0 {
		return off == len(b)
	}
	return parseRawOPT(b[off:], q)
}

// plainByte reports whether miekg/dns writes c as itself in a name's
// presentation form (no escape).
func plainByte(c byte) bool {
	switch c {
	case '.', ' ', '\'', '@', ';', '(', ')', '"', '\\':
		return false
	}
	return c > ' ' && c <= '~'
}

// parseRawOPT reads the OPT record that ends a query.
func parseRawOPT(b []byte, q *rawQuery) bool {
	if len(b) < 11 || b[0] != 0 || binary.BigEndian.Uint16(b[1:]) != 41 || b[6] != 0 {
		return false // not an OPT at the root, or EDNS version not 0
	}
	q.edns = true
	q.udpSize = binary.BigEndian.Uint16(b[3:])
	q.do = b[7]&0x80 != 0
	rdlen := int(binary.BigEndian.Uint16(b[9:]))
	opts := b[11:]
	if len(opts) != rdlen {
		return false
	}
	for len(opts) > 0 {
		if len(opts) < 4 {
			return false
		}
		code, n := binary.BigEndian.Uint16(opts), int(binary.BigEndian.Uint16(opts[2:]))
		if 4+n > len(opts) {
			return false
		}
		data := opts[4 : 4+n]
		switch code {
		case 8: // ECS
			if q.ecs || !parseRawECS(data, q) {
				return false
			}
		case 10: // cookie: ignored, as by the full path
		default:
			return false
		}
		opts = opts[4+n:]
	}
	return true
}

// parseRawECS reads an ECS option that the full path would accept
// (parseECS), with exactly the address octets its source prefix needs.
func parseRawECS(data []byte, q *rawQuery) bool {
	if len(data) < 4 {
		return false
	}
	family, source, scope := binary.BigEndian.Uint16(data), data[2], data[3]
	bits := 32
	if family == 2 {
		bits = 128
	} else if family != 1 {
		return false
	}
	if int(source) > bits || int(scope) > bits || source == 0 {
		return false
	}
	n := (int(source) + 7) / 8
	if len(data)-4 != n {
		return false
	}
	var a netip.Addr
	var full [16]byte
	copy(full[:], data[4:])
	if family == 1 {
		a = netip.AddrFrom4([4]byte(full[:4]))
	} else {
		a = netip.AddrFrom16(full)
	}
	p := netip.PrefixFrom(a, int(source))
	if p.Masked().Addr() != a {
		return false
	}
	q.ecs, q.family, q.source, q.ecsNet, q.ecsLen = true, family, source, p, n
	copy(q.ecsAddr[:], data[4:])
	return true
}

// client is the address the decision uses, as query.client chooses it,
// and whether it came from ECS.
func (q *rawQuery) client(src netip.Addr) (netip.Addr, bool) {
	if q.ecs && geo.Routable(q.ecsNet.Addr()) {
		return q.ecsNet.Addr(), true
	}
	return src, false
}

// keyRaw builds the key without the client address, as base does for
// the same query unpacked.
func (k *cacheKey) keyRaw(q *rawQuery, tcp, useECS bool) {
	n := 0
	for off := 0; ; {
		l := int(q.name[off])
		if l == 0 {
			break
		}
		for _, c := range q.name[off+1 : off+1+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k.b[n] = c
			n++
		}
		k.b[n] = '.'
		n++
		off += 1 + l
	}
	if n == 0 {
		k.b[0] = '.'
		n = 1
	}
	var f keyFields
	f.qtype, f.qclass, f.tcp, f.edns, f.do, f.useECS = q.qtype, q.qclass, tcp, q.edns, q.do, useECS
	if !tcp {
		f.limit = udpLimit(q.edns, q.udpSize)
	}
	if q.ecs {
		f.ecs, f.family, f.source = true, byte(q.family), q.source
	}
	k.fixed(n, f)
}

// fastAnswer answers the packet raw from the answer cache into buf, when
// the fast path can read it and the cache holds its answer. It returns
// the response (nil when there is none to send: rate limited) and true,
// or false when the packet must take the full path.
func (s *Server) fastAnswer(raw []byte, src netip.Addr, tcp bool, buf []byte) ([]byte, bool) {
	cur := s.cur.Load()
	c := cur.answers()
	if c == nil {
		return nil, false
	}
	var q rawQuery
	if !parseRaw(raw, &q) {
		return nil, false
	}
	addr, useECS := q.client(src)
	var k cacheKey
	k.keyRaw(&q, tcp, useECS)
	e := c.lookup(&k, addr)
	if e == nil {
		return nil, false
	}
	s.stats.fastPath.Add(1)
	timed := cur.stats != nil && rand.Uint32()%latencySample == 0
	var start time.Time
	if timed {
		start = time.Now()
	}
	var b []byte
	switch s.countHit(cur, e, src, tcp) {
	case rrlDrop:
		return nil, true
	case rrlSlip:
		// The header, the question and the OPT, with TC: what slipped
		// makes of the full response.
		b = append(buf[:0], e.wire[:e.qEnd]...)
		b = append(b, e.wire[len(e.wire)-e.optLen:]...)
		b[2] |= octet2TC
		binary.BigEndian.PutUint16(b[6:], 0)
		binary.BigEndian.PutUint16(b[8:], 0)
		binary.BigEndian.PutUint16(b[10:], uint16(min(e.optLen, 1)))
	default:
		b = append(buf[:0], e.wire...)
	}
	patchHeader(b, q.id, q.rd, q.cd)
	copy(b[12:], q.name) // the query's letters
	if e.ecsLen == q.ecsLen {
		copy(b[len(b)-q.ecsLen:], q.ecsAddr[:q.ecsLen])
	}
	if timed {
		cur.stats.m.latency.Observe(time.Since(start).Seconds())
	}
	return b, true
}
