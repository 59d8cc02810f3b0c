package dnsserver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

// ParseZoneFile parses an RFC 1035 master file read from r into records
// with absolute, lower-case owner names, upper-case type mnemonics
// ("TYPEnnn" for types without one), TTLs and RDATA in presentation form.
//
// origin is the zone apex; records outside it are an error. filename names
// the file in errors and anchors relative $INCLUDE names; with an empty
// filename $INCLUDE is refused. Records without a TTL take the last $TTL,
// else the last TTL given explicitly (RFC 1035), else defaultTTL
// (model.DefaultTTL when zero).
//
// Every error is a *ZoneFileError naming the file, line and record.
func ParseZoneFile(r io.Reader, origin, filename string, defaultTTL uint32) ([]model.Record, error) {
	if defaultTTL == 0 {
		defaultTTL = model.DefaultTTL
	}
	if _, ok := dns.IsDomainName(origin); !ok || origin == "" {
		return nil, &ZoneFileError{File: filename, Err: fmt.Sprintf("bad origin %q", origin)}
	}
	origin = dns.CanonicalName(origin)
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &ZoneFileError{File: filename, Err: err.Error()}
	}

	files := newZoneSources(filename)
	top := files.add(files.parserName(filename), filename, data)
	zp := dns.NewZoneParser(top, origin, top.parserName)
	zp.SetDefaultTTL(defaultTTL)
	zp.SetIncludeAllowed(filename != "")
	zp.SetIncludeFS(files)

	var recs []model.Record
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		src := files.last
		line := src.recordLine()
		fail := func(format string, args ...any) error {
			return &ZoneFileError{File: src.display, Line: line, Record: src.lineText(line), Err: fmt.Sprintf(format, args...)}
		}
		rec, err := recordOf(rr)
		if err != nil {
			return nil, fail("%v", err)
		}
		if text := src.lineText(line); strings.HasPrefix(strings.ToUpper(text), "$GENERATE") && !generateHasTTL(text) {
			// miekg/dns gives generated records 3600, whatever $TTL says.
			return nil, fail("$GENERATE needs a TTL in its template, as in \"$GENERATE 1-9 host$ 300 A 192.0.2.$\"")
		}
		if !dns.IsSubDomain(origin, rec.Name) {
			return nil, fail("%s is outside the zone %s", rec.Name, origin)
		}
		recs = append(recs, rec)
	}
	if err := zp.Err(); err != nil {
		return nil, files.convert(err)
	}
	return recs, nil
}

// generateHasTTL reports whether a "$GENERATE range lhs [ttl] [class]
// type rhs" line gives a TTL.
func generateHasTTL(line string) bool {
	f := strings.Fields(line)
	digit := func(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }
	switch {
	case len(f) < 6:
		return false
	case digit(f[3]):
		return true
	default:
		_, class := dns.StringToClass[strings.ToUpper(f[3])]
		return class && digit(f[4]) && len(f) >= 7
	}
}

// recordOf turns a parsed RR into a model.Record, refusing what a zone of
// Meridian's cannot hold.
func recordOf(rr dns.RR) (model.Record, error) {
	h := rr.Header()
	rec := model.Record{
		Name: dns.CanonicalName(h.Name),
		Type: dns.Type(h.Rrtype).String(),
		TTL:  h.Ttl,
		Data: rdataText(rr),
	}
	if h.Class != dns.ClassINET {
		return rec, fmt.Errorf("class %s is not supported: only IN", dns.Class(h.Class))
	}
	switch h.Rrtype {
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeNone:
		return rec, fmt.Errorf("type %s cannot appear in a zone", rec.Type)
	}
	if strings.TrimSpace(rec.Data) == "" {
		return rec, fmt.Errorf("%s record without RDATA", rec.Type)
	}
	return rec, nil
}

// rdataText is the RDATA of rr in presentation form: rr.String() without
// the four header fields (name, TTL, class, type), which are separated by
// tabs that a presentation-form name cannot contain.
func rdataText(rr dns.RR) string {
	s := rr.String()
	for range 4 {
		i := strings.IndexByte(s, '\t')
		if i < 0 {
			return ""
		}
		s = s[i+1:]
	}
	return s
}

// convert turns a parse error of miekg/dns ("FILE: dns: MSG: "TOKEN" at
// line: L:C") into a *ZoneFileError with the line's text.
func (zs *zoneSources) convert(err error) error {
	var pe *dns.ParseError
	if !errors.As(err, &pe) {
		return &ZoneFileError{File: zs.top, Err: err.Error()}
	}
	s := pe.Error()
	src := zs.byParserName[""]
	for name, f := range zs.byParserName {
		if name != "" && strings.HasPrefix(s, name+": dns: ") {
			src, s = f, s[len(name)+2:]
			break
		}
	}
	s = strings.TrimPrefix(s, "dns: ")
	line := 0
	if i := strings.LastIndex(s, " at line: "); i >= 0 {
		pos := s[i+len(" at line: "):]
		if j := strings.IndexByte(pos, ':'); j >= 0 {
			pos = pos[:j]
		}
		line, _ = strconv.Atoi(pos)
		s = s[:i]
	}
	msg, token := splitToken(s)
	out := &ZoneFileError{File: zs.top, Line: line}
	if src != nil {
		out.File, out.Record = src.display, src.lineText(line)
	}
	var pathErr *fs.PathError
	switch {
	case strings.HasPrefix(msg, "failed to open") && errors.As(err, &pathErr):
		out.Err = fmt.Sprintf("cannot open $INCLUDE file %q: %v", token, pathErr.Err)
	case msg == "$INCLUDE directive not allowed":
		out.Err = "$INCLUDE needs the zone file's name to resolve against, and none was given"
	case token == "unbalanced brace":
		out.Err = "unbalanced parenthesis"
	default:
		out.Err = friendlyParseMessage(msg)
		if token != "" && token != "\n" {
			out.Err += " " + strconv.Quote(token)
		}
	}
	return out
}

// splitToken splits `MSG: "TOKEN"` (TOKEN quoted with strconv.QuoteToASCII).
func splitToken(s string) (msg, token string) {
	for i := strings.LastIndex(s, `: "`); i >= 0; i = strings.LastIndex(s[:i], `: "`) {
		if t, err := strconv.Unquote(s[i+2:]); err == nil {
			return s[:i], t
		}
	}
	return s, ""
}

// friendlyParseMessage rewords the terse messages of miekg/dns that
// operators meet most.
func friendlyParseMessage(msg string) string {
	switch msg {
	case "bad A A":
		return "bad A address"
	case "bad AAAA AAAA":
		return "bad AAAA address"
	case "not a TTL":
		return "bad TTL"
	case "expecting $TTL value, not this...":
		return "bad $TTL value"
	case "unknown RR type":
		return "unknown record type"
	case "unexpected newline":
		return "incomplete record: missing RDATA"
	}
	return strings.TrimSuffix(msg, ", not this...")
}
