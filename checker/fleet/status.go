package fleet

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Data center states of a Status.
const (
	StatusUp       = "up"       // no checked endpoint is down
	StatusDegraded = "degraded" // some are down, some are up
	StatusDown     = "down"     // at least one is down and none is up
)

// Status is the health overview: every data center with the verdicts of
// its checked endpoints, and every checker.
type Status struct {
	GeneratedAt time.Time          `json:"generated_at"`
	Datacenters []DatacenterStatus `json:"datacenters"`
	Checkers    []CheckerStatus    `json:"checkers"`
}

// DatacenterStatus is one data center: its state, the number of its
// checked endpoints up, down and unknown (no verdict yet, or no fresh
// votes), and those endpoints.
type DatacenterStatus struct {
	Name      string           `json:"name"`
	Region    string           `json:"region,omitempty"`
	Status    string           `json:"status"` // up, degraded or down
	Up        int              `json:"up"`
	Down      int              `json:"down"`
	Unknown   int              `json:"unknown"`
	Endpoints []EndpointStatus `json:"endpoints"`
}

// EndpointStatus is the verdict on one endpoint of one service.
type EndpointStatus struct {
	Service  string       `json:"service"`
	Endpoint string       `json:"endpoint"`
	Health   model.Health `json:"health"`
	Since    time.Time    `json:"since,omitzero"` // zero without a verdict
	Reason   string       `json:"reason,omitempty"`
}

// CheckerStatus is one checker as the engine sees it now.
type CheckerStatus struct {
	Name       string          `json:"name"`
	Region     string          `json:"region,omitempty"`
	Location   *model.Location `json:"location,omitempty"`
	LastSeen   time.Time       `json:"last_seen,omitzero"`
	AgeSeconds float64         `json:"age_seconds"`
	State      string          `json:"state"` // fresh, stale or isolated
}

// Status reads the data centers, services, verdicts and checkers in one
// view and summarizes them at Now().
func (e *Engine) Status(ctx context.Context) (*Status, error) {
	var (
		dcs      []model.Datacenter
		services []model.Service
		verdicts []model.Verdict
		checkers []model.Checker
	)
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		if dcs, err = store.List[model.Datacenter](tx); err != nil {
			return err
		}
		if services, err = store.List[model.Service](tx); err != nil {
			return err
		}
		if verdicts, err = store.List[model.Verdict](tx); err != nil {
			return err
		}
		checkers, err = store.List[model.Checker](tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	now := e.now().UTC()
	st := &Status{GeneratedAt: now, Datacenters: []DatacenterStatus{}, Checkers: []CheckerStatus{}}

	byName := map[string]model.Verdict{}
	for _, v := range verdicts {
		byName[v.ObjectName()] = v
	}
	index := map[string]int{}
	add := func(name, region string) *DatacenterStatus {
		if i, ok := index[name]; ok {
			return &st.Datacenters[i]
		}
		index[name] = len(st.Datacenters)
		st.Datacenters = append(st.Datacenters, DatacenterStatus{Name: name, Region: region, Endpoints: []EndpointStatus{}})
		return &st.Datacenters[len(st.Datacenters)-1]
	}
	for _, d := range dcs {
		add(d.Name, d.Region)
	}
	for _, ep := range checkedEndpoints(services) {
		d := add(ep.datacenter, "")
		es := EndpointStatus{Service: ep.service, Endpoint: ep.address, Health: model.HealthUnknown}
		if v, ok := byName[model.VerdictName(ep.service, ep.address)]; ok {
			es.Health, es.Since, es.Reason = v.Health, v.Since, v.Reason
		}
		switch es.Health {
		case model.HealthUp:
			d.Up++
		case model.HealthDown:
			d.Down++
		default:
			d.Unknown++
		}
		d.Endpoints = append(d.Endpoints, es)
	}
	for i := range st.Datacenters {
		d := &st.Datacenters[i]
		switch {
		case d.Down == 0:
			d.Status = StatusUp
		case d.Up == 0:
			d.Status = StatusDown
		default:
			d.Status = StatusDegraded
		}
		slices.SortFunc(d.Endpoints, func(a, b EndpointStatus) int {
			return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Endpoint, b.Endpoint))
		})
	}
	slices.SortFunc(st.Datacenters, func(a, b DatacenterStatus) int { return cmp.Compare(a.Name, b.Name) })

	jobs, _ := jobsOf(services)
	stale := staleAfter(jobs)
	for _, c := range checkers {
		st.Checkers = append(st.Checkers, CheckerStatus{
			Name: c.Name, Region: c.Region, Location: c.Location, LastSeen: c.LastSeen,
			AgeSeconds: max(0, now.Sub(c.LastSeen).Seconds()), State: checkerState(c, now, stale),
		})
	}
	return st, nil
}
