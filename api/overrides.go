package api

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/meridian-gslb/meridian/store/model"
)

// An override is addressed by its target, which is the rest of its path:
//
//	/api/v1/overrides/datacenter/fra
//	/api/v1/overrides/endpoint/app.gslb.example.com./A/192.0.2.1
//
// Each segment of a target is a name, a type or an address, none of
// which holds a slash, so the two target forms are two ordinary routes.
var overridePaths = []string{
	"datacenter/{datacenter}",
	"endpoint/{service}/{type}/{address}",
}

// overrideBody is what POST /api/v1/overrides takes.
type overrideBody struct {
	Target string `json:"target"`
	Action string `json:"action"`
	Reason string `json:"reason"`
}

func overrideLocation(target string) string { return "/api/v1/overrides/" + target }

// canonicalTarget writes a target the way model.ParseOverrideTarget
// wants it: service names lower case and absolute, types upper case,
// addresses as netip prints them. What cannot be read is left for
// Validate to report.
func canonicalTarget(kind, dc, service, typ, address string) string {
	if kind == model.TargetDatacenter {
		return model.DatacenterTarget(dc)
	}
	if model.ValidName(service) {
		service = model.CanonicalName(service)
	}
	typ = strings.ToUpper(typ)
	if a, err := netip.ParseAddr(address); err == nil {
		address = a.String()
	} else if typ == "CNAME" && model.ValidName(address) {
		address = model.CanonicalName(address)
	}
	return model.TargetEndpoint + "/" + service + "/" + typ + "/" + address
}

func targetOfBody(t string) string {
	kind, rest, _ := strings.Cut(t, "/")
	if kind == model.TargetDatacenter {
		return t
	}
	parts := strings.Split(rest, "/")
	if kind != model.TargetEndpoint || len(parts) != 3 {
		return t
	}
	return canonicalTarget(kind, "", parts[0], parts[1], parts[2])
}

func targetOfPath(r *http.Request) string {
	if dc := chi.URLParam(r, "datacenter"); dc != "" {
		return model.DatacenterTarget(pathParam(r, "datacenter"))
	}
	return canonicalTarget(model.TargetEndpoint, "", pathParam(r, "service"), pathParam(r, "type"), pathParam(r, "address"))
}

func (s *Server) listOverrides(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, model.KindOverride)
}

func (s *Server) getOverride(w http.ResponseWriter, r *http.Request) {
	s.get(w, r, model.KindOverride, targetOfPath(r))
}

// postOverride sets the override of a target, replacing any: 201 when
// the target had none, 200 when one was replaced.
func (s *Server) postOverride(w http.ResponseWriter, r *http.Request) {
	var body overrideBody
	if err := decodeJSON(w, r, s.cfg.MaxBody, &body); err != nil {
		s.problem(w, r, err)
		return
	}
	ov := &model.Override{
		Target: targetOfBody(body.Target), Action: body.Action, Reason: body.Reason,
		CreatedBy: principalOf(r.Context()).name, CreatedAt: time.Now().UTC(),
	}
	s.replace(w, r, op{
		kind: model.KindOverride, name: ov.Target, obj: ov,
		event: "override", detail: ov.Action + ": " + ov.Reason,
	}, overrideLocation(ov.Target))
}

func (s *Server) deleteOverride(w http.ResponseWriter, r *http.Request) {
	s.remove(w, r, model.KindOverride, targetOfPath(r))
}

// overrideTargetExists refuses an override of a data center or endpoint
// the state does not have (422).
func overrideTargetExists(st *model.State, ov *model.Override) error {
	t, err := model.ParseOverrideTarget(ov.Target)
	if err != nil {
		return &invalidError{err}
	}
	missing := func(format string, args ...any) error {
		p := problemf(http.StatusUnprocessableEntity, typeInvalid, format, args...)
		p.Errors = []FieldError{{Field: "target", Message: p.Detail}}
		return p
	}
	if t.Kind == model.TargetDatacenter {
		if !slices.ContainsFunc(st.Datacenters, func(d model.Datacenter) bool { return d.Name == t.Datacenter }) {
			return missing("data center %q does not exist", t.Datacenter)
		}
		return nil
	}
	for _, svc := range st.Services {
		if svc.Name != t.Service || svc.Type != t.Type {
			continue
		}
		for _, e := range svc.Endpoints {
			if sameAddress(e.Address, t.Address) {
				return nil
			}
		}
		return missing("service %s %s has no endpoint %s", t.Service, t.Type, t.Address)
	}
	return missing("service %s %s does not exist", t.Service, t.Type)
}

// sameAddress compares IP addresses by value ("2001:DB8::1" is
// "2001:db8::1") and names as they are.
func sameAddress(a, b string) bool {
	x, errX := netip.ParseAddr(a)
	y, errY := netip.ParseAddr(b)
	if errX == nil && errY == nil {
		return x == y
	}
	return a == b
}
