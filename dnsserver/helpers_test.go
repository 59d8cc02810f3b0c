package dnsserver

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

// testSrc is the resolver address of handler-core tests: a documentation
// address, which GeoIP databases do not know.
var testSrc = netip.MustParseAddr("192.0.2.200")

// exampleZone is the zone most handler cases run against. Its comments say
// what each name is for.
const exampleZone = `
$ORIGIN example.test.
$TTL 300
@          IN SOA  ns1 hostmaster 2024010101 3600 600 1209600 60
@          IN NS   ns1
@          IN NS   ns2.elsewhere.test.
@          IN MX   10 mail
@          IN MX   20 mx.elsewhere.test.
ns1        IN A    192.0.2.53
ns1        IN AAAA 2001:db8::53
mail       IN A    192.0.2.25
www        IN A    192.0.2.1
www        IN A    192.0.2.2
www        IN AAAA 2001:db8::1
a.b        IN A    192.0.2.3            ; b is an empty non-terminal
MixedCase  IN A    192.0.2.4
alias      IN CNAME www
chain1     IN CNAME chain2
chain2     IN CNAME www
dangling   IN CNAME nothere              ; target does not exist
away       IN CNAME www.outside.invalid. ; target not served here
cross      IN CNAME www.other.test.      ; target in another served zone
crossnx    IN CNAME nothere.other.test.
tochild    IN CNAME www.child            ; target in a nested zone
todeleg    IN CNAME host.sub             ; target below a delegation
loop1      IN CNAME loop2
loop2      IN CNAME loop1
c1         IN CNAME c2
c2         IN CNAME c3
c3         IN CNAME c4
c4         IN CNAME c5
c5         IN CNAME c6
c6         IN CNAME c7
c7         IN CNAME c8
c8         IN CNAME c9
c9         IN CNAME c10
c10        IN A    192.0.2.10
*.wild     IN A    192.0.2.100
*.wild     IN TXT  "wild"
exists.wild IN TXT "real"               ; blocks the wildcard at its name
x.ent.wild IN TXT  "under an ENT"       ; ent.wild exists as an ENT
*.wc       IN CNAME www                 ; wildcard CNAME
_sip._udp  IN SRV  0 5 5060 sip
sip        IN A    192.0.2.60
sub        IN NS   ns.sub               ; delegation with in-bailiwick glue
sub        IN NS   ns2.elsewhere.test.
sub        IN DS   12345 13 2 2BB183AF5F22588179A53B0A98631FAD1A292118C9E5B3A6E0F8A8E9B7D0A6E1
ns.sub     IN A    192.0.2.54
ns.sub     IN AAAA 2001:db8::54
host.sub   IN A    192.0.2.99           ; occluded by the cut
*.sub      IN A    192.0.2.98           ; occluded: no wildcard below a cut
nods       IN NS   ns.nods              ; delegation without DS
ns.nods    IN A    192.0.2.55
child      IN NS   ns1                  ; delegation to a zone we also serve
`

const childZone = `
$ORIGIN child.example.test.
$TTL 300
@    IN SOA ns1.example.test. hostmaster.example.test. 7 3600 600 1209600 120
@    IN NS  ns1.example.test.
www  IN A   192.0.2.200
`

const otherZone = `
$ORIGIN other.test.
$TTL 600
@    IN SOA ns1.example.test. hostmaster.example.test. 9 3600 600 1209600 30
@    IN NS  ns1.example.test.
www  IN A   198.51.100.1
`

// zoneOf parses zone-file text into a model.Zone.
func zoneOf(t testing.TB, origin, text string) model.Zone {
	t.Helper()
	recs, err := ParseZoneFile(strings.NewReader(text), origin, "test.zone", 300)
	if err != nil {
		t.Fatal(err)
	}
	return model.Zone{Name: origin, Records: recs}
}

// snapshotOf builds a snapshot of zones given as origin, text pairs.
func snapshotOf(t testing.TB, originText ...string) *Snapshot {
	t.Helper()
	st := &model.State{}
	for i := 0; i < len(originText); i += 2 {
		st.Zones = append(st.Zones, zoneOf(t, originText[i], originText[i+1]))
	}
	snap, err := Build(st, 1, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func exampleSnapshot(t testing.TB) *Snapshot {
	return snapshotOf(t,
		"example.test.", exampleZone,
		"child.example.test.", childZone,
		"other.test.", otherZone)
}

// question makes a query from "NAME TYPE [CLASS]".
func question(t testing.TB, q string) *dns.Msg {
	t.Helper()
	f := strings.Fields(q)
	if len(f) < 2 {
		t.Fatalf("question %q: want NAME TYPE [CLASS]", q)
	}
	qtype, ok := typeCode(f[1])
	if !ok {
		t.Fatalf("question %q: unknown type", q)
	}
	m := new(dns.Msg)
	m.SetQuestion(f[0], qtype)
	m.RecursionDesired = false
	if len(f) > 2 {
		c, ok := dns.StringToClass[strings.ToUpper(f[2])]
		if !ok {
			t.Fatalf("question %q: unknown class", q)
		}
		m.Question[0].Qclass = c
	}
	return m
}

// rrLines parses zone-file text (absolute names, one record a line) into
// the String form of each record, in order.
func rrLines(t testing.TB, text string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("expected record %q: %v", line, err)
		}
		out = append(out, rr.String())
	}
	return out
}

// sectionLines is the String form of a section, without OPT.
func sectionLines(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr.String())
		}
	}
	return out
}

// expect is what a response should be: rcode by name, flags as a set of
// "aa", "tc" words, and sections as zone-file text.
type expect struct {
	rcode  string
	flags  string
	answer string
	ns     string
	extra  string
}

func checkResponse(t testing.TB, r *dns.Msg, want expect) {
	t.Helper()
	if got := dns.RcodeToString[r.Rcode]; got != want.rcode {
		t.Errorf("rcode %s, want %s", got, want.rcode)
	}
	var flags []string
	if r.Authoritative {
		flags = append(flags, "aa")
	}
	if r.Truncated {
		flags = append(flags, "tc")
	}
	if r.RecursionAvailable {
		flags = append(flags, "ra")
	}
	if got := strings.Join(flags, " "); got != want.flags {
		t.Errorf("flags %q, want %q", got, want.flags)
	}
	if !r.Response {
		t.Error("QR not set")
	}
	for _, sec := range []struct {
		name      string
		got, want []string
	}{
		{"answer", sectionLines(r.Answer), rrLines(t, want.answer)},
		{"authority", sectionLines(r.Ns), rrLines(t, want.ns)},
		{"additional", sectionLines(r.Extra), rrLines(t, want.extra)},
	} {
		if diff := cmp.Diff(sec.want, sec.got); diff != "" {
			t.Errorf("%s section (-want +got):\n%s", sec.name, diff)
		}
	}
}

// names returns "name1 name2 …" of the records, for short messages.
func names(rrs []dns.RR) string {
	var b strings.Builder
	for i, rr := range rrs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s/%s", rr.Header().Name, dns.Type(rr.Header().Rrtype))
	}
	return b.String()
}
