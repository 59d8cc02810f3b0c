package statefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/yamlfile"
)

// fuzzZoneFiles are the zone files FuzzStateFile's state files may name,
// written next to them (lineParser reads them), and missingZoneFile one
// they may name that does not exist. Anything else is skipped: the
// fuzzer must not read the rest of the disk (such as /dev/zero).
const missingZoneFile = "nope.zone"

var fuzzZoneFiles = map[string]string{
	"z.zone":                 "www A 192.0.2.1\nns1 A 192.0.2.53\n",
	"bad.zone":               "www A 192.0.2.1\nbad\n",
	"gslb.example.test.zone": "www A 192.0.2.10\nwww AAAA 2001:db8::10\n",
}

// FuzzStateFile parses arbitrary state files. A state that parses passes
// the model's validation and survives the store's encoding: it marshals
// to JSON and reads back as the same valid state. Every error starts with
// the file it is about (the state file or a zone file), at a line the
// state file has.
func FuzzStateFile(f *testing.F) {
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "state.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	head := "zones:\n  - name: a.test\n    nameservers: [{name: ns.example.net}]\n" +
		"regions:\n  - {name: eu, continents: [EU]}\n" +
		"datacenters:\n  - {name: fra, region: eu, location: {lat: 50, lon: 8}}\n"
	for _, doc := range []string{
		zoneYAML, servicesYAML, `zones:
  - name: a.test
    nameservers: [{name: ns.example.net}]
datacenters:
  - {name: fra, location: {lat: 50, lon: 8}}
services:
  - name: api.a.test
    type: A
    policy: failover
    check: {type: http, port: 8080, path: /healthz, host: api.a.test, expect_status: [200, 204],
            expect_body: ok, interval: 1s, timeout: 500ms, rise: 2, fall: 3, quorum: 2}
    endpoints:
      - {datacenter: fra, address: 192.0.2.1, check_target: "127.0.0.1:18081"}
  - name: ns.a.test
    type: A
    check: {type: dns, query_name: www.a.test, query_type: aaaa, expect_rcode: noerror, quorum: any}
    endpoints: [{datacenter: fra, address: 192.0.2.3}]
notify:
  - {url: "https://hooks.example/meridian", secret: "0123456789abcdef"}
  - {name: pager, url: "http://127.0.0.1:9/x"}
`,
		"zones:\n  - name: a.test\n    nameservers: []\n    nameserver: []\n",
		"zones:\n  - name: 'a..test'\n", "zones:\n  - name: a.test\n    file: nope.zone\n",
		"zones:\n  - name: a.test\n    file: bad.zone\n    nameservers: [{name: ns.b.test}]\n",
		"zones:\n  - name: a.test\n    nameservers: [{name: ns.a.test}]\n",
		"zones:\n  - name: a.test\n    nameservers: [{name: ns.b.test}]\n  - name: A.test.\n    nameservers: [{name: ns.b.test}]\n",
		"zones:\n  - name: a.test\n    soa: {refresh: soon}\n",
		"regions:\n  - {name: eu, continents: [EU]}\n  - {name: x, continents: [EUR]}\n",
		head + "services:\n  - name: x.a.test\n    type: A\n    policy: [healthy, {first: zero}]\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n",
		head + "services:\n  - name: x.a.test\n    type: A\n    fallback: backup\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n",
		head + "services:\n  - name: x.b.test\n    type: A\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n",
		head + "  - {name: lon, region: uk, location: {lat: 51, lon: 0}}\n",
		head + "services:\n  - name: x.a.test\n    type: A\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n    check: {type: http, interval: 500ms}\n",
		head + "services:\n  - name: x.a.test\n    type: A\n    endpoints: [{datacenter: fra, address: 192.0.2.1}]\n    check: {type: tcp, port: 80, quorum: most}\n",
		head + "notify:\n  - {url: ftp://x}\n",
		head + "datacenters:\n  - {name: nan, location: {lat: .nan, lon: .inf}}\n",
		"- a\n- b\n", "zones: &z [{name: a.test, nameservers: [{name: ns.example.net}]}]\nregions: *z\n", "", "{}", "zones: [",
	} {
		f.Add([]byte(doc))
	}

	dir := f.TempDir()
	for name, text := range fuzzZoneFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	path := filepath.Join(dir, "state.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		var doc file
		if _, err := yamlfile.Decode(path, data, &doc); err == nil {
			for _, z := range doc.Zones {
				if _, ok := fuzzZoneFiles[z.File]; z.File != "" && z.File != missingZoneFile && !ok {
					t.Skip("a zone file other than those written for the fuzzer")
				}
			}
		}
		st, err := Parse(path, data, lineParser)
		if err != nil {
			checkStateFileError(t, err, dir, path, data)
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("parsed state does not validate: %v", err)
		}
		// The store keeps objects as JSON.
		enc, err := json.Marshal(st)
		if err != nil {
			t.Fatalf("parsed state does not encode: %v\n%+v", err, st)
		}
		var back model.State
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("encoded state does not decode: %v\n%s", err, enc)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("state read back from JSON does not validate: %v\n%s", err, enc)
		}
		if again, err := json.Marshal(&back); err != nil || !bytes.Equal(again, enc) {
			t.Fatalf("state changes through JSON (%v):\n%s\n%s", err, enc, again)
		}
	})
}

// checkStateFileError checks that every error of a failed Parse (several
// are joined) starts with a file in dir, and that a line of the state
// file is one it has, or the one after: yaml.v3 puts the empty node of a
// document that ends right after "---" there.
func checkStateFileError(t *testing.T, err error, dir, path string, data []byte) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	lines := yamlLines(data)
	for _, e := range errs {
		msg := e.Error()
		if !strings.HasPrefix(msg, dir+string(os.PathSeparator)) {
			t.Fatalf("error %q does not name the file it is about", msg)
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(msg, dir+string(os.PathSeparator)), ":")
		if name != filepath.Base(path) && !isZoneFile(name) {
			t.Fatalf("error %q names a file that is neither the state file nor a zone file", msg)
		}
		var ye *yamlfile.Error
		if errors.As(e, &ye) && (ye.File != path || ye.Line < 0 || ye.Line > lines+1 || ye.Msg == "") {
			t.Fatalf("error %q: file %q, line %d of %d, message %q", msg, ye.File, ye.Line, lines, ye.Msg)
		}
	}
}

func isZoneFile(name string) bool {
	_, ok := fuzzZoneFiles[name]
	return ok
}

// yamlLines is the number of lines of a YAML document: YAML breaks lines
// at LF, CR, CR LF, NEL, LS and PS.
func yamlLines(data []byte) int {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	return 1 + strings.Count(s, "\n") + strings.Count(s, "\r") + strings.Count(s, "\u0085") +
		strings.Count(s, "\u2028") + strings.Count(s, "\u2029")
}
