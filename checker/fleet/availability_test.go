package fleet

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

const (
	www  = "www.example.org./A"
	sin1 = "203.0.113.1"
)

// availabilityServices: app (fra1, fra2 in fra; iad1 in iad) and www
// (sin1 in sin) are checked; api is not.
func availabilityServices() []model.Service {
	services := testState(httpCheck()).Services
	services = append(services, model.Service{
		Name: "www.example.org.", Type: "A", Check: httpCheck(),
		Endpoints: []model.Endpoint{{Datacenter: "sin", Address: sin1, Weight: 1}},
	})
	return services
}

// vev is a verdict event of service's endpoint at now + d.
func vev(service, endpoint, after string, now time.Time, d time.Duration) model.Event {
	return model.Event{Type: "verdict", Object: EndpointObject(service, endpoint), After: after, At: now.Add(d)}
}

// expect is the Window of down seconds within a window of w.
func expect(down float64, w time.Duration) Window {
	l := w.Seconds()
	win := Window{Availability: (l - down) / l, Percent: (l - down) * 100 / l, DowntimeSeconds: down, DowntimeMinutes: down / 60, Nines: MaxNines}
	if down > 0 {
		win.Nines = -math.Log10(down / l)
	}
	return win
}

// TestComputeAvailability: exact figures from known event sequences.
func TestComputeAvailability(t *testing.T) {
	now := t0
	h, m, day := time.Hour, time.Minute, 24*time.Hour
	events := []model.Event{
		// iad1: an outage that started before the 24 h window, and one
		// that straddles the start of the 30 d window.
		vev(app, iad1, "down", now, -31*day),
		vev(app, iad1, "up", now, -29*day),
		vev(app, iad1, "down", now, -25*h),
		vev(app, iad1, "up", now, -23*h),
		// fra1: 36 minutes, with a repeated down event inside.
		vev(app, fra1, "down", now, -60*m),
		vev(app, fra1, "down", now, -50*m),
		vev(app, fra1, "up", now, -24*m),
		// fra2: 40 minutes overlapping fra1 by 26, ended by unknown, and
		// one still open.
		vev(app, fra2, "down", now, -50*m),
		vev(app, fra2, "unknown", now, -10*m),
		vev(app, fra2, "down", now, -5*m),
		// sin1: still open.
		vev(www, sin1, "down", now, -5*m),
		// Ignored: another type, an unchecked service, an unknown
		// endpoint, the future.
		{Type: "create", Object: EndpointObject(app, fra1), After: "down", At: now.Add(-10 * h)},
		vev(api, apiEP, "down", now, -10*h),
		vev(app, "192.0.2.99", "down", now, -10*h),
		vev(app, iad1, "down", now, time.Minute),
	}
	rep := ComputeAvailability(events, availabilityServices(), now)

	// The headline: 36 minutes in 24 hours is exactly 0.975.
	fra1day := rep.Endpoints[0].Windows["24h"]
	if rep.Endpoints[0].Name != fra1 || fra1day.Availability != 0.975 || fra1day.Percent != 97.5 ||
		fra1day.DowntimeSeconds != 2160 || fra1day.DowntimeMinutes != 36 || fra1day.Nines != -math.Log10(0.025) {
		t.Errorf("fra1 over 24h = %+v", fra1day)
	}
	if w := rep.Endpoints[1].Windows["24h"]; w.Availability != 0.96875 || w.DowntimeMinutes != 45 {
		t.Errorf("fra2 over 24h = %+v, want 45 minutes, 0.96875", w)
	}

	type row struct {
		kind, name, service, dc string
		down                    [3]float64 // seconds in 24h, 7d, 30d
	}
	want := []row{
		{KindEndpoint, fra1, app, "fra", [3]float64{2160, 2160, 2160}},
		{KindEndpoint, fra2, app, "fra", [3]float64{2700, 2700, 2700}},
		{KindEndpoint, iad1, app, "iad", [3]float64{3600, 7200, 7200 + 86400}},
		{KindEndpoint, sin1, www, "sin", [3]float64{300, 300, 300}},
		{KindDatacenter, "fra", "", "", [3]float64{1560, 1560, 1560}}, // fra1 ∩ fra2: 26 minutes
		{KindDatacenter, "iad", "", "", [3]float64{3600, 7200, 93600}},
		{KindDatacenter, "sin", "", "", [3]float64{300, 300, 300}},
		{KindService, app, "", "", [3]float64{0, 0, 0}}, // never all three at once
		{KindService, www, "", "", [3]float64{300, 300, 300}},
	}
	var got []AvailabilityRow
	got = append(append(append(got, rep.Endpoints...), rep.Datacenters...), rep.Services...)
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.Name != w.name || g.Service != w.service || g.Datacenter != w.dc {
			t.Errorf("row %d = %s %s %s %s, want %+v", i, g.Kind, g.Name, g.Service, g.Datacenter, w)
			continue
		}
		for j, win := range AvailabilityWindows {
			if g.Windows[win.Name] != expect(w.down[j], win.Length) {
				t.Errorf("%s %s over %s = %+v, want %+v", w.kind, w.name, win.Name, g.Windows[win.Name], expect(w.down[j], win.Length))
			}
		}
	}
	if s := rep.Services[0].Windows["30d"]; s.Availability != 1 || s.Nines != MaxNines || s.Percent != 100 {
		t.Errorf("app over 30d = %+v", s)
	}
	if len(rep.Windows) != 3 || rep.Windows[0] != "24h" || rep.Windows[2] != "30d" || !rep.GeneratedAt.Equal(now) {
		t.Errorf("report head = %v %v", rep.Windows, rep.GeneratedAt)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Error(err)
	}
}

