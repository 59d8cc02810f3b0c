package dnsserver

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/store/model"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// presetState has one service per preset, named after it, over the four
// data centers with mixed weights, priorities and health.
func presetState(t testing.TB) *model.State {
	eps := fourDCs("A")
	eps[0].Weight, eps[1].Weight, eps[2].Weight, eps[3].Weight = 1, 2, 3, 0
	eps[0].Priority, eps[1].Priority, eps[2].Priority, eps[3].Priority = 2, 1, 1, 3
	eps[2].ForceDown = true // sin
	var svcs []model.Service
	for _, p := range model.PolicyPresets {
		svcs = append(svcs, model.Service{Name: p + ".gslb.example.test.", Type: "A", Policy: preset(p), Endpoints: slices.Clone(eps)})
	}
	svcs = append(svcs, model.Service{Name: "cdn.gslb.example.test.", Type: "CNAME", Policy: preset("geo"), Endpoints: []model.Endpoint{
		{Datacenter: "fra", Address: "edge1.gslb.example.test."}, {Datacenter: "iad", Address: "edge2.gslb.example.test."}}})
	return gslbState(t, svcs...)
}

// TestExplainMatchesDNS asks a real server and Explain the same queries,
// for every preset and for clients on several continents: for the
// deterministic presets the explained answer, rcode and ECS scope are the
// server's; for weighted and roundrobin the server's answer is one the
// explained chain allows.
func TestExplainMatchesDNS(t *testing.T) {
	db := openDB(t, testDB)
	snap := buildState(t, presetState(t), db)
	s := startServer(t, Config{}, snap)
	a := addr(t, s)
	local := netip.MustParseAddr("127.0.0.1")
	clients := []string{"", "2.2.3.0/24", "214.78.120.0/24", "214.0.1.0/24", "2001:218::/48", "10.0.0.0/8", "81.2.69.142/32"}
	names := append(slices.Clone(model.PolicyPresets), "cdn")
	for _, name := range names {
		for _, ecs := range clients {
			t.Run(name+" "+ecs, func(t *testing.T) {
				q := name + ".gslb.example.test. A"
				r := exchange(t, "udp", a, ecsQuery(t, q, ecs))
				eq := ExplainQuery{Name: name + ".gslb.example.test.", Type: "A", Client: local}
				if ecs != "" {
					eq.ECS = netip.MustParsePrefix(ecs)
				}
				e := snap.Explain(eq)
				if e.Rcode != dns.RcodeToString[r.Rcode] || e.Kind != kindService || len(e.Services) == 0 {
					t.Fatalf("explained %s %s with %d services, server said %s", e.Rcode, e.Kind, len(e.Services), dns.RcodeToString[r.Rcode])
				}
				var scope *int
				if ecsOpt := responseECS(r); ecsOpt != nil {
					sc := int(ecsOpt.SourceScope)
					scope = &sc
				}
				if diff := cmp.Diff(scope, e.ECSScope); diff != "" {
					t.Errorf("ECS scope (-server +explained):\n%s", diff)
				}
				got := rrStrings(r.Answer)
				svc := e.Services[0]
				switch name {
				case "weighted":
					// healthy, weighted, first 1: any healthy endpoint of
					// positive weight.
					allowed := addresses(svc.Steps[1].Before, func(c ExplainedCandidate) bool { return c.Weight > 0 })
					if len(r.Answer) != 1 || !slices.Contains(allowed, answerData(r)[0]) {
						t.Errorf("server answered %v, explained chain allows one of %v", answerData(r), allowed)
					}
				case "roundrobin":
					before := addresses(svc.Steps[1].Before, nil)
					if !isRotation(answerData(r), before) {
						t.Errorf("server answered %v, not a rotation of %v", answerData(r), before)
					}
				default:
					if diff := cmp.Diff(got, e.Answer); diff != "" {
						t.Errorf("answer (-server +explained):\n%s", diff)
					}
				}
				// The explanation agrees with itself: its chosen endpoints
				// are its answer.
				if name != "cdn" {
					chosen := addresses(svc.Chosen, nil)
					if ans := dataOf(e.Answer); !slices.Equal(chosen, ans) {
						t.Errorf("chosen %v but answered %v", chosen, ans)
					}
				}
			})
		}
	}
}

