package checker

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/meridian-gslb/meridian/store/model"
)

// dnsTypes are the query types a dns check accepts (model.CheckQueryTypes).
var dnsTypes = map[string]dnsmessage.Type{
	"A":     dnsmessage.TypeA,
	"AAAA":  dnsmessage.TypeAAAA,
	"CNAME": dnsmessage.TypeCNAME,
	"MX":    dnsmessage.TypeMX,
	"NS":    dnsmessage.TypeNS,
	"SOA":   dnsmessage.TypeSOA,
	"TXT":   dnsmessage.TypeTXT,
	"SRV":   dnsmessage.TypeSRV,
	"PTR":   dnsmessage.TypePTR,
}

// dnsRcodes are the response codes a dns check can expect
// (model.CheckRcodes), in code order.
var dnsRcodes = []struct {
	name string
	code dnsmessage.RCode
}{
	{"NOERROR", dnsmessage.RCodeSuccess},
	{"FORMERR", dnsmessage.RCodeFormatError},
	{"SERVFAIL", dnsmessage.RCodeServerFailure},
	{"NXDOMAIN", dnsmessage.RCodeNameError},
	{"NOTIMP", dnsmessage.RCodeNotImplemented},
	{"REFUSED", dnsmessage.RCodeRefused},
}

func rcodeName(rc dnsmessage.RCode) string {
	for _, r := range dnsRcodes {
		if r.code == rc {
			return r.name
		}
	}
	return "RCODE" + strconv.Itoa(int(rc))
}

// dnsMaxUDP is the read buffer for a UDP reply. The query carries no EDNS0
// record, so a conforming server answers in at most 512 bytes and sets TC
// when the answer does not fit.
const dnsMaxUDP = 4096

type dnsProbe struct {
	target   string
	question dnsmessage.Question
	rcode    dnsmessage.RCode
	expect   string // substring of one answer's data; "" checks the rcode only
	timeout  time.Duration
}

func newDNS(c model.Check, target string) (*dnsProbe, error) {
	if c.QueryName == "" {
		return nil, errors.New("a dns check needs a query_name")
	}
	qname := c.QueryName
	if !strings.HasSuffix(qname, ".") {
		qname += "."
	}
	name, err := dnsmessage.NewName(qname)
	if err != nil {
		return nil, fmt.Errorf("query_name %q: %w", c.QueryName, err)
	}
	qtype, ok := dnsTypes[cmp.Or(c.QueryType, "A")]
	if !ok {
		return nil, fmt.Errorf("query_type %q is not one of %s", c.QueryType, strings.Join(model.CheckQueryTypes, ", "))
	}
	want := cmp.Or(c.ExpectRcode, "NOERROR")
	rcode := dnsmessage.RCode(0xffff)
	for _, r := range dnsRcodes {
		if r.name == want {
			rcode = r.code
		}
	}
	if rcode == 0xffff {
		return nil, fmt.Errorf("expect_rcode %q is not one of %s", c.ExpectRcode, strings.Join(model.CheckRcodes, ", "))
	}
	p := &dnsProbe{
		target:   target,
		question: dnsmessage.Question{Name: name, Type: qtype, Class: dnsmessage.ClassINET},
		rcode:    rcode,
		expect:   c.ExpectAnswer,
		timeout:  c.Timeout.D(),
	}
	if _, err := p.query(0); err != nil { // a name that does not pack (an empty label)
		return nil, fmt.Errorf("query_name %q: %w", c.QueryName, err)
	}
	return p, nil
}

// query is the packed query with that ID. Recursion is not desired: the
// probe asks the server for what it holds itself.
func (p *dnsProbe) query(id uint16) ([]byte, error) {
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id},
		Questions: []dnsmessage.Question{p.question},
	}
	return m.Pack()
}

// dnsReply is a reply that matched the query.
type dnsReply struct {
	header  dnsmessage.Header
	answers []dnsmessage.Resource // not parsed when truncated over UDP
}

// Probe sends one query over UDP (over TCP again when the UDP reply is
// truncated) and judges the reply's rcode and answers.
func (p *dnsProbe) Probe(ctx context.Context) Result {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	id := uint16(rand.Uint32())
	q, err := p.query(id)
	if err != nil {
		return Result{Err: err.Error()} // newDNS packed it once already
	}
	reply, err := p.exchange(ctx, "udp", id, q)
	if err == nil && reply.header.Truncated {
		reply, err = p.exchange(ctx, "tcp", id, q)
	}
	if err != nil {
		return p.failure(ctx, start, err)
	}
	res := Result{Latency: time.Since(start)}
	if rc := reply.header.RCode; rc != p.rcode {
		res.Err = fmt.Sprintf("rcode %s, want %s", rcodeName(rc), rcodeName(p.rcode))
		return res
	}
	if p.expect != "" {
		var seen []string
		for _, a := range reply.answers {
			text, ok := rdataText(a.Body)
			if !ok {
				continue
			}
			if strings.Contains(text, p.expect) {
				res.Up = true
				return res
			}
			seen = append(seen, text)
		}
		res.Err = fmt.Sprintf("no answer contains %q (%s)", p.expect, summarize(seen))
		return res
	}
	res.Up = true
	return res
}

// failure names a timeout or a cancellation as such.
func (p *dnsProbe) failure(ctx context.Context, start time.Time, err error) Result {
	msg := err.Error()
	switch cerr := ctx.Err(); {
	case errors.Is(cerr, context.DeadlineExceeded):
		msg = fmt.Sprintf("timed out after %s: %s", p.timeout, msg)
	case cerr != nil:
		msg = cerr.Error() + ": " + msg
	}
	return Result{Latency: time.Since(start), Err: msg}
}

