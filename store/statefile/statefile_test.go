package statefile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// zoneYAML is a state file of one zone with every zone key; its zone file
// is z.zone. The fuzz target starts from it too.
const zoneYAML = `
zones:
  - name: GSLB.Example.Test
    file: z.zone
    ttl: 60
    hostmaster: ops@example.test
    nameservers:
      - {name: ns1.gslb.example.test, address: 192.0.2.53}
    soa: {refresh: 7200, minimum: 30}
`

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "z.zone", "www A 192.0.2.1\n")
	p := write(t, dir, "state.yaml", zoneYAML)
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
	tests := []loadErrorCase{
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

// servicesYAML is a state file with regions, data centers and services
// of every kind of field; its zone file is z.zone. The fuzz target starts
// from it too.
const servicesYAML = `
zones:
  - name: gslb.example.test
    file: z.zone
    nameservers: [{name: ns.example.net}]
regions:
  - {name: europe, continents: [EU]}
  - {name: americas, continents: [NA, SA], countries: [US], networks: [198.51.100.0/24]}
datacenters:
  - {name: fra, region: europe, location: {lat: 50.11, lon: 8.68}}
  - {name: iad, region: americas, location: {lat: 38.95, lon: -77.45}, drain: true}
services:
  - name: App.gslb.example.test
    type: a
    ttl: 20
    policy: [healthy, {region: {europe: [fra, iad]}}, nearest, {first: 2}]
    max_answers: 2
    fallback: {backup: [192.0.2.99]}
    endpoints:
      - {datacenter: fra, address: 192.0.2.10, weight: 3, priority: 1}
      - {datacenter: iad, address: 192.0.2.20, weight: 0, force_down: true, check_target: "10.0.0.20:8080"}
      - {datacenter: iad, address: 192.0.2.21}
  - name: alias.gslb.example.test
    type: CNAME
    policy: failover
    fallback: none
    endpoints:
      - {datacenter: fra, address: www.gslb.example.test}
`

func TestLoadServices(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "z.zone", "www A 192.0.2.1\n")
	p := write(t, dir, "state.yaml", servicesYAML)
	st, err := Load(p, lineParser)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Regions) != 2 || len(st.Datacenters) != 2 || len(st.Services) != 2 {
		t.Fatalf("loaded %d regions, %d data centers, %d services", len(st.Regions), len(st.Datacenters), len(st.Services))
	}
	if !st.Datacenters[1].Drain || st.Datacenters[0].Location.Lat != 50.11 {
		t.Errorf("data centers = %+v", st.Datacenters)
	}
	app := st.Services[0]
	if app.Name != "app.gslb.example.test." || app.Type != "A" || app.TTL != 20 || app.MaxAnswers != 2 {
		t.Errorf("service = %+v", app)
	}
	if got := app.Policy.String(); got != `["healthy",{"region":{"europe":["fra","iad"]}},"nearest",{"first":2}]` {
		t.Errorf("policy = %s", got)
	}
	if app.Fallback.Mode != model.FallbackBackup || app.Fallback.Backup[0] != "192.0.2.99" {
		t.Errorf("fallback = %+v", app.Fallback)
	}
	e := app.Endpoints
	if e[0].Weight != 3 || e[0].Priority != 1 || e[1].Weight != 0 || !e[1].ForceDown || e[1].CheckTarget != "10.0.0.20:8080" || e[2].Weight != 1 {
		t.Errorf("endpoints = %+v (weight defaults to 1, an explicit 0 stays)", e)
	}
	alias := st.Services[1]
	if alias.Policy.Preset != "failover" || alias.Fallback.Mode != model.FallbackNone || alias.Endpoints[0].Address != "www.gslb.example.test." {
		t.Errorf("alias = %+v", alias)
	}
}

func TestServiceErrorsNameLine(t *testing.T) {
	dir := t.TempDir()
	head := "zones:\n  - name: a.test\n    nameservers: [{name: ns.example.net}]\n" +
		"regions:\n  - {name: eu, continents: [EU]}\n" +
		"datacenters:\n  - {name: fra, region: eu, location: {lat: 50, lon: 8}}\n"
	tests := []loadErrorCase{
		{"unknown policy preset", "services:\n  - name: x.a.test\n    type: A\n    policy: closest\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n",
			`state.yaml:9: services[0]: model: invalid: service "x.a.test.": policy: unknown preset "closest"`},
		{"bad step", "services:\n  - name: x.a.test\n    type: A\n    policy: [healthy, {first: zero}]\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n",
			`state.yaml:11: services[0].policy: step 2: first: want a whole number`},
		{"bad fallback", "services:\n  - name: x.a.test\n    type: A\n    fallback: backup\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n",
			`state.yaml:11: services[0].fallback: backup needs addresses`},
		{"unknown data center", "services:\n  - name: x.a.test\n    type: A\n    endpoints: [{datacenter: lon, address: 192.0.2.1}]\n",
			`state.yaml:9: services[0]: model: invalid: service "x.a.test.": endpoints: unknown data center "lon"`},
		{"outside zones", "services:\n  - name: x.b.test\n    type: A\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n",
			`state.yaml:9: services[0]: model: invalid: service "x.b.test.": name: not inside any served zone`},
		{"unknown region", "  - {name: lon, region: uk, location: {lat: 51, lon: 0}}\n",
			`state.yaml:8: datacenters[1]: model: invalid: datacenter "lon": region: unknown region "uk"`},
		{"unknown endpoint key", "services:\n  - name: x.a.test\n    type: A\n    endpoints: [{datacenter: fra, adress: 192.0.2.1}]\n",
			`state.yaml:11: unknown key "adress"`},
	}
	wantLoadErrors(t, dir, head, tests)
}

