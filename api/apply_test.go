package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

func desiredState() map[string]any {
	return map[string]any{
		"zones": []any{map[string]any{
			"name": "gslb.example.com", "ttl": 300, "hostmaster": "hostmaster@example.com",
			"nameservers": []any{map[string]any{"name": "ns1.gslb.example.com.", "address": "192.0.2.53"}},
			"soa":         map[string]any{"refresh": 3600},
			"records":     []any{map[string]any{"name": "www.gslb.example.com.", "type": "A", "ttl": 60, "data": "192.0.2.80"}},
		}},
		"regions":     []any{map[string]any{"name": "eu", "continents": []string{"EU"}}},
		"datacenters": []any{dc("fra", "eu", 50.1, 8.7), dc("ams", "eu", 52.4, 4.9)},
		"services":    []any{service("app.gslb.example.com.", "A", "fra", "192.0.2.1", "ams", "192.0.2.2")},
	}
}

// applied is applyResult as a client decodes it.
type applied struct {
	DryRun   bool              `json:"dry_run"`
	Revision int64             `json:"revision"`
	Summary  string            `json:"summary"`
	Changes  []json.RawMessage `json:"changes"`
	Kept     []string          `json:"kept"`
}

func TestApply(t *testing.T) {
	e := newEnv(t)
	// An object made through the API is another source's: apply keeps it.
	e.post("/api/v1/regions", map[string]any{"name": "us", "countries": []string{"US"}}).want(201)

	var res applied
	var raw struct {
		Changes []struct {
			Action string         `json:"action"`
			Kind   string         `json:"kind"`
			Name   string         `json:"name"`
			After  map[string]any `json:"after"`
		} `json:"changes"`
	}
	r := e.post("/api/v1/apply", desiredState()).want(200)
	r.decode(&res)
	r.decode(&raw)
	if len(raw.Changes) != 5 || res.DryRun || res.Summary != "5 created, 0 updated, 0 deleted, 0 adopted" {
		t.Fatalf("first apply = %s", r.Body)
	}
	if !slices.Equal(res.Kept, []string{"region/us"}) {
		t.Errorf("kept = %q", res.Kept)
	}
	if c := raw.Changes[0]; c.Action != "create" || c.Kind != "zone" || c.Name != "gslb.example.com." || c.After["managed_by"] != SourceApply {
		t.Errorf("first change = %+v", c)
	}
	var d model.Datacenter
	e.get("/api/v1/datacenters/fra").want(200).decode(&d)
	if d.ManagedBy != SourceApply {
		t.Errorf("applied data center is managed by %q", d.ManagedBy)
	}

	// The same state again: nothing to do, nothing written.
	var again applied
	e.post("/api/v1/apply", desiredState()).want(200).decode(&again)
	if len(again.Changes) != 0 || again.Revision != res.Revision || !strings.HasPrefix(again.Summary, "0 created, 0 updated, 0 deleted") {
		t.Errorf("second apply = %+v (first at revision %d)", again, res.Revision)
	}

	// A dry run of a change reports it and writes nothing.
	changed := desiredState()
	changed["datacenters"] = []any{dc("fra", "eu", 50.0, 8.0), dc("ams", "eu", 52.4, 4.9)}
	nEvents := len(e.events())
	var dry struct {
		DryRun  bool `json:"dry_run"`
		Changes []struct {
			Action string         `json:"action"`
			Name   string         `json:"name"`
			Before map[string]any `json:"before"`
			After  map[string]any `json:"after"`
		} `json:"changes"`
	}
	e.post("/api/v1/apply?dry_run=true", changed).want(200).decode(&dry)
	if !dry.DryRun || len(dry.Changes) != 1 || dry.Changes[0].Action != "update" || dry.Changes[0].Name != "fra" ||
		dry.Changes[0].Before == nil || dry.Changes[0].After == nil {
		t.Errorf("dry run = %+v", dry)
	}
	e.get("/api/v1/datacenters/fra").want(200).decode(&d)
	if d.Location.Lat != 50.1 || len(e.events()) != nEvents {
		t.Errorf("the dry run wrote: %+v, %d events (was %d)", d, len(e.events()), nEvents)
	}
	e.post("/api/v1/apply?dry_run=maybe", changed).want(400)

	// Removing from the desired state deletes what apply made.
	smaller := desiredState()
	smaller["services"] = []any{}
	smaller["datacenters"] = []any{dc("fra", "eu", 50.1, 8.7)}
	var del applied
	e.post("/api/v1/apply", smaller).want(200).decode(&del)
	if del.Summary != "0 created, 0 updated, 2 deleted, 0 adopted" {
		t.Errorf("shrinking apply = %+v", del.Summary)
	}
	evs := e.events()
	if last := evs[len(evs)-1]; last.Type != "reconcile" || last.Actor != EnvAdminActor || !strings.HasPrefix(last.Detail, "apply:") {
		t.Errorf("apply event = %+v", last)
	}
}

func TestApplyRefusesInvalidStates(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		name   string
		mutate func(map[string]any)
		status int
	}{
		{"service outside any zone", func(s map[string]any) {
			s["services"] = []any{service("app.example.net.", "A", "fra", "192.0.2.1")}
		}, 422},
		{"unknown data center", func(s map[string]any) {
			s["services"] = []any{service("app.gslb.example.com.", "A", "mars", "192.0.2.1")}
		}, 422},
		{"bad RDATA", func(s map[string]any) {
			z := s["zones"].([]any)[0].(map[string]any)
			z["records"] = []any{map[string]any{"name": "gslb.example.com.", "type": "MX", "ttl": 60, "data": "x"}}
		}, 422},
		{"unknown field", func(s map[string]any) { s["checks"] = []any{} }, 400},
		{"wrong type", func(s map[string]any) { s["regions"] = "eu" }, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := desiredState()
			c.mutate(s)
			e.post("/api/v1/apply", s).want(c.status).problem()
		})
	}
	if n := len(e.events()); n != 0 {
		t.Errorf("%d events after refused applies", n)
	}
}
