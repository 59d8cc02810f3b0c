package dnsserver

import (
	"slices"

	"github.com/meridian-gslb/meridian/store/model"
)

// ServiceRoutes is where one service sends the clients of each region now.
type ServiceRoutes struct {
	Service string        `json:"service"` // the service's key, "app.example.com./A"
	Name    string        `json:"name"`
	Type    string        `json:"type"`
	Regions []RegionRoute `json:"regions"`
}

// RegionRoute is the data centers and endpoints a service answers the
// clients of one region with. Region "" stands for clients in no region
// and with no known location.
type RegionRoute struct {
	Region      string   `json:"region"`
	Datacenters []string `json:"datacenters"` // in the order of the endpoints
	Endpoints   []string `json:"endpoints"`
	// Fallback is "none" or "backup" when nothing is healthy and the
	// service's fallback answers no endpoint ("backup": its backup
	// addresses); empty otherwise.
	Fallback string `json:"fallback,omitempty"`
}

// picks reports whether a step picks among equal candidates per query
// (by weight, hash, load, rotation or count) rather than by where the
// client is or what is healthy.
func (k stepKind) picks() bool {
	switch k {
	case stepWeighted, stepSticky, stepLeastLoad, stepRoundRobin, stepFirst:
		return true
	}
	return false
}

// Routing says, for every service and region, which endpoints the
// service would answer that region's clients with now: the policy chain
// of the DNS path run for a client placed in the region, at the mean
// location of the region's data centers (no location when it has none),
// with health and overrides as served. Steps that pick among equals per
// query (weighted, sticky, leastload, roundrobin, first) and max_answers
// are left out, so the result is the set the query-time pick draws from,
// the same for every query. The last entry of each service, region "", is
// for clients in no region and with no known location.
func (s *Snapshot) Routing() []ServiceRoutes {
	out := make([]ServiceRoutes, 0, len(s.services))
	for _, svc := range s.services {
		sr := ServiceRoutes{Service: model.ServiceKey(svc.name, svc.typ), Name: svc.name, Type: svc.typ}
		for _, r := range s.regions {
			sr.Regions = append(sr.Regions, s.route(svc, r))
		}
		sr.Regions = append(sr.Regions, s.route(svc, nil))
		out = append(out, sr)
	}
	return out
}

func (s *Snapshot) route(svc *service, r *region) RegionRoute {
	q := &query{routing: true, clientDone: true, how: "region", located: true, regionDone: true, region: r}
	if r != nil {
		q.regionHow = "region"
		var n int
		var lat, lon float64
		for _, dc := range s.dcList {
			if dc.region == r {
				lat, lon, n = lat+dc.lat, lon+dc.lon, n+1
			}
		}
		if n > 0 {
			q.loc.Lat, q.loc.Lon, q.loc.HasCoords = lat/float64(n), lon/float64(n), true
		}
	}
	rr := RegionRoute{Datacenters: []string{}, Endpoints: []string{}}
	if r != nil {
		rr.Region = r.name
	}
	c, fb := s.decide(svc, q)
	switch fb {
	case fallbackNone:
		rr.Fallback = model.FallbackNone
	case fallbackBackup:
		rr.Fallback = model.FallbackBackup
	}
	for i := range c {
		ep := c[i].ep
		rr.Endpoints = append(rr.Endpoints, ep.address)
		if !slices.Contains(rr.Datacenters, ep.dc.name) {
			rr.Datacenters = append(rr.Datacenters, ep.dc.name)
		}
	}
	return rr
}
