package dnsserver

import (
	"net/netip"
	"slices"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// override is a compiled model.Override (BuildOptions.Overrides): an
// operator's drain, force_down or force_up of a data center or of one
// endpoint, with its reason and author for explanations.
type override struct {
	target string
	action string // model.OverrideDrain, OverrideForceDown or OverrideForceUp
	reason string
	by     string
	at     time.Time
	dc     bool // a data center's override, not an endpoint's

	// used and shadowed are written by Build only: the target named
	// something, or a later override of the same target replaced it.
	used, shadowed bool
}

// overrideSet are the overrides of a build, by target.
type overrideSet struct {
	dc  map[string]*override // by data center name
	ep  map[string]*override // by endpointKey
	all []*override          // in the order given
	// unreadable are the targets of overrides whose target or action
	// does not parse (the API never stores one).
	unreadable []string
	// verdicts are the health engine's verdicts by
	// model.VerdictName(service key, address). They are not overrides,
	// but travel with them through the build.
	verdicts map[string]*model.Verdict
}

// compileVerdicts indexes verdicts by service key and endpoint address.
func compileVerdicts(list []model.Verdict) map[string]*model.Verdict {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]*model.Verdict, len(list))
	for i := range list {
		m[model.VerdictName(list[i].Service, list[i].Endpoint)] = &list[i]
	}
	return m
}

// verdict returns the verdict on the endpoint at address of ms, or nil.
func (o *overrideSet) verdict(ms *model.Service, address string) *model.Verdict {
	if o.verdicts == nil {
		return nil
	}
	return o.verdicts[model.VerdictName(ms.ObjectName(), address)]
}

// compileOverrides reads the overrides of a build. An override of a
// target given twice replaces the earlier one.
func compileOverrides(list []model.Override) *overrideSet {
	set := &overrideSet{}
	for i := range list {
		mo := &list[i]
		t, err := model.ParseOverrideTarget(mo.Target)
		if err != nil || !slices.Contains(model.OverrideActions, mo.Action) {
			set.unreadable = append(set.unreadable, mo.Target)
			continue
		}
		ov := &override{target: mo.Target, action: mo.Action, reason: mo.Reason, by: mo.CreatedBy, at: mo.CreatedAt,
			dc: t.Kind == model.TargetDatacenter}
		m, key := &set.dc, t.Datacenter
		if !ov.dc {
			m, key = &set.ep, endpointKey(t.Service, t.Type, t.Address)
		}
		if *m == nil {
			*m = map[string]*override{}
		}
		if old := (*m)[key]; old != nil {
			old.shadowed = true
		}
		(*m)[key] = ov
		set.all = append(set.all, ov)
	}
	return set
}

// endpointKey identifies an endpoint across the model and the snapshot:
// the service's canonical name and type, and the address in canonical
// form (netip's for addresses, a canonical name for CNAME targets).
func endpointKey(service, typ, address string) string {
	if name, ok := canonicalName(service); ok {
		service = name
	}
	if a, err := netip.ParseAddr(address); err == nil {
		address = a.String()
	} else if name, ok := canonicalName(address); ok {
		address = name
	}
	return service + "/" + typ + "/" + address
}

// datacenter returns the override of the data center name, marking it
// used.
func (set *overrideSet) datacenter(name string) *override {
	ov := set.dc[name]
	if ov != nil {
		ov.used = true
	}
	return ov
}

// endpoint returns the override of one endpoint of svc, marking it used;
// key is the address as svc.record canonicalizes it.
func (set *overrideSet) endpoint(svc *service, key string) *override {
	if len(set.ep) == 0 {
		return nil // no string to build for the common case
	}
	ov := set.ep[svc.name+"/"+svc.typ+"/"+key]
	if ov != nil {
		ov.used = true
	}
	return ov
}

// stale lists the targets of the overrides Build ignored: those whose
// target names no data center or endpoint of the state, and unreadable
// ones.
func (set *overrideSet) stale() []string {
	out := slices.Clone(set.unreadable)
	for _, ov := range set.all {
		if !ov.used && !ov.shadowed {
			out = append(out, ov.target)
		}
	}
	return out
}

// endpointState decides an endpoint's effective health and drain, and
// the API override in effect. The first of these that says anything
// decides the operator's part:
//
//  1. an API override of the endpoint,
//  2. an API override of its data center,
//  3. the state file's flags of the endpoint and its data center,
//     combined: down if either is force_down, drained if either is drain.
//
// drain makes the endpoint drained, force_down down, force_up up and not
// drained whatever the verdict says. The checkers' verdict comes in as
// verdict (up until they report; unknown serves like up).
func endpointState(verdict health, me *model.Endpoint, dc *datacenter, epOverride *override) (h health, drained bool, eff *override) {
	eff = epOverride
	if eff == nil {
		eff = dc.override
	}
	h = verdict
	if eff == nil {
		if me.ForceDown || dc.forceDown {
			h = healthDown
		}
		return h, me.Drain || dc.drain, nil
	}
	switch eff.action {
	case model.OverrideDrain:
		drained = true
	case model.OverrideForceDown:
		h = healthDown
	case model.OverrideForceUp:
		h = healthUp
	}
	return h, drained, eff
}

// StaleOverrides returns the targets of the overrides given to Build
// that it ignored, in the order given: an override of a data center or
// endpoint the state does not have (a deleted service may leave one
// behind), or one whose target or action does not parse. cmd logs them;
// Metrics.ObserveBuild exports their number.
func (s *Snapshot) StaleOverrides() []string { return slices.Clone(s.stale) }
