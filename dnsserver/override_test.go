package dnsserver

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gslb/meridian/store/model"
)

// Override fixtures: an A and an AAAA service over the four data centers
// (preset all: healthy only), so that a data center's override shows on
// both.
const (
	ovA    = "o.gslb.example.test."
	ovAAAA = "o6.gslb.example.test."
)

var overrideTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// dcOverride and epOverride make API overrides as the store holds them.
func dcOverride(dc, action string) model.Override {
	return model.Override{Target: model.DatacenterTarget(dc), Action: action, Reason: "rack maintenance",
		CreatedBy: "alice", CreatedAt: overrideTime}
}

func epOverride(dc, action string) model.Override {
	return model.Override{Target: model.EndpointTarget(ovA, "A", dcAddr[dc]), Action: action, Reason: "bad NIC",
		CreatedBy: "bob", CreatedAt: overrideTime}
}

// stateFlags are the state file's drain and force_down flags of a case.
type stateFlags struct {
	dcDrain, dcDown, epDrain, epDown []string // data centers; ep* flag the A service's endpoint there
}

func overrideState(t *testing.T, f stateFlags) *model.State {
	a := model.Service{Name: ovA, Type: "A", Policy: preset("all"), Endpoints: fourDCs("A")}
	for i := range a.Endpoints {
		a.Endpoints[i].Drain = slices.Contains(f.epDrain, a.Endpoints[i].Datacenter)
		a.Endpoints[i].ForceDown = slices.Contains(f.epDown, a.Endpoints[i].Datacenter)
	}
	st := gslbState(t, a, model.Service{Name: ovAAAA, Type: "AAAA", Policy: preset("all"), Endpoints: fourDCs("AAAA")})
	for i := range st.Datacenters {
		st.Datacenters[i].Drain = slices.Contains(f.dcDrain, st.Datacenters[i].Name)
		st.Datacenters[i].ForceDown = slices.Contains(f.dcDown, st.Datacenters[i].Name)
	}
	return st
}