// TestComputeAvailabilityEdges: no events means fully up; down for the
// whole window means 0 and no nines.
func TestComputeAvailabilityEdges(t *testing.T) {
	now := t0
	rep := ComputeAvailability(nil, availabilityServices(), now)
	for _, r := range rep.Endpoints {
		if w := r.Windows["7d"]; w.Availability != 1 || w.Nines != MaxNines || w.DowntimeSeconds != 0 {
			t.Errorf("%s = %+v", r.Name, w)
		}
	}
	rep = ComputeAvailability([]model.Event{vev(www, sin1, "down", now, -40*24*time.Hour)}, availabilityServices(), now)
	if w := rep.Services[1].Windows["30d"]; w.Availability != 0 || w.Percent != 0 || w.Nines != 0 || w.DowntimeMinutes != 30*24*60 {
		t.Errorf("www down all along = %+v", w)
	}
	if rep := ComputeAvailability(nil, nil, now); rep.Endpoints == nil || rep.Datacenters == nil || rep.Services == nil {
		t.Errorf("empty report has nil lists: %+v", rep)
	}
}

// TestEngineAvailability: from the verdict events Evaluate writes, read
// incrementally from the store.
func TestEngineAvailability(t *testing.T) {
	env := newTestEnv(t)
	env.report("c1", false, up(fra1), up(fra2), up(iad1))
	env.evaluate()
	env.at(time.Hour)
	env.report("c1", false, down(fra1, "refused"), up(fra2), up(iad1))
	env.evaluate()
	env.at(time.Hour + 36*time.Minute)
	env.report("c1", false, up(fra1), up(fra2), up(iad1))
	env.evaluate()
	env.at(2 * time.Hour)
	rep, err := env.e.Availability(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if w := rep.Endpoints[0].Windows["24h"]; rep.Endpoints[0].Name != fra1 || w.Availability != 0.975 || w.DowntimeMinutes != 36 {
		t.Errorf("fra1 = %+v", rep.Endpoints[0])
	}
	if w := rep.Datacenters[0].Windows["24h"]; w.Availability != 1 {
		t.Errorf("fra = %+v (fra2 stayed up)", w)
	}
	// Both fra endpoints down for ten minutes: fra is down, app is not.
	env.report("c1", false, down(fra1, "refused"), down(fra2, "refused"), up(iad1))
	env.evaluate()
	env.at(2*time.Hour + 10*time.Minute)
	env.report("c1", false, up(fra1), up(fra2), up(iad1))
	env.evaluate()
	rep, err = env.e.Availability(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if w := rep.Datacenters[0].Windows["24h"]; rep.Datacenters[0].Name != "fra" || w.DowntimeMinutes != 10 {
		t.Errorf("fra = %+v", rep.Datacenters[0])
	}
	if w := rep.Endpoints[0].Windows["24h"]; w.DowntimeMinutes != 46 {
		t.Errorf("fra1 = %+v", w)
	}
	if w := rep.Services[0].Windows["24h"]; w.Availability != 1 {
		t.Errorf("app = %+v", w)
	}
}

// TestTrimVerdicts: the engine's cache keeps only what the windows need,
// and the report computed from it is the report computed from every
// event, now and a day later.
func TestTrimVerdicts(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var events []model.Event
	seq := int64(0)
	add := func(service, ep, after string, d time.Duration) {
		seq++
		ev := vev(service, ep, after, now, d)
		ev.Seq = seq
		events = append(events, ev)
	}
	// 60 days of flapping on every endpoint, an outage of sin1 that began
	// 40 days ago and never ended, and two events at the same instant.
	for day := 60; day > 0; day-- {
		d := -time.Duration(day) * 24 * time.Hour
		add(www, sin1, "down", d-40*24*time.Hour+time.Duration(day)) // old, before everything
		add("app.example.org./A", "192.0.2.1", "down", d)
		add("app.example.org./A", "192.0.2.1", "up", d+time.Hour)
		add("app.example.org./A", "198.51.100.1", "down", d+2*time.Hour)
		add("app.example.org./A", "198.51.100.1", "up", d+2*time.Hour)
	}
	all := append([]model.Event(nil), events...)
	kept := trimVerdicts(append([]model.Event(nil), events...), now.Add(-availHorizon))
	if len(kept) >= len(all)*2/3 {
		t.Fatalf("kept %d of %d events", len(kept), len(all))
	}
	for _, at := range []time.Time{now, now.Add(24 * time.Hour)} {
		want, _ := json.Marshal(ComputeAvailability(all, availabilityServices(), at))
		got, _ := json.Marshal(ComputeAvailability(kept, availabilityServices(), at))
		if string(got) != string(want) {
			t.Errorf("at %v the report changed after trimming:\n got  %s\n want %s", at, got, want)
		}
	}
}
