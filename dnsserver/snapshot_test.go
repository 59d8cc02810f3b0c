package dnsserver

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gslb/meridian/store/model"
)

// TestBuildSynthesizes checks the SOA, NS and glue made from the zone's
// settings when its records have none.
func TestBuildSynthesizes(t *testing.T) {
	z := zoneOf(t, "synth.test.", "www IN A 192.0.2.1\nns2 IN AAAA 2001:db8::2\n")
	z.Revision = 42
	z.TTL = 900
	z.Hostmaster = "dns.admin@example.test"
	z.SOA = model.SOATimers{Refresh: 7200, Minimum: 120}
	z.Nameservers = []model.Nameserver{
		{Name: "ns1.synth.test.", Address: "192.0.2.53"},
		{Name: "ns1.synth.test.", Address: "2001:db8::53"},
		{Name: "ns2.synth.test.", Address: "2001:db8::99"},  // the zone has an address for ns2 already
		{Name: "ns.elsewhere.test.", Address: "192.0.2.77"}, // not in the zone: no glue
	}
	snap, err := Build(&model.State{Zones: []model.Zone{z}}, 43, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, snap.answer(question(t, "synth.test. SOA"), true, testSrc), expect{rcode: "NOERROR", flags: "aa",
		answer: `synth.test. 900 IN SOA ns1.synth.test. dns\.admin.example.test. 42 7200 600 1209600 120`})
	checkResponse(t, snap.answer(question(t, "synth.test. NS"), true, testSrc), expect{rcode: "NOERROR", flags: "aa",
		answer: `synth.test. 900 IN NS ns1.synth.test.
		         synth.test. 900 IN NS ns2.synth.test.
		         synth.test. 900 IN NS ns.elsewhere.test.`,
		extra: `ns1.synth.test. 900 IN A 192.0.2.53
		        ns1.synth.test. 900 IN AAAA 2001:db8::53
		        ns2.synth.test. 300 IN AAAA 2001:db8::2`})
	checkResponse(t, snap.answer(question(t, "nope.synth.test. A"), true, testSrc), expect{rcode: "NXDOMAIN", flags: "aa",
		ns: `synth.test. 120 IN SOA ns1.synth.test. dns\.admin.example.test. 42 7200 600 1209600 120`})
	if snap.Revision() != 43 {
		t.Errorf("Revision %d, want 43", snap.Revision())
	}
}

// TestBuildSOAFromNS checks the SOA of a zone with NS records and no
// name server settings, as a zone file alone gives.
func TestBuildSOAFromNS(t *testing.T) {
	snap := snapshotOf(t, "plain.test.", "@ IN NS ns1\nns1 IN A 192.0.2.1\n")
	checkResponse(t, snap.answer(question(t, "plain.test. SOA"), false, testSrc), expect{rcode: "NOERROR", flags: "aa",
		answer: "plain.test. 300 IN SOA ns1.plain.test. hostmaster.plain.test. 0 3600 600 1209600 300"})
}

