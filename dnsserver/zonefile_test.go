package dnsserver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gslb/meridian/store/model"
)

// TestParseZoneFileMain parses testdata/zones/main.zone: $TTL, $ORIGIN,
// $INCLUDE relative to the file (with and without an origin), '@',
// relative and absolute names, an omitted owner, multi-line records,
// comments, upper case, and an unknown type in RFC 3597 form.
func TestParseZoneFileMain(t *testing.T) {
	name := filepath.Join("testdata", "zones", "main.zone")
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseZoneFile(f, "example.test.", name, 300)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Record{
		{Name: "example.test.", Type: "SOA", TTL: 600, Data: "ns1.example.test. hostmaster.example.test. 2024010101 3600 600 1209600 60"},
		{Name: "example.test.", Type: "NS", TTL: 600, Data: "ns1.example.test."},
		{Name: "ns1.example.test.", Type: "A", TTL: 600, Data: "192.0.2.53"},
		{Name: "www.example.test.", Type: "A", TTL: 120, Data: "192.0.2.1"},
		{Name: "www.example.test.", Type: "AAAA", TTL: 600, Data: "2001:db8::1"},
		{Name: "mail.example.test.", Type: "MX", TTL: 600, Data: "10 www.example.test."},
		{Name: "db.example.test.", Type: "A", TTL: 30, Data: "192.0.2.10"},
		{Name: "after.example.test.", Type: "TXT", TTL: 600, Data: `"back in main, origin restored"`},
		{Name: "host.sub.example.test.", Type: "A", TTL: 600, Data: "192.0.2.20"},
		{Name: "db.other.example.test.", Type: "A", TTL: 30, Data: "192.0.2.10"},
		{Name: "blob.sub.example.test.", Type: "TYPE65534", TTL: 600, Data: `\# 3 abcdef`},
		{Name: "abs.example.test.", Type: "CNAME", TTL: 600, Data: "www.example.test."},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

// TestParseZoneFileTTL checks the TTL of records that give none.
func TestParseZoneFileTTL(t *testing.T) {
	cases := []struct {
		name string
		text string
		def  uint32
		want []uint32
	}{
		{"default TTL", "a IN A 192.0.2.1\n", 123, []uint32{123}},
		{"zero default is the model's", "a IN A 192.0.2.1\n", 0, []uint32{model.DefaultTTL}},
		{"$TTL", "$TTL 77\na IN A 192.0.2.1\n", 123, []uint32{77}},
		{"explicit TTL", "a 55 IN A 192.0.2.1\n", 123, []uint32{55}},
		{"last explicit TTL without $TTL (RFC 1035)", "a 55 IN A 192.0.2.1\nb IN A 192.0.2.2\n", 123, []uint32{55, 55}},
		{"$TTL wins over the last explicit TTL", "$TTL 77\na 55 IN A 192.0.2.1\nb IN A 192.0.2.2\n", 123, []uint32{55, 77}},
		{"TTL units", "$TTL 1h\na 1d IN A 192.0.2.1\nb IN A 192.0.2.2\n", 123, []uint32{86400, 3600}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := ParseZoneFile(strings.NewReader(tc.text), "example.test.", "t.zone", tc.def)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint32
			for _, r := range recs {
				got = append(got, r.TTL)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("TTLs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseZoneFileErrors checks that errors name the file, the line and
// the record, in the operator's words.
func TestParseZoneFileErrors(t *testing.T) {
	inc := func(name string) string { return filepath.Join("testdata", "zones", name) }
	cases := []struct {
		name   string
		file   string // read from testdata when text is empty
		text   string
		origin string
		want   string
	}{
		{name: "bad A address", file: "zones/x.zone",
			text: "$TTL 300\n; comment\n\n@ IN NS ns1\nns1 IN A 192.0.2.1\n\nwww 300 IN A 1.2.3\n",
			want: `zones/x.zone:7: bad A address "1.2.3" (in record "www 300 IN A 1.2.3")`},
		{name: "bad AAAA address", file: "x.zone", text: "www IN AAAA 192.0.2.1\n",
			want: `x.zone:1: bad AAAA address "192.0.2.1" (in record "www IN AAAA 192.0.2.1")`},
		{name: "bad MX", file: "x.zone", text: "\n@ IN MX ten mail\n",
			want: `x.zone:2: bad MX Pref "ten" (in record "@ IN MX ten mail")`},
		{name: "unknown type word", file: "x.zone", text: "www 300 IN FOO 1.2.3.4\n",
			want: `x.zone:1: unknown record type "FOO" (in record "www 300 IN FOO 1.2.3.4")`},
		{name: "bad TTL", file: "x.zone", text: "a IN A 192.0.2.1\nwww 30x0 IN A 192.0.2.1\n",
			want: `x.zone:2: bad TTL "30x0" (in record "www 30x0 IN A 192.0.2.1")`},
		{name: "TTL too large", file: "x.zone", text: "www 4294967296 IN A 192.0.2.1\n",
			want: `x.zone:1: bad TTL "4294967296" (in record "www 4294967296 IN A 192.0.2.1")`},
		{name: "bad $TTL", file: "x.zone", text: "$TTL soon\nwww IN A 192.0.2.1\n",
			want: `x.zone:1: bad $TTL value "soon" (in record "$TTL soon")`},
		{name: "missing RDATA", file: "x.zone", text: "www 300 IN A\nx IN A 192.0.2.1\n",
			want: `x.zone:1: incomplete record: missing RDATA (in record "www 300 IN A")`},
		{name: "missing RDATA at the end", file: "x.zone", text: "ok IN A 192.0.2.1\nwww 300 IN CNAME\n",
			want: `x.zone:2: CNAME record without RDATA (in record "www 300 IN CNAME")`},
		{name: "record outside the zone", file: "x.zone", text: "www IN A 192.0.2.1\nwww.other.test. IN A 192.0.2.2\n",
			want: `x.zone:2: www.other.test. is outside the zone example.test. (in record "www.other.test. IN A 192.0.2.2")`},
		{name: "outside after a multi-line record", file: "x.zone",
			text: "@ IN SOA ns1 hostmaster (\n 1 2 3 4 5 )\n; c\n\n$ORIGIN test.\nwww IN A 192.0.2.1\n",
			want: `x.zone:6: www.test. is outside the zone example.test. (in record "www IN A 192.0.2.1")`},
		{name: "class other than IN", file: "x.zone", text: "www 300 CH TXT hello\n",
			want: `x.zone:1: class CH is not supported: only IN (in record "www 300 CH TXT hello")`},
		{name: "unbalanced parenthesis", file: "x.zone", text: "a IN TXT ( \"x\"\n \"y\"\nb IN A 192.0.2.1\n",
			want: `x.zone:3: unbalanced parenthesis (in record "b IN A 192.0.2.1")`},
		{name: "$INCLUDE without a file name", text: "$INCLUDE other.zone\n",
			want: `zone file:1: $INCLUDE needs the zone file's name to resolve against, and none was given (in record "$INCLUDE other.zone")`},
		{name: "missing $INCLUDE file", file: inc("missing_include.zone"),
			want: inc("missing_include.zone") + `:4: cannot open $INCLUDE file "nothere.zone": no such file or directory (in record "$INCLUDE nothere.zone")`},
		{name: "bad record in an included file", file: inc("bad_include.zone"),
			want: inc("inc/bad.zone") + `:3: bad A address "192.0.2.300" (in record "bad  IN A 192.0.2.300")`},
		{name: "outside the zone in an included file", file: inc("outside_include.zone"),
			want: inc("inc/outside.zone") + `:2: www.other.test. is outside the zone example.test. (in record "www.other.test. IN A 192.0.2.2")`},
		{name: "bad origin", file: "x.zone", origin: "bad..origin", text: "www IN A 192.0.2.1\n",
			want: `x.zone: bad origin "bad..origin"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.text
			if text == "" && tc.file != "" {
				data, err := os.ReadFile(tc.file)
				if err != nil {
					t.Fatal(err)
				}
				text = string(data)
			}
			origin := tc.origin
			if origin == "" {
				origin = "example.test."
			}
			_, err := ParseZoneFile(strings.NewReader(text), origin, tc.file, 300)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got %s\nwant %s", err, tc.want)
			}
			var zfe *ZoneFileError
			if !errors.As(err, &zfe) || !errors.Is(err, ErrZoneFile) {
				t.Errorf("%T is not a *ZoneFileError wrapping ErrZoneFile", err)
			}
		})
	}
}

// TestParseZoneFileIncludeAbsolute checks an absolute $INCLUDE path.
func TestParseZoneFileIncludeAbsolute(t *testing.T) {
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts.zone")
	if err := os.WriteFile(hosts, []byte("db IN A 192.0.2.10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := "$INCLUDE " + hosts + "\nwww IN A 192.0.2.1\n"
	recs, err := ParseZoneFile(strings.NewReader(text), "example.test.", filepath.Join("testdata", "main.zone"), 300)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Name != "db.example.test." || recs[1].Name != "www.example.test." {
		t.Errorf("records %+v", recs)
	}
}

// TestParseZoneFileGenerate checks $GENERATE, which miekg/dns expands but
// gives TTL 3600 unless its template has one.
func TestParseZoneFileGenerate(t *testing.T) {
	recs, err := ParseZoneFile(strings.NewReader("$TTL 60\n$GENERATE 1-3 host$ 120 A 192.0.2.$\n$GENERATE 4-4 host$ IN 30 A 192.0.2.$\n"), "example.test.", "g.zone", 60)
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Record{
		{Name: "host1.example.test.", Type: "A", TTL: 120, Data: "192.0.2.1"},
		{Name: "host2.example.test.", Type: "A", TTL: 120, Data: "192.0.2.2"},
		{Name: "host3.example.test.", Type: "A", TTL: 120, Data: "192.0.2.3"},
		{Name: "host4.example.test.", Type: "A", TTL: 30, Data: "192.0.2.4"},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}

	for _, line := range []string{"$GENERATE 1-3 host$ A 192.0.2.$", "$GENERATE 1-3 host$ IN MX 10 mail$"} {
		_, err = ParseZoneFile(strings.NewReader("www IN A 192.0.2.1\n"+line+"\n"), "example.test.", "g.zone", 60)
		want := `g.zone:2: $GENERATE needs a TTL in its template, as in "$GENERATE 1-9 host$ 300 A 192.0.2.$" (in record "` + line + `")`
		if err == nil || err.Error() != want {
			t.Errorf("error\n got %v\nwant %s", err, want)
		}
	}
}
