package dnsserver

import (
	"encoding/binary"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Every response is packed the same way, answered fresh or from the
// answer cache: with the question in lower case, so that names in the
// answer compress against it whatever the letters of the query, and then
// the query's own letters are copied into the question section (the case
// a resolver checks, as with 0x20 randomisation). A response packed for
// one query is therefore the response to any query that differs only in
// ID, RD and CD, letter case and the address bits of the ECS option, and
// those are all the answer cache patches.

// packBuf holds packed responses between a pack and the write.
var packBuf = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// plainName reports whether a presentation-format name has one octet per
// character: no escapes. Only such names are patched and cached.
func plainName(name string) bool { return strings.IndexByte(name, '\\') < 0 }

// packReply packs m, the response to a query for qname (as the query
// spelled it), into buf. It reports false when it could not pack.
func packReply(m *dns.Msg, qname string, buf []byte) ([]byte, bool) {
	canonical := len(m.Question) == 1 && plainName(qname)
	if canonical {
		m.Question[0].Name = strings.ToLower(qname) // allocates only for upper case
	}
	b, err := m.PackBuffer(buf)
	if canonical {
		m.Question[0].Name = qname
	}
	if err != nil {
		return nil, false
	}
	if canonical {
		setQuestionCase(b, qname)
	}
	return b, true
}

// setQuestionCase copies the letters of qname, a name without escapes,
// into the question section of the packed message b, whose question is
// the same name in any case.
func setQuestionCase(b []byte, qname string) {
	off, j := 12, 0
	for off < len(b) {
		n := int(b[off])
		if n == 0 || n&0xC0 != 0 {
			return
		}
		off++
		for k := 0; k < n && off < len(b) && j < len(qname); k++ {
			b[off] = qname[j]
			off++
			j++
		}
		j++ // the dot
	}
}

// Header bits a response copies from its query (dns.Msg.SetReply): RD in
// the third octet, CD in the fourth.
const (
	octet2RD = 0x01
	octet3CD = 0x10
)

// patchReply makes b, a response packed for another query with the same
// cache key, the response to this one: its ID, RD and CD bits, the
// letters of its question, and the address octets of its ECS option
// (ecsLen octets at the end of b, 0 when none).
func patchReply(b []byte, id uint16, rd, cd bool, qname string, ecsAddr []byte) {
	patchHeader(b, id, rd, cd)
	setQuestionCase(b, qname)
	copy(b[len(b)-len(ecsAddr):], ecsAddr)
}

// patchHeader sets the ID and the RD and CD bits of a packed response.
func patchHeader(b []byte, id uint16, rd, cd bool) {
	binary.BigEndian.PutUint16(b, id)
	b[2] &^= octet2RD
	if rd {
		b[2] |= octet2RD
	}
	b[3] &^= octet3CD
	if cd {
		b[3] |= octet3CD
	}
}