// TestBuildKeepsRecords checks that a zone's own SOA and NS are served as
// they are, not synthesized.
func TestBuildKeepsRecords(t *testing.T) {
	z := zoneOf(t, "own.test.", "@ 100 IN SOA a.own.test. b.own.test. 5 1 2 3 4\n@ IN NS ns.other.test.\n")
	z.Revision = 99
	z.Nameservers = []model.Nameserver{{Name: "ns1.own.test.", Address: "192.0.2.1"}}
	snap, err := Build(&model.State{Zones: []model.Zone{z}}, 1, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkResponse(t, snap.answer(question(t, "own.test. SOA"), false, testSrc), expect{rcode: "NOERROR", flags: "aa",
		answer: "own.test. 100 IN SOA a.own.test. b.own.test. 5 1 2 3 4"})
	checkResponse(t, snap.answer(question(t, "own.test. NS"), false, testSrc), expect{rcode: "NOERROR", flags: "aa",
		answer: "own.test. 100 IN NS ns.other.test."})
}

// TestBuildRRsetTTL checks that an RRset gets one TTL, the lowest.
func TestBuildRRsetTTL(t *testing.T) {
	snap := snapshotOf(t, "ttl.test.", "@ IN NS ns.other.test.\nwww 60 IN A 192.0.2.1\nwww 30 IN A 192.0.2.2\nwww 60 IN A 192.0.2.1\n")
	checkResponse(t, snap.answer(question(t, "www.ttl.test. A"), false, testSrc), expect{rcode: "NOERROR", flags: "aa",
		answer: "www.ttl.test. 30 IN A 192.0.2.1\nwww.ttl.test. 30 IN A 192.0.2.2"})
}

// TestBuildZones checks Zones and Revision.
func TestBuildZones(t *testing.T) {
	snap := exampleSnapshot(t)
	want := []string{"child.example.test.", "example.test.", "other.test."}
	if diff := cmp.Diff(want, snap.Zones()); diff != "" {
		t.Errorf("Zones (-want +got):\n%s", diff)
	}
	snap.Zones()[0] = "changed."
	if snap.Zones()[0] != "child.example.test." {
		t.Error("Zones returned the snapshot's own slice")
	}
	if snap.Revision() != 1 {
		t.Errorf("Revision %d", snap.Revision())
	}
}

// TestBuildErrors checks that a bad record fails the build with an error
// naming the zone, the record and its type.
func TestBuildErrors(t *testing.T) {
	ns := model.Record{Name: "bad.test.", Type: "NS", Data: "ns.other.test."}
	cases := []struct {
		name    string
		records []model.Record
		want    string
	}{
		{"bad address", []model.Record{ns, {Name: "www.bad.test.", Type: "A", Data: "1.2.3"}},
			`zone bad.test.: record www.bad.test. A: bad A address "1.2.3"`},
		{"unknown type", []model.Record{ns, {Name: "www.bad.test.", Type: "FOO", Data: "x"}},
			`zone bad.test.: record www.bad.test. FOO: unknown record type "FOO"`},
		{"no data", []model.Record{ns, {Name: "www.bad.test.", Type: "A", Data: " "}},
			`zone bad.test.: record www.bad.test. A: no RDATA`},
		{"data of another type", []model.Record{ns, {Name: "www.bad.test.", Type: "A", Data: "192.0.2.1 IN AAAA ::1"}},
			`zone bad.test.: record www.bad.test. A: garbage after rdata "IN"`},
		{"two records in one", []model.Record{ns, {Name: "www.bad.test.", Type: "A", Data: "192.0.2.1\nx 300 IN A 192.0.2.2"}},
			`zone bad.test.: record www.bad.test. A: a record must be one line`},
		{"directive smuggled in", []model.Record{ns, {Name: "www.bad.test.", Type: "A", Data: "192.0.2.1\n$INCLUDE /etc/passwd"}},
			`zone bad.test.: record www.bad.test. A: a record must be one line`},
		{"owner with blanks", []model.Record{ns, {Name: "www 60", Type: "A", Data: "192.0.2.1"}},
			`zone bad.test.: record www 60 A: a record must be one line`},
		{"outside the zone", []model.Record{ns, {Name: "www.other.test.", Type: "A", Data: "192.0.2.1"}},
			`zone bad.test.: record www.other.test. A: www.other.test. is outside the zone`},
		{"SOA not at the apex", []model.Record{ns, {Name: "www.bad.test.", Type: "SOA", Data: "a. b. 1 2 3 4 5"}},
			`zone bad.test.: record www.bad.test. SOA: SOA record not at the apex`},
		{"two SOA", []model.Record{ns, {Name: "bad.test.", Type: "SOA", Data: "a. b. 1 2 3 4 5"}, {Name: "bad.test.", Type: "SOA", Data: "a. b. 2 2 3 4 5"}},
			`zone bad.test.: record bad.test. SOA: more than one SOA record`},
		{"CNAME and other data", []model.Record{ns, {Name: "www.bad.test.", Type: "CNAME", Data: "x.bad.test."}, {Name: "www.bad.test.", Type: "A", Data: "192.0.2.1"}},
			`zone bad.test.: record www.bad.test.: CNAME and A at the same name`},
		{"two CNAMEs", []model.Record{ns, {Name: "www.bad.test.", Type: "CNAME", Data: "x.bad.test."}, {Name: "www.bad.test.", Type: "CNAME", Data: "y.bad.test."}},
			`zone bad.test.: record www.bad.test.: more than one CNAME`},
		{"CNAME at the apex", []model.Record{ns, {Name: "bad.test.", Type: "CNAME", Data: "x.other.test."}},
			`zone bad.test.: record bad.test.: CNAME and`},
		{"OPT", []model.Record{ns, {Name: "www.bad.test.", Type: "OPT", Data: "x"}},
			`zone bad.test.: record www.bad.test. OPT:`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(&model.State{Zones: []model.Zone{{Name: "bad.test.", Records: tc.records}}}, 1, BuildOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n got %v\nwant it to contain %s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidRecord) {
				t.Errorf("%v does not wrap ErrInvalidRecord", err)
			}
		})
	}

	t.Run("zone twice", func(t *testing.T) {
		z := model.Zone{Name: "bad.test.", Records: []model.Record{ns}}
		if _, err := Build(&model.State{Zones: []model.Zone{z, z}}, 1, BuildOptions{}); err == nil || !strings.Contains(err.Error(), "defined twice") {
			t.Errorf("error %v", err)
		}
	})
}
