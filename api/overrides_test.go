package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

func TestOverrideRoutes(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.post("/api/v1/datacenters", dc("spare", "", 1, 1)).want(201)

	r := e.post("/api/v1/overrides", map[string]any{"target": "datacenter/spare", "action": "drain", "reason": "rack move"}).want(201)
	if loc := r.Header.Get("Location"); loc != "/api/v1/overrides/datacenter/spare" {
		t.Errorf("Location = %q", loc)
	}
	var ov model.Override
	r.decode(&ov)
	if ov.CreatedBy != EnvAdminActor || ov.CreatedAt.IsZero() || ov.ManagedBy != "api" {
		t.Errorf("override = %+v", ov)
	}
	// One override per target: a second POST replaces it.
	e.post("/api/v1/overrides", map[string]any{"target": "datacenter/spare", "action": "force_down", "reason": "power"}).want(200).decode(&ov)
	if ov.Action != model.OverrideForceDown {
		t.Errorf("replaced override = %+v", ov)
	}
	e.get("/api/v1/overrides/datacenter/spare").want(200)

	// Endpoint targets are canonicalized, and addressed by their path.
	e.post("/api/v1/overrides", map[string]any{"target": "endpoint/APP.example.org/a/192.0.2.1", "action": "force_up", "reason": "checks are wrong"}).want(201)
	e.get("/api/v1/overrides/endpoint/app.example.org./A/192.0.2.1").want(200).decode(&ov)
	if ov.Target != "endpoint/app.example.org./A/192.0.2.1" {
		t.Errorf("target = %q", ov.Target)
	}
	e.get("/api/v1/overrides/endpoint/app.example.org/a/192.0.2.1").want(200) // lenient spelling in paths too
	var l List[model.Override]
	e.get("/api/v1/overrides").want(200).decode(&l)
	if len(l.Items) != 2 {
		t.Errorf("list = %+v", l)
	}

	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"target": "datacenter/spare", "action": "drain", "reason": " "}, "reason"},
		{map[string]any{"target": "datacenter/spare", "action": "pause", "reason": "x"}, "action"},
		{map[string]any{"target": "datacenter/mars", "action": "drain", "reason": "x"}, "target"},
		{map[string]any{"target": "rack/12", "action": "drain", "reason": "x"}, "target"},
		{map[string]any{"target": "endpoint/app.example.org./A/192.0.2.99", "action": "drain", "reason": "x"}, "target"},
		{map[string]any{"target": "endpoint/app.example.org./A", "action": "drain", "reason": "x"}, "target"},
		{map[string]any{"target": "datacenter/spare", "action": "drain", "reason": strings.Repeat("x", 2000)}, "reason"},
	} {
		p := e.post("/api/v1/overrides", c.body).want(422).problem()
		if len(p.Errors) != 1 || p.Errors[0].Field != c.field {
			t.Errorf("%v: %+v, want field %s", c.body, p, c.field)
		}
	}

	// An override holds on to its data center and service.
	p := e.del("/api/v1/datacenters/spare").want(409).problem()
	if !slices.Equal(p.ReferencedBy, []string{"override/datacenter/spare"}) {
		t.Errorf("delete of an overridden data center: %+v", p)
	}
	p = e.del("/api/v1/services/app.example.org").want(409).problem()
	if !slices.Equal(p.ReferencedBy, []string{"override/endpoint/app.example.org./A/192.0.2.1"}) {
		t.Errorf("delete of a service with an overridden endpoint: %+v", p)
	}

	e.del("/api/v1/overrides/datacenter/spare").want(204)
	e.del("/api/v1/overrides/datacenter/spare").want(404)
	e.del("/api/v1/overrides/endpoint/app.example.org./A/192.0.2.1").want(204)
	e.del("/api/v1/datacenters/spare").want(204)

	var kinds []string
	for _, ev := range e.events() {
		if strings.HasPrefix(ev.Object, "override/") {
			kinds = append(kinds, ev.Type)
			if ev.Actor != EnvAdminActor {
				t.Errorf("event %d: actor %q", ev.Seq, ev.Actor)
			}
		}
	}
	if !slices.Equal(kinds, []string{"override", "override", "override", "delete", "delete"}) {
		t.Errorf("override events = %q", kinds)
	}
}