// addresses are the addresses of the candidates that keep says to keep
// (all with a nil keep).
func addresses(list []ExplainedCandidate, keep func(ExplainedCandidate) bool) []string {
	var out []string
	for _, c := range list {
		if keep == nil || keep(c) {
			out = append(out, c.Address)
		}
	}
	return out
}

// dataOf is the last field of each presentation-form record.
func dataOf(rrs []string) []string {
	var out []string
	for _, rr := range rrs {
		f := strings.Fields(rr)
		out = append(out, f[len(f)-1])
	}
	return out
}

func isRotation(got, of []string) bool {
	for k := range of {
		if slices.Equal(got, append(slices.Clone(of[k:]), of[:k]...)) {
			return true
		}
	}
	return false
}

// TestExplainKinds checks the kind, note and client source of
// explanations that are not service answers.
func TestExplainKinds(t *testing.T) {
	snap := buildState(t, serviceState(t), nil)
	src := netip.MustParseAddr("198.51.100.77")
	for _, tc := range []struct {
		name, typ string
		ecs       string
		rcode     string
		kind      string
		source    string
	}{
		{"app.gslb.example.test.", "A", "", "NOERROR", kindService, clientSource},
		{"app.gslb.example.test.", "TXT", "", "NOERROR", kindStatic, clientSource},
		{"app.gslb.example.test.", "MX", "", "NOERROR", kindNoData, clientSource},
		{"pool.gslb.example.test.", "A", "", "NOERROR", kindENT, clientSource},
		{"x.wild.gslb.example.test.", "A", "", "NOERROR", kindWildcard, clientSource},
		{"nothere.gslb.example.test.", "A", "2.2.3.0/24", "NXDOMAIN", kindNXDomain, clientECS},
		{"x.sub.gslb.example.test.", "A", "", "NOERROR", kindDelegation, clientSource},
		{"www.elsewhere.test.", "A", "", "REFUSED", kindRefused, clientSource},
		{"app.gslb.example.test.", "A", "10.0.0.0/8", "NOERROR", kindService, clientNotRoutable},
		{"app.gslb.example.test.", "A", "0.0.0.0/0", "NOERROR", kindService, clientECSZero},
		{"app.gslb.example.test.", "A", "2.2.3.1/24", "FORMERR", kindFormErr, ""},
		{"app.gslb.example.test.", "NOSUCHTYPE", "", "FORMERR", kindFormErr, ""},
	} {
		q := ExplainQuery{Name: tc.name, Type: tc.typ, Client: src}
		if tc.ecs != "" {
			q.ECS = netip.PrefixFrom(netip.MustParsePrefix(tc.ecs).Addr(), netip.MustParsePrefix(tc.ecs).Bits())
		}
		e := snap.Explain(q)
		if e.Rcode != tc.rcode || e.Kind != tc.kind || e.Client.Source != tc.source {
			t.Errorf("%s %s ECS %q: %s %s client %q, want %s %s %q (note %q)", tc.name, tc.typ, tc.ecs,
				e.Rcode, e.Kind, e.Client.Source, tc.rcode, tc.kind, tc.source, e.Note)
		}
	}
	var none *Snapshot
	if e := none.Explain(ExplainQuery{Name: "x.test.", Type: "A"}); e.Rcode != "REFUSED" {
		t.Errorf("nil snapshot: %s", e.Rcode)
	}
}

// TestExplainGolden pins the JSON and text renderings of one geo
// explanation (go test -run TestExplainGolden -update rewrites them).
func TestExplainGolden(t *testing.T) {
	st := presetState(t)
	st.Regions[2].Networks = []string{"2.2.3.128/25"} // europe
	snap := buildState(t, st, openDB(t, testDB))
	e := snap.Explain(ExplainQuery{Name: "geo.gslb.example.test", Type: "A",
		Client: netip.MustParseAddr("192.0.2.1"), ECS: netip.MustParsePrefix("214.0.1.0/24")})
	js, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := e.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden(t, "explain_geo.json", append(js, '\n'))
	golden(t, "explain_geo.txt", text.Bytes())
	if e.ECSScope == nil || *e.ECSScope != 24 || e.Region == nil || e.Region.Name != "apac" || e.Region.How != regionByContinent {
		t.Errorf("scope %v region %+v, want /24, apac by continent", e.ECSScope, e.Region)
	}
}

// golden compares got with testdata/golden/file, or rewrites the file
// with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", file)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-golden +got):\n%s", path, diff)
	}
}
