package dnsserver

import (
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

// routesOf returns the data centers the service sends each region to.
func routesOf(t *testing.T, snap *Snapshot, key string) map[string][]string {
	t.Helper()
	for _, sr := range snap.Routing() {
		if sr.Service == key {
			out := map[string][]string{}
			for _, r := range sr.Regions {
				out[r.Region] = r.Datacenters
				if r.Fallback != "" {
					out[r.Region] = []string{"fallback " + r.Fallback}
				}
			}
			return out
		}
	}
	t.Fatalf("no routes for %s", key)
	return nil
}

func TestRouting(t *testing.T) {
	key := model.ServiceKey(ovA, "A")
	geoSvc := model.Service{Name: ovA, Type: "A", Policy: preset("geo"), Endpoints: fourDCs("A"),
		Check: &model.Check{Type: "tcp", Port: 80}}
	st := gslbState(t, geoSvc)

	snap := buildVerdicts(t, st, nil)
	got := routesOf(t, snap, key)
	if !slices.Equal(got["europe"], []string{"fra"}) || !slices.Equal(got["americas"], []string{"iad"}) {
		t.Errorf("geo routes = %v, want europe → fra, americas → iad", got)
	}
	if apac := got["apac"]; len(apac) == 0 || len(apac) > 2 || slices.ContainsFunc(apac, func(dc string) bool { return dc != "sin" && dc != "syd" }) {
		t.Errorf("apac → %v, want sin and/or syd", apac)
	}
	if nowhere := got[""]; len(nowhere) != 4 {
		t.Errorf("clients in no region → %v, want every data center (no location to be nearest to)", nowhere)
	}
	// The routes follow health: with fra down, Europe goes to the nearest
	// healthy data center, iad.
	snap = buildVerdicts(t, st, []model.Verdict{verdict("fra", model.HealthDown)})
	if got := routesOf(t, snap, key)["europe"]; !slices.Equal(got, []string{"iad"}) {
		t.Errorf("with fra down, europe → %v, want iad", got)
	}
	// And overrides: draining iad sends the Americas elsewhere.
	snap = buildVerdicts(t, st, nil, dcOverride("iad", model.OverrideDrain))
	if got := routesOf(t, snap, key)["americas"]; slices.Contains(got, "iad") || len(got) == 0 {
		t.Errorf("with iad drained, americas → %v", got)
	}

	// Pick steps are left out: a weighted service shows what it draws from.
	w := model.Service{Name: ovA, Type: "A", Policy: preset("weighted"), Endpoints: fourDCs("A")}
	snap = buildVerdicts(t, gslbState(t, w), nil)
	if got := routesOf(t, snap, key)["europe"]; len(got) != 4 {
		t.Errorf("weighted europe → %v, want the four it draws from", got)
	}

	// Nothing healthy with fallback none: no endpoints, and it says why.
	none := model.Service{Name: ovA, Type: "A", Policy: preset("all"), Endpoints: fourDCs("A"),
		Fallback: model.Fallback{Mode: model.FallbackNone}, Check: &model.Check{Type: "tcp", Port: 80}}
	var down []model.Verdict
	for _, dc := range []string{"fra", "iad", "sin", "syd"} {
		down = append(down, verdict(dc, model.HealthDown))
	}
	snap = buildVerdicts(t, gslbState(t, none), down)
	if got := routesOf(t, snap, key)["europe"]; !slices.Equal(got, []string{"fallback none"}) {
		t.Errorf("all down with fallback none: europe → %v", got)
	}
}

// Routing leaves the DNS path's round-robin counters alone.
func TestRoutingDoesNotRotate(t *testing.T) {
	rr := model.Service{Name: ovA, Type: "A", Policy: preset("roundrobin"), Endpoints: fourDCs("A")}
	snap := buildVerdicts(t, gslbState(t, rr), nil)
	first := answerData(snap.answer(question(t, ovA+" A"), false, testSrc))
	for i := 0; i < 5; i++ {
		snap.Routing()
	}
	second := answerData(snap.answer(question(t, ovA+" A"), false, testSrc))
	if slices.Equal(first, second) || second[0] != first[1] {
		t.Errorf("answers %v then %v: Routing moved the rotation", first, second)
	}
}