// exchange sends q over network ("udp" or "tcp") and returns the matching
// reply. Over UDP, datagrams that do not match the query (another ID,
// another question, not a response, unparseable) are ignored and the wait
// goes on until ctx is done; over TCP a mismatch is an error.
func (p *dnsProbe) exchange(ctx context.Context, network string, id uint16, q []byte) (*dnsReply, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, p.target)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The deadline and a cancellation both end a blocked read or write.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if network == "tcp" {
		msg := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(q)), uint16(len(q)))
		if _, err := conn.Write(append(msg, q...)); err != nil {
			return nil, p.ioError(ctx, network, err, "")
		}
		var n [2]byte
		if _, err := io.ReadFull(conn, n[:]); err != nil {
			return nil, p.ioError(ctx, network, err, "")
		}
		buf := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil, p.ioError(ctx, network, err, "")
		}
		reply, mismatch, err := p.parse(buf, id, false)
		if mismatch != "" {
			return nil, fmt.Errorf("reply over tcp does not match the query: %s", mismatch)
		}
		return reply, err
	}

	if _, err := conn.Write(q); err != nil {
		return nil, p.ioError(ctx, network, err, "")
	}
	buf := make([]byte, dnsMaxUDP)
	var ignored int
	var lastMismatch string
	for {
		n, err := conn.Read(buf)
		if err != nil {
			note := ""
			if ignored > 0 {
				note = fmt.Sprintf(" (ignored %d that did not match the query, last: %s)", ignored, lastMismatch)
			}
			return nil, p.ioError(ctx, network, err, note)
		}
		reply, mismatch, err := p.parse(buf[:n], id, true)
		if mismatch != "" {
			ignored++
			lastMismatch = mismatch
			continue
		}
		return reply, err
	}
}

// ioError describes a failed read or write; when ctx ended it, it says
// that no reply came rather than "i/o timeout".
func (p *dnsProbe) ioError(ctx context.Context, network string, err error, note string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("no reply over %s from %s%s", network, p.target, note)
	}
	if note != "" {
		return fmt.Errorf("%w%s", err, note)
	}
	return err
}

// parse reads a reply. mismatch says why it is not the reply to the query
// with that ID (the caller ignores it over UDP); err is a malformed answer
// section of a matching reply. A truncated UDP reply's answers are not
// parsed: it is asked again over TCP.
func (p *dnsProbe) parse(b []byte, id uint16, udp bool) (reply *dnsReply, mismatch string, err error) {
	var pr dnsmessage.Parser
	h, err := pr.Start(b)
	if err != nil {
		return nil, "unparseable header: " + err.Error(), nil
	}
	if !h.Response {
		return nil, "not a response", nil
	}
	if h.ID != id {
		return nil, fmt.Sprintf("ID %d, want %d", h.ID, id), nil
	}
	qs, err := pr.AllQuestions()
	if err != nil {
		return nil, "unparseable question: " + err.Error(), nil
	}
	if len(qs) != 1 || qs[0].Type != p.question.Type || qs[0].Class != p.question.Class ||
		!strings.EqualFold(qs[0].Name.String(), p.question.Name.String()) {
		return nil, "question " + questionText(qs) + ", want " + questionText([]dnsmessage.Question{p.question}), nil
	}
	reply = &dnsReply{header: h}
	if udp && h.Truncated {
		return reply, "", nil
	}
	if reply.answers, err = pr.AllAnswers(); err != nil {
		return nil, "", fmt.Errorf("malformed answer section: %w", err)
	}
	return reply, "", nil
}

func questionText(qs []dnsmessage.Question) string {
	if len(qs) == 0 {
		return "none"
	}
	s := make([]string, len(qs))
	for i, q := range qs {
		s[i] = q.Name.String() + " " + strings.TrimPrefix(q.Type.String(), "Type")
	}
	return strings.Join(s, ", ")
}

// rdataText is an answer record's data as text: an A or AAAA address, a
// CNAME, NS or PTR target name, the strings of a TXT record joined without
// a separator, "pref host" for MX, "ns mbox serial refresh retry expire
// minttl" for SOA and "priority weight port target" for SRV. Other types
// have no text.
func rdataText(body dnsmessage.ResourceBody) (string, bool) {
	switch b := body.(type) {
	case *dnsmessage.AResource:
		return netip.AddrFrom4(b.A).String(), true
	case *dnsmessage.AAAAResource:
		return netip.AddrFrom16(b.AAAA).String(), true
	case *dnsmessage.CNAMEResource:
		return b.CNAME.String(), true
	case *dnsmessage.NSResource:
		return b.NS.String(), true
	case *dnsmessage.PTRResource:
		return b.PTR.String(), true
	case *dnsmessage.TXTResource:
		return strings.Join(b.TXT, ""), true
	case *dnsmessage.MXResource:
		return fmt.Sprintf("%d %s", b.Pref, b.MX), true
	case *dnsmessage.SOAResource:
		return fmt.Sprintf("%s %s %d %d %d %d %d", b.NS, b.MBox, b.Serial, b.Refresh, b.Retry, b.Expire, b.MinTTL), true
	case *dnsmessage.SRVResource:
		return fmt.Sprintf("%d %d %d %s", b.Priority, b.Weight, b.Port, b.Target), true
	}
	return "", false
}

// summarize lists the answers seen for an error text: at most three, each
// cut to 80 bytes.
func summarize(texts []string) string {
	for i, t := range texts {
		if len(t) > 80 {
			texts[i] = t[:80] + "..."
		}
	}
	switch {
	case len(texts) == 0:
		return "no answers"
	case len(texts) <= 3:
		return "answers: " + strings.Join(texts, "; ")
	}
	return fmt.Sprintf("answers: %s; and %d more", strings.Join(texts[:3], "; "), len(texts)-3)
}
