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
// with owner names in canonical form (absolute, lower case, escaped as a
// packet gives them, blanks, ';', '(' and ')' as \DDD), upper-case type
// mnemonics ("TYPEnnn" for types without one), TTLs and RDATA in
// presentation form.
//
// origin is the zone apex; records outside it are an error. filename names
// the file in errors and anchors relative $INCLUDE names; with an empty
// filename $INCLUDE is refused. Records without a TTL take the last $TTL,
// else the last TTL given explicitly (RFC 1035), else defaultTTL
// (model.DefaultTTL when zero).
//
// Every record returned reads back as itself the way Build reads stored
// records. Every error is a *ZoneFileError naming the file, line and
// record.
func ParseZoneFile(r io.Reader, origin, filename string, defaultTTL uint32) ([]model.Record, error) {
	if defaultTTL == 0 {
		defaultTTL = model.DefaultTTL
	}
	apex, packs := canonicalName(origin) // escaped as the records' names are
	if _, ok := dns.IsDomainName(origin); !ok || !packs || origin == "" {
		return nil, &ZoneFileError{File: filename, Err: fmt.Sprintf("bad origin %q", origin)}
	}
	origin = apex
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
	buf := make([]byte, dns.MaxMsgSize) // for readsBack
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
		if err := readsBack(origin, rec, buf); err != nil {
			return nil, fail("%v", err)
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
	name, ok := storedName(h.Name)
	rec := model.Record{
		Name: name,
		Type: dns.Type(h.Rrtype).String(),
		TTL:  h.Ttl,
		Data: rdataText(rr),
	}
	if !ok {
		return rec, fmt.Errorf("bad owner name %q", h.Name)
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

// storedName is an owner name as a record holds it: in canonical form,
// as a packet gives it (lower case, absolute, every spelling of a label
// escaped the same way), with the characters a stored record's name
// cannot hold even escaped (blank, ';', '(' and ')'; see parseRecord)
// written as \DDD. It reports false for a name that does not pack.
func storedName(name string) (string, bool) {
	s, ok := canonicalName(name)
	if !ok || !strings.ContainsAny(s, " ;()") {
		return s, ok
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			if next := s[i]; strings.IndexByte(" ;()", next) >= 0 {
				fmt.Fprintf(&b, "\\%03d", next)
			} else {
				b.WriteByte(c)
				b.WriteByte(next)
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// readsBack checks that rec reads back as itself the way Build reads a
// stored record (parseRecord): miekg/dns lets through some records cut
// short, such as "@ SOA" at the end of the input, whose presentation
// form then reads as another record. buf is scratch space of
// dns.MaxMsgSize octets.
func readsBack(apex string, rec model.Record, buf []byte) error {
	rr, err := parseRecord(apex, rec, rec.TTL, buf)
	if err != nil {
		return err
	}
	again, err := recordOf(rr)
	if err != nil {
		return err
	}
	if again.Data != rec.Data {
		return fmt.Errorf("%s RDATA %q does not read back as itself but as %q: is the record incomplete?", rec.Type, rec.Data, again.Data)
	}
	return nil
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
	if src != nil && src == zs.last {
		// The records a $GENERATE expands to are parsed on their own, and
		// an error in them carries a line of the expansion. The parser
		// reads no further than the directive before expanding it, so
		// the line being read is the $GENERATE.
		if cur := src.readingLine(); strings.HasPrefix(strings.ToUpper(src.lineText(cur)), "$GENERATE") {
			line = cur
		}
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

// readingLine is the line the parser is reading in s: the one its last
// byte read is on (a newline ends its line).
func (s *zoneSource) readingLine() int {
	if s.pos > 0 && s.data[s.pos-1] == '\n' {
		return s.newlines
	}
	return s.newlines + 1
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
	case "":
		return "bad RDATA" // miekg/dns says nothing for some, such as "SVCB 0 0 ipv4hint=;"
	}
	return strings.TrimSuffix(msg, ", not this...")
}