func TestRegionErrorLine(t *testing.T) {
	p := write(t, t.TempDir(), "state.yaml", "regions:\n  - {name: eu, continents: [EU]}\n  - {name: x, continents: [EUR]}\n")
	_, err := Load(p, lineParser)
	if err == nil || !strings.Contains(err.Error(), `state.yaml:3: regions[1]: model: invalid: region "x": continents: "EUR" is not one of`) {
		t.Errorf("error = %v", err)
	}
}

// The check and notify keys are the state file's contract of issue 5.
func TestLoadCheckAndNotify(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "state.yaml", `zones:
  - name: a.test
    nameservers: [{name: ns.example.net}]
datacenters:
  - {name: fra, location: {lat: 50, lon: 8}}
  - {name: iad, location: {lat: 39, lon: -77}}
services:
  - name: api.a.test
    type: A
    policy: failover
    check: {type: http, port: 8080, path: /healthz, host: api.a.test, expect_status: [200, 204],
            expect_body: ok, interval: 1s, timeout: 500ms, rise: 2, fall: 3, quorum: 2}
    endpoints:
      - {datacenter: fra, address: 192.0.2.1, check_target: "127.0.0.1:18081"}
      - {datacenter: iad, address: 192.0.2.2, priority: 1}
  - name: ns.a.test
    type: A
    check: {type: dns, query_name: www.a.test, query_type: aaaa, expect_rcode: noerror, quorum: any}
    endpoints: [{datacenter: fra, address: 192.0.2.3}]
notify:
  - {url: "https://hooks.example/meridian", secret: "0123456789abcdef"}
  - {name: pager, url: "http://127.0.0.1:9/x"}
`)
	st, err := Load(p, lineParser)
	if err != nil {
		t.Fatal(err)
	}
	c := st.Services[0].Check
	want := model.Check{Type: "http", Port: 8080, Path: "/healthz", Host: "api.a.test", ExpectStatus: []int{200, 204},
		ExpectBody: "ok", Interval: model.Duration(time.Second), Timeout: model.Duration(500 * time.Millisecond),
		Rise: 2, Fall: 3, Quorum: "2"}
	if c == nil || fmt.Sprint(*c) != fmt.Sprint(want) {
		t.Errorf("check = %+v\nwant    %+v", c, want)
	}
	if got := st.Services[0].Endpoints[0].CheckTarget; got != "127.0.0.1:18081" {
		t.Errorf("check_target = %q", got)
	}
	d := st.Services[1].Check
	if d.QueryName != "www.a.test" || d.QueryType != "AAAA" || d.ExpectRcode != "NOERROR" || d.Quorum != "any" {
		t.Errorf("dns check = %+v", d)
	}
	if len(st.Notify) != 2 || st.Notify[0].Name != model.WebhookName("https://hooks.example/meridian") ||
		st.Notify[0].Secret != "0123456789abcdef" || st.Notify[1].Name != "pager" {
		t.Errorf("notify = %+v", st.Notify)
	}
}

func TestCheckErrorsNameLine(t *testing.T) {
	dir := t.TempDir()
	head := "zones:\n  - name: a.test\n    nameservers: [{name: ns.example.net}]\n" +
		"datacenters:\n  - {name: fra, location: {lat: 50, lon: 8}}\n" +
		"services:\n  - name: x.a.test\n    type: A\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n"
	tests := []loadErrorCase{
		{"bad duration", "    check: {type: http, interval: 1 second}\n", `state.yaml:10: invalid duration "1 second"`},
		{"interval below 1s", "    check: {type: http, interval: 500ms}\n", `state.yaml:10: services[0].check: model: invalid: service "x.a.test.": check: interval must be at least 1s`},
		{"bad type", "    check: {type: icmp}\n", `services[0].check: model: invalid: service "x.a.test.": check: type "icmp" is not http, https, tcp or dns`},
		{"bad quorum", "    check: {type: tcp, port: 80, quorum: most}\n", `check: quorum "most" is not majority, any, all or a positive number`},
		{"dns without a name", "    check: {type: dns}\n", `check: a dns check needs a query_name`},
		{"unknown check key", "    check: {type: http, expect: 200}\n", `state.yaml:10: unknown key "expect"`},
		{"bad webhook", "notify:\n  - {url: ftp://x}\n", `state.yaml:11: notify[0]: model: invalid: webhook`},
		{"short secret", "notify:\n  - {url: http://x.test/, secret: abc}\n", `notify[0]: model: invalid: webhook "hook-`},
	}
	wantLoadErrors(t, dir, head, tests)
}

// loadErrorCase is a state file, head + doc, that must fail to load with
// an error containing want (file name made relative to the test's dir).
type loadErrorCase struct{ name, doc, want string }

func wantLoadErrors(t *testing.T, dir, head string, tests []loadErrorCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := head + tt.doc
			p := write(t, dir, "state.yaml", doc)
			_, err := Load(p, lineParser)
			if err == nil {
				t.Fatalf("accepted:\n%s", doc)
			}
			got := strings.TrimPrefix(err.Error(), dir+string(os.PathSeparator))
			if !strings.Contains(got, tt.want) {
				t.Errorf("error = %q\nwant it to contain %q", got, tt.want)
			}
		})
	}
}
