package dnsserver

import (
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

// verdictState is the override fixture's four data centers behind one
// checked service of the given policy.
func verdictState(t *testing.T, policy model.Policy) *model.State {
	svc := model.Service{Name: ovA, Type: "A", Policy: policy, Endpoints: fourDCs("A"),
		Check: &model.Check{Type: "tcp", Port: 80}}
	return gslbState(t, svc)
}

func verdict(dc string, h model.Health, load ...float64) model.Verdict {
	v := model.Verdict{Service: model.ServiceKey(ovA, "A"), Endpoint: dcAddr[dc], Datacenter: dc, Health: h}
	if len(load) > 0 {
		v.Load = &load[0]
	}
	return v
}

func buildVerdicts(t *testing.T, st *model.State, vs []model.Verdict, ovs ...model.Override) *Snapshot {
	t.Helper()
	if err := st.Validate(); err != nil {
		t.Fatalf("fixture does not validate: %v", err)
	}
	snap, err := Build(st, 1, BuildOptions{Verdicts: vs, Overrides: ovs})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// The fleet's verdicts decide the healthy step: down drops an endpoint,
// unknown (no verdict yet) serves like up, and overrides sit above.
func TestVerdictsDecideHealth(t *testing.T) {
	st := verdictState(t, preset("all"))
	answer := func(snap *Snapshot) []string {
		got := dcsOf(answerData(snap.answer(question(t, ovA+" A"), false, testSrc)))
		slices.Sort(got)
		return got
	}
	tests := []struct {
		name     string
		verdicts []model.Verdict
		ovs      []model.Override
		want     []string
		health   map[string]string
	}{
		{"cold start: no verdicts, unknown serves", nil, nil, []string{"fra", "iad", "sin", "syd"},
			map[string]string{"fra": "unknown", "iad": "unknown", "sin": "unknown", "syd": "unknown"}},
		{"one down", []model.Verdict{verdict("fra", model.HealthDown), verdict("iad", model.HealthUp)}, nil,
			[]string{"iad", "sin", "syd"}, map[string]string{"fra": "down", "iad": "up", "sin": "unknown", "syd": "unknown"}},
		{"force up beats a down verdict", []model.Verdict{verdict("fra", model.HealthDown)},
			[]model.Override{dcOverride("fra", model.OverrideForceUp)}, []string{"fra", "iad", "sin", "syd"},
			map[string]string{"fra": "up/force_up", "iad": "unknown", "sin": "unknown", "syd": "unknown"}},
		{"force down beats an up verdict", []model.Verdict{verdict("iad", model.HealthUp)},
			[]model.Override{epOverride("iad", model.OverrideForceDown)}, []string{"fra", "sin", "syd"},
			map[string]string{"fra": "unknown", "iad": "down/force_down", "sin": "unknown", "syd": "unknown"}},
		{"every one down fails open", []model.Verdict{verdict("fra", model.HealthDown), verdict("iad", model.HealthDown),
			verdict("sin", model.HealthDown), verdict("syd", model.HealthDown)}, nil, []string{"fra", "iad", "sin", "syd"},
			map[string]string{"fra": "down", "iad": "down", "sin": "down", "syd": "down"}},
		{"a verdict for an address the service lacks is ignored",
			[]model.Verdict{{Service: model.ServiceKey(ovA, "A"), Endpoint: "192.0.2.99", Health: model.HealthDown}}, nil,
			[]string{"fra", "iad", "sin", "syd"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := buildVerdicts(t, st, tt.verdicts, tt.ovs...)
			if got := answer(snap); !slices.Equal(got, tt.want) {
				t.Errorf("answer = %v, want %v", got, tt.want)
			}
			if tt.health != nil {
				got := healthOf(t, snap, ovA, "A")
				for dc, want := range tt.health {
					if got[dc] != want {
						t.Errorf("%s health = %q, want %q", dc, got[dc], want)
					}
				}
			}
		})
	}
}

// A service without a check is up whatever verdicts say (the engine
// stores none for it, but a stale one must not take it down).
func TestVerdictsIgnoredWithoutCheck(t *testing.T) {
	st := gslbState(t, model.Service{Name: ovA, Type: "A", Policy: preset("all"), Endpoints: fourDCs("A")})
	snap := buildVerdicts(t, st, []model.Verdict{verdict("fra", model.HealthDown)})
	got := dcsOf(answerData(snap.answer(question(t, ovA+" A"), false, testSrc)))
	if !slices.Contains(got, "fra") || len(got) != 4 {
		t.Errorf("answer = %v, want all four data centers", got)
	}
}

// The verdicts' loads order the leastload step.
func TestVerdictLoadFeedsLeastLoad(t *testing.T) {
	st := verdictState(t, preset("leastload"))
	vs := []model.Verdict{verdict("fra", model.HealthUp, 0.9), verdict("iad", model.HealthUp, 0.2),
		verdict("sin", model.HealthUp, 0.5), verdict("syd", model.HealthUp, 0.7)}
	snap := buildVerdicts(t, st, vs)
	if got := dcsOf(answerData(snap.answer(question(t, ovA+" A"), false, testSrc))); !slices.Equal(got, []string{"iad"}) {
		t.Errorf("leastload answer = %v, want [iad]", got)
	}
	vs[1].Health = model.HealthDown // the least loaded goes down: the next least
	snap = buildVerdicts(t, st, vs)
	if got := dcsOf(answerData(snap.answer(question(t, ovA+" A"), false, testSrc))); !slices.Equal(got, []string{"sin"}) {
		t.Errorf("leastload answer with iad down = %v, want [sin]", got)
	}
}