func buildOverrides(t *testing.T, st *model.State, ovs []model.Override) *Snapshot {
	t.Helper()
	if err := st.Validate(); err != nil {
		t.Fatalf("fixture does not validate: %v", err)
	}
	snap, err := Build(st, 1, BuildOptions{Overrides: ovs})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// healthOf explains name and returns each data center's health as
// "health" or "health/action" when an override is in effect.
func healthOf(t *testing.T, snap *Snapshot, name, typ string) map[string]string {
	t.Helper()
	e := snap.Explain(ExplainQuery{Name: name, Type: typ, Client: testSrc})
	if len(e.Services) != 1 || len(e.Services[0].Steps) == 0 {
		t.Fatalf("explained %s %s: %+v", name, typ, e)
	}
	out := map[string]string{}
	for _, c := range e.Services[0].Steps[0].Before {
		out[c.Datacenter] = c.Health
		if c.Override != nil {
			out[c.Datacenter] += "/" + c.Override.Action
		}
	}
	return out
}

// TestOverrides checks each action on a data center and on an endpoint,
// their precedence over each other and over the state file's flags, and
// that stale targets are ignored and reported.
func TestOverrides(t *testing.T) {
	up := map[string]string{"fra": "up", "iad": "up", "sin": "up", "syd": "up"}
	with := func(changes ...string) map[string]string {
		m := map[string]string{}
		for k, v := range up {
			m[k] = v
		}
		for i := 0; i < len(changes); i += 2 {
			m[changes[i]] = changes[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name      string
		flags     stateFlags
		overrides []model.Override
		want      map[string]string // the A service's health by data center
		want6     map[string]string // the AAAA service's; nil means up
		answer    []string          // the A service's answer, by data center
		stale     []string
	}{
		{name: "none", want: up, answer: []string{"fra", "iad", "sin", "syd"}},
		{name: "datacenter drain", overrides: []model.Override{dcOverride("fra", model.OverrideDrain)},
			want: with("fra", "drained/drain"), want6: with("fra", "drained/drain"), answer: []string{"iad", "sin", "syd"}},
		{name: "datacenter force_down", overrides: []model.Override{dcOverride("iad", model.OverrideForceDown)},
			want: with("iad", "down/force_down"), want6: with("iad", "down/force_down"), answer: []string{"fra", "sin", "syd"}},
		{name: "datacenter force_up", overrides: []model.Override{dcOverride("sin", model.OverrideForceUp)},
			want: with("sin", "up/force_up"), want6: with("sin", "up/force_up"), answer: []string{"fra", "iad", "sin", "syd"}},
		{name: "endpoint drain", overrides: []model.Override{epOverride("fra", model.OverrideDrain)},
			want: with("fra", "drained/drain"), answer: []string{"iad", "sin", "syd"}},
		{name: "endpoint force_down", overrides: []model.Override{epOverride("syd", model.OverrideForceDown)},
			want: with("syd", "down/force_down"), answer: []string{"fra", "iad", "sin"}},
		{name: "endpoint force_up", overrides: []model.Override{epOverride("syd", model.OverrideForceUp)},
			want: with("syd", "up/force_up"), answer: []string{"fra", "iad", "sin", "syd"}},

		{name: "endpoint override beats the data center's", overrides: []model.Override{
			dcOverride("fra", model.OverrideDrain), epOverride("fra", model.OverrideForceUp)},
			want: with("fra", "up/force_up"), want6: with("fra", "drained/drain"), answer: []string{"fra", "iad", "sin", "syd"}},
		{name: "endpoint drain under a data center force_up", overrides: []model.Override{
			epOverride("fra", model.OverrideDrain), dcOverride("fra", model.OverrideForceUp)},
			want: with("fra", "drained/drain"), want6: with("fra", "up/force_up"), answer: []string{"iad", "sin", "syd"}},
		{name: "force_up beats the state file's force_down", flags: stateFlags{dcDown: []string{"fra"}, epDown: []string{"iad"}},
			overrides: []model.Override{dcOverride("fra", model.OverrideForceUp), epOverride("iad", model.OverrideForceUp)},
			want:      with("fra", "up/force_up", "iad", "up/force_up"), want6: with("fra", "up/force_up"), answer: []string{"fra", "iad", "sin", "syd"}},
		{name: "force_up beats the state file's drain", flags: stateFlags{dcDrain: []string{"fra"}},
			overrides: []model.Override{dcOverride("fra", model.OverrideForceUp)},
			want:      with("fra", "up/force_up"), want6: with("fra", "up/force_up"), answer: []string{"fra", "iad", "sin", "syd"}},
		{name: "a data center override beats the endpoint's state file flags", flags: stateFlags{epDown: []string{"fra"}},
			overrides: []model.Override{dcOverride("fra", model.OverrideDrain)},
			want:      with("fra", "drained/drain"), want6: with("fra", "drained/drain"), answer: []string{"iad", "sin", "syd"}},
		{name: "an endpoint override beats the data center's state file flags", flags: stateFlags{dcDrain: []string{"fra"}},
			overrides: []model.Override{epOverride("fra", model.OverrideForceDown)},
			want:      with("fra", "down/force_down"), want6: with("fra", "drained"), answer: []string{"iad", "sin", "syd"}},
		{name: "state file alone: flags combine", flags: stateFlags{dcDrain: []string{"fra"}, epDown: []string{"fra", "iad"}},
			want: with("fra", "down", "iad", "down"), want6: with("fra", "drained"), answer: []string{"sin", "syd"}},
		{name: "the last override of a target wins", overrides: []model.Override{
			dcOverride("fra", model.OverrideDrain), dcOverride("fra", model.OverrideForceDown)},
			want: with("fra", "down/force_down"), want6: with("fra", "down/force_down"), answer: []string{"iad", "sin", "syd"}},
		{name: "stale targets are ignored", overrides: []model.Override{
			dcOverride("nowhere", model.OverrideDrain),
			{Target: model.EndpointTarget("gone.gslb.example.test.", "A", "198.51.100.1"), Action: model.OverrideForceDown, Reason: "r", CreatedAt: overrideTime},
			{Target: model.EndpointTarget(ovA, "A", "198.51.100.99"), Action: model.OverrideForceDown, Reason: "r", CreatedAt: overrideTime},
			{Target: model.EndpointTarget(ovA, "AAAA", dcAddr6["fra"]), Action: model.OverrideForceDown, Reason: "r", CreatedAt: overrideTime},
			{Target: "bogus", Action: model.OverrideDrain, Reason: "r", CreatedAt: overrideTime},
			{Target: model.DatacenterTarget("iad"), Action: "reboot", Reason: "r", CreatedAt: overrideTime},
			dcOverride("sin", model.OverrideDrain),
		}, want: with("sin", "drained/drain"), want6: with("sin", "drained/drain"), answer: []string{"fra", "iad", "syd"},
			stale: []string{"bogus", "datacenter/iad", "datacenter/nowhere", "endpoint/gone.gslb.example.test./A/198.51.100.1",
				"endpoint/o.gslb.example.test./A/198.51.100.99", "endpoint/o.gslb.example.test./AAAA/2001:db8:f::1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := buildOverrides(t, overrideState(t, tc.flags), tc.overrides)
			if diff := cmp.Diff(tc.want, healthOf(t, snap, ovA, "A")); diff != "" {
				t.Errorf("A service health (-want +got):\n%s", diff)
			}
			want6 := tc.want6
			if want6 == nil {
				want6 = up
			}
			if diff := cmp.Diff(want6, healthOf(t, snap, ovAAAA, "AAAA")); diff != "" {
				t.Errorf("AAAA service health (-want +got):\n%s", diff)
			}
			got := dcsOf(answerData(snap.answer(question(t, ovA+" A"), false, testSrc)))
			if diff := cmp.Diff(tc.answer, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			stale := snap.StaleOverrides()
			slices.Sort(stale)
			if diff := cmp.Diff(tc.stale, stale); diff != "" {
				t.Errorf("stale overrides (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOverrideCanonicalTargets checks that endpoint targets match the
// service's endpoints whatever their spelling in the state: IPv6
// addresses and CNAME targets are compared in canonical form.
func TestOverrideCanonicalTargets(t *testing.T) {
	st := gslbState(t,
		model.Service{Name: "v6.gslb.example.test.", Type: "AAAA", Endpoints: []model.Endpoint{
			{Datacenter: "fra", Address: "2001:DB8:F:0::1", Weight: 1}, {Datacenter: "iad", Address: "2001:db8:a::1", Weight: 1}}},
		model.Service{Name: "c.gslb.example.test.", Type: "CNAME", Policy: preset("failover"), Endpoints: []model.Endpoint{
			{Datacenter: "fra", Address: "Edge1.GSLB.example.test.", Priority: 1}, {Datacenter: "iad", Address: "edge2.gslb.example.test.", Priority: 2}}})
	snap := buildOverrides(t, st, []model.Override{
		{Target: model.EndpointTarget("v6.gslb.example.test.", "AAAA", "2001:db8:f::1"), Action: model.OverrideDrain, Reason: "r", CreatedAt: overrideTime},
		{Target: model.EndpointTarget("c.gslb.example.test.", "CNAME", "edge1.gslb.example.test."), Action: model.OverrideForceDown, Reason: "r", CreatedAt: overrideTime},
	})
	if stale := snap.StaleOverrides(); len(stale) != 0 {
		t.Errorf("stale %v, want none", stale)
	}
	if got := answerData(snap.answer(question(t, "v6.gslb.example.test. AAAA"), false, testSrc)); !slices.Equal(got, []string{"2001:db8:a::1"}) {
		t.Errorf("AAAA answer %v, want the iad endpoint only", got)
	}
	if got := answerData(snap.answer(question(t, "c.gslb.example.test. CNAME"), false, testSrc)); !slices.Equal(got, []string{"edge2.gslb.example.test."}) {
		t.Errorf("CNAME answer %v, want edge2", got)
	}
}

// TestOverrideFallback checks overrides against the fallbacks. Drained
// endpoints stay out of a fail-open answer unless everything is drained;
// force_down takes part in fail-open like a down verdict, so forcing
// every endpoint down still answers all of them with fallback all (use
// fallback none or backup to answer nothing or something else); force_up
// keeps an endpoint in when everything else is out.
func TestOverrideFallback(t *testing.T) {
	all := func(action string) []model.Override {
		var out []model.Override
		for _, dc := range []string{"fra", "iad", "sin", "syd"} {
			out = append(out, dcOverride(dc, action))
		}
		return out
	}
	backup := model.Fallback{Mode: model.FallbackBackup, Backup: []string{"203.0.113.1"}}
	for _, tc := range []struct {
		name      string
		fallback  model.Fallback
		overrides []model.Override
		want      []string
		applied   string
		note      string
	}{
		{"drain everything, fallback all: every endpoint", model.Fallback{}, all(model.OverrideDrain),
			[]string{"fra", "iad", "sin", "syd"}, "all", noteFailOpenAll},
		{"force everything down, fallback all: fail open", model.Fallback{}, all(model.OverrideForceDown),
			[]string{"fra", "iad", "sin", "syd"}, "all", noteFailOpen},
		{"down and drained, fallback all: the drained stay out", model.Fallback{}, []model.Override{
			dcOverride("fra", model.OverrideForceDown), dcOverride("iad", model.OverrideForceDown),
			dcOverride("sin", model.OverrideDrain), dcOverride("syd", model.OverrideDrain)},
			[]string{"fra", "iad"}, "all", noteFailOpen},
		{"drain everything, fallback none: NODATA", model.Fallback{Mode: model.FallbackNone}, all(model.OverrideDrain),
			nil, "none", noteFallbackNone},
		{"drain everything, fallback backup", backup, all(model.OverrideDrain),
			[]string{"203.0.113.1"}, "backup", noteFallbackBack},
		{"force_up one, drain the rest: that one", model.Fallback{Mode: model.FallbackNone},
			append(all(model.OverrideDrain), epOverride("iad", model.OverrideForceUp)), []string{"iad"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := overrideState(t, stateFlags{})
			st.Services[0].Fallback = tc.fallback
			snap := buildOverrides(t, st, tc.overrides)
			r := snap.answer(question(t, ovA+" A"), false, testSrc)
			if got := dcsOf(answerData(r)); !slices.Equal(got, tc.want) {
				t.Errorf("answer %v, want %v", got, tc.want)
			}
			if tc.want == nil && (len(r.Ns) != 1 || r.Rcode != 0) {
				t.Errorf("want NODATA with the SOA, got rcode %d, authority %v", r.Rcode, r.Ns)
			}
			e := snap.Explain(ExplainQuery{Name: ovA, Type: "A", Client: testSrc})
			svc := e.Services[0]
			if svc.FallbackApplied != tc.applied || svc.Steps[0].Note != tc.note {
				t.Errorf("explained fallback %q note %q, want %q %q", svc.FallbackApplied, svc.Steps[0].Note, tc.applied, tc.note)
			}
		})
	}
}

// TestOverrideExplain checks that Explain shows the override in effect on
// each candidate: structured in JSON, and in the text as
// "drained (datacenter override by alice: rack maintenance)".
func TestOverrideExplain(t *testing.T) {
	ov := dcOverride("fra", model.OverrideDrain)
	ov.Reason = "rack\nmaintenance" // one line in the text
	snap := buildOverrides(t, overrideState(t, stateFlags{}), []model.Override{
		ov, epOverride("iad", model.OverrideForceDown),
		{Target: model.EndpointTarget(ovA, "A", dcAddr["sin"]), Action: model.OverrideForceUp, Reason: "checks are wrong", CreatedAt: overrideTime}})
	e := snap.Explain(ExplainQuery{Name: ovA, Type: "A", Client: testSrc})
	before := e.Services[0].Steps[0].Before
	want := []*ExplainedOverride{
		{Target: "datacenter/fra", Action: "drain", Reason: "rack\nmaintenance", CreatedBy: "alice", CreatedAt: overrideTime},
		{Target: "endpoint/o.gslb.example.test./A/198.51.100.2", Action: "force_down", Reason: "bad NIC", CreatedBy: "bob", CreatedAt: overrideTime},
		{Target: "endpoint/o.gslb.example.test./A/198.51.100.3", Action: "force_up", Reason: "checks are wrong", CreatedAt: overrideTime},
		nil,
	}
	for i, c := range before {
		if diff := cmp.Diff(want[i], c.Override); diff != "" {
			t.Errorf("%s override (-want +got):\n%s", c.Datacenter, diff)
		}
	}
	var text strings.Builder
	if err := e.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"before: fra  198.51.100.1  drained (datacenter override by alice: rack maintenance)  weight 1",
		"        iad  198.51.100.2  down (override by bob: bad NIC)                           weight 1",
		"        sin  198.51.100.3  up (override: checks are wrong)                           weight 1",
		"        syd  198.51.100.4  up                                                        weight 1",
	} {
		if !strings.Contains(text.String(), line) {
			t.Errorf("text lacks %q:\n%s", line, text.String())
		}
	}
	golden(t, "explain_override.txt", []byte(text.String()))
}

// TestOverrideOverSocket checks that swapping in a snapshot built with an
// override moves the answer of a running server, and that removing it
// moves the answer back.
func TestOverrideOverSocket(t *testing.T) {
	svc := model.Service{Name: "f.gslb.example.test.", Type: "A", Policy: preset("failover"), Endpoints: []model.Endpoint{
		{Datacenter: "fra", Address: dcAddr["fra"], Priority: 1},
		{Datacenter: "iad", Address: dcAddr["iad"], Priority: 2},
		{Datacenter: "sin", Address: dcAddr["sin"], Priority: 3},
	}}
	st := gslbState(t, svc)
	s := startServer(t, Config{}, buildOverrides(t, st, nil))
	a := addr(t, s)
	drainFra := dcOverride("fra", model.OverrideDrain)
	downIad := model.Override{Target: model.EndpointTarget(svc.Name, "A", dcAddr["iad"]), Action: model.OverrideForceDown,
		Reason: "bad NIC", CreatedBy: "bob", CreatedAt: overrideTime}
	for _, step := range []struct {
		overrides []model.Override
		want      string
	}{
		{nil, "fra"},
		{[]model.Override{drainFra}, "iad"},
		{[]model.Override{drainFra, downIad}, "sin"},
		{[]model.Override{downIad}, "fra"},
		{nil, "fra"},
	} {
		s.Swap(buildOverrides(t, st, step.overrides))
		for _, network := range []string{"udp", "tcp"} {
			r := exchange(t, network, a, question(t, "f.gslb.example.test. A"))
			if got := dcsOf(answerData(r)); !slices.Equal(got, []string{step.want}) {
				t.Errorf("%d overrides, %s: answer %v, want %s", len(step.overrides), network, got, step.want)
			}
		}
	}
}
