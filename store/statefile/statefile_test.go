package statefile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

// lineParser reads "name type data" lines; it stands in for dnsserver's
// zone parser, which is not what these tests are about (store must not
// import dnsserver). A line "bad" is an error at that line.
func lineParser(r io.Reader, origin, filename string, ttl uint32) ([]model.Record, error) {
	var out []model.Record
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 1 && f[0] == "bad" {
			return nil, fmt.Errorf("%s:%d: bad record", filename, n)
		}
		if len(f) == 3 {
			out = append(out, model.Record{Name: f[0] + "." + origin, Type: f[1], TTL: ttl, Data: f[2]})
		}
	}
	return out, nil
}

func write(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "z.zone", "www A 192.0.2.1\n")
	p := write(t, dir, "state.yaml", `
zones:
  - name: GSLB.Example.Test
    file: z.zone
    ttl: 60
    hostmaster: ops@example.test
    nameservers:
      - {name: ns1.gslb.example.test, address: 192.0.2.53}
    soa: {refresh: 7200, minimum: 30}
`)
	st, err := Load(p, lineParser)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Zones) != 1 {
		t.Fatalf("zones = %d, want 1", len(st.Zones))
	}
	z := st.Zones[0]
	if z.Name != "gslb.example.test." || z.TTL != 60 || z.SOA.Refresh != 7200 || z.SOA.Minimum != 30 {
		t.Errorf("zone = %+v", z)
	}
	if z.Nameservers[0].Name != "ns1.gslb.example.test." {
		t.Errorf("nameserver name not canonical: %q", z.Nameservers[0].Name)
	}
	if len(z.Records) != 1 || z.Records[0].Name != "www.gslb.example.test." || z.Records[0].TTL != 60 {
		t.Errorf("records = %+v (want the zone file relative to the state file, with the zone TTL)", z.Records)
	}
}

func TestLoadErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "bad.zone", "www A 192.0.2.1\nbad\n")
	tests := []struct{ name, doc, want string }{
		{"unknown key", "zones:\n  - name: a.test\n    nameserver: []\n", `state.yaml:3: unknown key "nameserver"`},
		{"bad name", "zones:\n  - name: 'a..test'\n", `state.yaml:2: zones[0].name: "a..test" is not a valid domain name`},
		{"missing zone file", "zones:\n  - name: a.test\n    file: nope.zone\n", `state.yaml:3: zones[0].file: zone a.test.: open `},
		{"zone file error", "zones:\n  - name: a.test\n    file: bad.zone\n    nameservers: [{name: ns.b.test}]\n", `bad.zone:2: bad record`},
		{"no name servers", "zones:\n  - name: a.test\n", `state.yaml:2: zones[0]: model: invalid: zone "a.test.": nameservers`},
		{"glue missing", "zones:\n  - name: a.test\n    nameservers: [{name: ns.a.test}]\n", `state.yaml:2: zones[0]: model: invalid: zone "a.test.": nameservers: ns.a.test. lies inside the zone and needs an address`},
		{"duplicate zone", "zones:\n  - name: a.test\n    nameservers: [{name: ns.b.test}]\n  - name: A.test.\n    nameservers: [{name: ns.b.test}]\n", `state.yaml:2: zones[0]: model: invalid: zone "a.test.": defined twice`},
		{"bad timer type", "zones:\n  - name: a.test\n    soa: {refresh: soon}\n", `state.yaml:3: "soon" is not a valid whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, dir, "state.yaml", tt.doc)
			_, err := Load(p, lineParser)
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tt.want)
			}
			got := strings.TrimPrefix(err.Error(), dir+string(os.PathSeparator))
			if !strings.Contains(got, tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", got, tt.want)
			}
		})
	}
}
