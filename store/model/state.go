package model

import (
	"fmt"
)

// State is a whole desired configuration: what a state file, an apply or a
// snapshot of the store holds. Health (checkers, votes) is not part of it.
type State struct {
	Zones       []Zone       `json:"zones,omitempty"`
	Regions     []Region     `json:"regions,omitempty"`
	Datacenters []Datacenter `json:"datacenters,omitempty"`
	Services    []Service    `json:"services,omitempty"`
	Notify      []Webhook    `json:"notify,omitempty"`
}

// Validate checks every object and the references between them: unique
// names, services inside a served zone and not shadowing a static record of
// the same name and type, endpoints in known data centers, data centers in
// known regions.
func (s *State) Validate() error {
	zones := map[string]*Zone{}
	// types of static records by canonical owner name, built once, so
	// that checking services against records stays linear in the state.
	owners := map[string][]string{}
	for i := range s.Zones {
		z := &s.Zones[i]
		if err := z.Validate(); err != nil {
			return err
		}
		if zones[z.Name] != nil {
			return invalid(KindZone, z.Name, "", "defined twice")
		}
		zones[z.Name] = z
		for _, r := range z.Records {
			name := CanonicalName(r.Name)
			owners[name] = append(owners[name], r.Type)
		}
	}
	regions := map[string]bool{}
	countries, networks := map[string]string{}, map[string]string{}
	for i := range s.Regions {
		r := &s.Regions[i]
		if err := r.Validate(); err != nil {
			return err
		}
		if regions[r.Name] {
			return invalid(KindRegion, r.Name, "", "defined twice")
		}
		regions[r.Name] = true
		// A client must belong to one region: a country or a network
		// listed by two regions would make the answer depend on order.
		for _, c := range r.Countries {
			if other, dup := countries[c]; dup {
				return invalid(KindRegion, r.Name, "countries", "%s is already in region %q", c, other)
			}
			countries[c] = r.Name
		}
		for _, n := range r.Networks {
			if other, dup := networks[n]; dup {
				return invalid(KindRegion, r.Name, "networks", "%s is already in region %q", n, other)
			}
			networks[n] = r.Name
		}
	}
	dcs := map[string]bool{}
	for i := range s.Datacenters {
		d := &s.Datacenters[i]
		if err := d.Validate(); err != nil {
			return err
		}
		if dcs[d.Name] {
			return invalid(KindDatacenter, d.Name, "", "defined twice")
		}
		if d.Region != "" && !regions[d.Region] {
			return invalid(KindDatacenter, d.Name, "region", "unknown region %q", d.Region)
		}
		dcs[d.Name] = true
	}
	services := map[string]string{} // name → type
	for i := range s.Services {
		svc := &s.Services[i]
		if err := svc.Validate(); err != nil {
			return err
		}
		if other, dup := services[svc.Name]; dup && (other == svc.Type || other == "CNAME" || svc.Type == "CNAME") {
			if other == svc.Type {
				return invalid(KindService, svc.Name, "", "%s service defined twice", svc.Type)
			}
			return invalid(KindService, svc.Name, "type", "a CNAME service cannot share its name with another service")
		}
		services[svc.Name] = svc.Type
		z := s.zoneOf(svc.Name)
		if z == nil {
			return invalid(KindService, svc.Name, "name", "not inside any served zone")
		}
		for _, typ := range owners[svc.Name] {
			if typ == svc.Type || typ == "CNAME" || svc.Type == "CNAME" {
				return invalid(KindService, svc.Name, "name", "a static %s record of the same name exists in zone %s", typ, z.Name)
			}
		}
		for _, e := range svc.Endpoints {
			if !dcs[e.Datacenter] {
				return invalid(KindService, svc.Name, "endpoints", "unknown data center %q", e.Datacenter)
			}
		}
		for _, st := range svc.Policy.Steps {
			for region, prefer := range st.Region {
				if !regions[region] {
					return invalid(KindService, svc.Name, "policy", "unknown region %q", region)
				}
				for _, dc := range prefer {
					if !dcs[dc] {
						return invalid(KindService, svc.Name, "policy", "region %q: unknown data center %q", region, dc)
					}
				}
			}
		}
	}
	hooks := map[string]bool{}
	for i := range s.Notify {
		w := &s.Notify[i]
		if err := w.Validate(); err != nil {
			return err
		}
		if hooks[w.Name] {
			return invalid(KindWebhook, w.Name, "", "defined twice")
		}
		hooks[w.Name] = true
	}
	return nil
}

// zoneOf returns the most specific zone that contains name.
func (s *State) zoneOf(name string) *Zone {
	var best *Zone
	for i := range s.Zones {
		z := &s.Zones[i]
		if InZone(name, z.Name) && (best == nil || len(z.Name) > len(best.Name)) {
			best = z
		}
	}
	return best
}

// Objects returns pointers to every object of the state, in Kinds order.
func (s *State) Objects() []Object {
	var out []Object
	for i := range s.Zones {
		out = append(out, &s.Zones[i])
	}
	for i := range s.Regions {
		out = append(out, &s.Regions[i])
	}
	for i := range s.Datacenters {
		out = append(out, &s.Datacenters[i])
	}
	for i := range s.Services {
		out = append(out, &s.Services[i])
	}
	for i := range s.Notify {
		out = append(out, &s.Notify[i])
	}
	return out
}

// Add appends obj to the slice of its kind.
func (s *State) Add(obj Object) error {
	switch o := obj.(type) {
	case *Zone:
		s.Zones = append(s.Zones, *o)
	case *Region:
		s.Regions = append(s.Regions, *o)
	case *Datacenter:
		s.Datacenters = append(s.Datacenters, *o)
	case *Service:
		s.Services = append(s.Services, *o)
	case *Webhook:
		s.Notify = append(s.Notify, *o)
	default:
		return fmt.Errorf("model: %s is not part of a desired state", obj.ObjectKind())
	}
	return nil
}

// StateKinds are the kinds a desired state holds and a reconciler manages.
var StateKinds = []Kind{KindZone, KindRegion, KindDatacenter, KindService, KindWebhook}
