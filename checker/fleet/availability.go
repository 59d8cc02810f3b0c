package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// AvailabilityWindow is one period availability is reported over, ending
// now.
type AvailabilityWindow struct {
	Name   string
	Length time.Duration
}

// AvailabilityWindows are the periods of an AvailabilityReport.
var AvailabilityWindows = []AvailabilityWindow{
	{"24h", 24 * time.Hour},
	{"7d", 7 * 24 * time.Hour},
	{"30d", 30 * 24 * time.Hour},
}

// MaxNines is the "nines" of a window without downtime (and the most any
// window reports).
const MaxNines = 9

// Kinds of AvailabilityRow.
const (
	KindEndpoint   = "endpoint"
	KindDatacenter = "datacenter"
	KindService    = "service"
)

// AvailabilityReport is the availability of every checked endpoint, data
// center and service over each window.
type AvailabilityReport struct {
	GeneratedAt time.Time         `json:"generated_at"`
	Windows     []string          `json:"windows"` // names, shortest first: 24h, 7d, 30d
	Endpoints   []AvailabilityRow `json:"endpoints"`
	Datacenters []AvailabilityRow `json:"datacenters"`
	Services    []AvailabilityRow `json:"services"`
}

// AvailabilityRow is one endpoint, data center or service. An endpoint's
// Name is its address, with its Service and Datacenter; a data center's
// and a service's Name is their own (a service's key, "app.example.com./A").
type AvailabilityRow struct {
	Kind       string            `json:"kind"` // endpoint, datacenter or service
	Name       string            `json:"name"`
	Service    string            `json:"service,omitempty"`
	Datacenter string            `json:"datacenter,omitempty"`
	Windows    map[string]Window `json:"windows"` // by window name
}

// Window is the availability of one row over one window.
type Window struct {
	Availability    float64 `json:"availability"` // fraction of the window up, 0-1
	Percent         float64 `json:"percent"`
	DowntimeSeconds float64 `json:"downtime_seconds"`
	DowntimeMinutes float64 `json:"downtime_minutes"`
	// Nines is -log10(1 - availability): 2 for 99 %, 3 for 99.9 %;
	// MaxNines without downtime.
	Nines float64 `json:"nines"`
}

// span is a half-open period [from, to) in Unix nanoseconds.
type span struct{ from, to int64 }

// downSpans are the periods an endpoint was down according to its
// verdict events (sorted by time): from each event to down until the next
// event to anything else; one still open ends at now. Events after now
// are ignored.
func downSpans(events []model.Event, now int64) []span {
	var out []span
	down := false
	var start int64
	for _, ev := range events {
		at := ev.At.UnixNano()
		if at > now {
			break
		}
		isDown := ev.After == string(model.HealthDown)
		switch {
		case isDown && !down:
			down, start = true, at
		case !isDown && down:
			down = false
			if at > start {
				out = append(out, span{start, at})
			}
		}
	}
	if down && now > start {
		out = append(out, span{start, now})
	}
	return out
}

// intersect returns the periods in both a and b (each sorted, disjoint).
func intersect(a, b []span) []span {
	var out []span
	for i, j := 0, 0; i < len(a) && j < len(b); {
		from, to := max(a[i].from, b[j].from), min(a[i].to, b[j].to)
		if from < to {
			out = append(out, span{from, to})
		}
		if a[i].to < b[j].to {
			i++
		} else {
			j++
		}
	}
	return out
}

// allDown is the periods during which every list is down.
func allDown(lists [][]span) []span {
	if len(lists) == 0 {
		return nil
	}
	out := lists[0]
	for _, l := range lists[1:] {
		out = intersect(out, l)
	}
	return out
}

// windows measures spans over every window ending at now.
func windows(spans []span, now int64) map[string]Window {
	out := make(map[string]Window, len(AvailabilityWindows))
	for _, w := range AvailabilityWindows {
		start := now - int64(w.Length)
		var down int64
		for _, s := range spans {
			if from, to := max(s.from, start), min(s.to, now); from < to {
				down += to - from
			}
		}
		out[w.Name] = measure(time.Duration(down), w.Length)
	}
	return out
}

// measure is the Window of down time within length. Fractions are
// computed from whole numbers of nanoseconds so that round figures come
// out exact: 36 minutes of 24 hours is 0.975.
func measure(down, length time.Duration) Window {
	d, l := float64(down), float64(length)
	w := Window{
		Availability:    (l - d) / l,
		Percent:         (l - d) * 100 / l,
		DowntimeSeconds: down.Seconds(),
		DowntimeMinutes: down.Minutes(),
		Nines:           MaxNines,
	}
	if down > 0 {
		w.Nines = min(MaxNines, math.Max(0, -math.Log10(d/l)))
	}
	return w
}

// endpointRef is one endpoint of a service with a check.
type endpointRef struct {
	service, address, datacenter string
}

// checkedEndpoints lists the endpoints of services with a check, each
// (service, address) once, in service and endpoint order.
func checkedEndpoints(services []model.Service) []endpointRef {
	var out []endpointRef
	seen := map[string]bool{}
	for i := range services {
		svc := &services[i]
		if svc.Check == nil {
			continue
		}
		for _, ep := range svc.Endpoints {
			key := model.VerdictName(svc.ObjectName(), ep.Address)
			if !seen[key] {
				seen[key] = true
				out = append(out, endpointRef{svc.ObjectName(), ep.Address, ep.Datacenter})
			}
		}
	}
	return out
}

// ComputeAvailability is the availability of the endpoints of services
// with a check, their data centers and the services, over every window
// ending at now, from the verdict events among events (Type "verdict",
// Object EndpointObject(service, address)).
//
// An endpoint is down from an event with After "down" until its next
// verdict event with another After, or until now; before its first event
// it is up. A data center is down while every checked endpoint in it is
// down, a service while every one of its endpoints is. Other events, and
// events of endpoints not in services, are ignored.
func ComputeAvailability(events []model.Event, services []model.Service, now time.Time) *AvailabilityReport {
	rep := &AvailabilityReport{GeneratedAt: now.UTC(), Endpoints: []AvailabilityRow{}, Datacenters: []AvailabilityRow{}, Services: []AvailabilityRow{}}
	for _, w := range AvailabilityWindows {
		rep.Windows = append(rep.Windows, w.Name)
	}
	eps := checkedEndpoints(services)
	byObject := map[string][]model.Event{}
	for _, ep := range eps {
		byObject[EndpointObject(ep.service, ep.address)] = nil
	}
	for _, ev := range events {
		if ev.Type != "verdict" {
			continue
		}
		if l, ok := byObject[ev.Object]; ok {
			byObject[ev.Object] = append(l, ev)
		}
	}
	end := now.UnixNano()
	byDC, bySvc := map[string][][]span{}, map[string][][]span{}
	for _, ep := range eps {
		evs := byObject[EndpointObject(ep.service, ep.address)]
		slices.SortStableFunc(evs, func(a, b model.Event) int {
			return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Seq, b.Seq))
		})
		spans := downSpans(evs, end)
		byDC[ep.datacenter] = append(byDC[ep.datacenter], spans)
		bySvc[ep.service] = append(bySvc[ep.service], spans)
		rep.Endpoints = append(rep.Endpoints, AvailabilityRow{
			Kind: KindEndpoint, Name: ep.address, Service: ep.service, Datacenter: ep.datacenter,
			Windows: windows(spans, end),
		})
	}
	slices.SortFunc(rep.Endpoints, func(a, b AvailabilityRow) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Name, b.Name))
	})
	for _, name := range sortedKeys(byDC) {
		rep.Datacenters = append(rep.Datacenters, AvailabilityRow{Kind: KindDatacenter, Name: name, Windows: windows(allDown(byDC[name]), end)})
	}
	for _, name := range sortedKeys(bySvc) {
		rep.Services = append(rep.Services, AvailabilityRow{Kind: KindService, Name: name, Windows: windows(allDown(bySvc[name]), end)})
	}
	return rep
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// availCache holds the verdict events read so far: each call reads only
// what was appended since, and drops what no window can need any more
// (trimVerdicts), so the cache does not grow with the process's age.
type availCache struct {
	lastSeq int64
	events  []model.Event
}

// Availability computes the report from the store's services and event
// log at Now().
func (e *Engine) Availability(ctx context.Context) (*AvailabilityReport, error) {
	e.availMu.Lock()
	defer e.availMu.Unlock()
	var services []model.Service
	var fresh []model.Event
	last := e.avail.lastSeq
	err := e.st.View(ctx, func(tx store.Tx) error {
		var err error
		if services, err = store.List[model.Service](tx); err != nil {
			return err
		}
		fresh, last = fresh[:0], e.avail.lastSeq
		after := ""
		if last > 0 {
			after = model.EventName(last)
		}
		return tx.List(model.KindEvent, after, 0, func(name string, b []byte) error {
			var ev model.Event
			if err := json.Unmarshal(b, &ev); err != nil {
				return fmt.Errorf("fleet: decoding event %s: %w", name, err)
			}
			last = max(last, ev.Seq)
			if ev.Type == "verdict" {
				ev.Meta, ev.Detail = model.Meta{}, "" // keep the cache small
				fresh = append(fresh, ev)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	now := e.now()
	e.avail.events = trimVerdicts(append(e.avail.events, fresh...), now.Add(-availHorizon))
	e.avail.lastSeq = last
	return ComputeAvailability(e.avail.events, services, now), nil
}

// availHorizon is how far back verdict events are kept in memory: the
// longest window and a day of margin.
const availHorizon = 31 * 24 * time.Hour

// trimVerdicts drops, in place, the verdict events before horizon except
// each endpoint's latest one (by time, then sequence), which gives its
// state when the windows start; the order of what stays is kept.
func trimVerdicts(events []model.Event, horizon time.Time) []model.Event {
	latest := map[string]int{} // object -> index of its latest event before horizon
	for i, ev := range events {
		if !ev.At.Before(horizon) {
			continue
		}
		j, ok := latest[ev.Object]
		if !ok || ev.At.After(events[j].At) || ev.At.Equal(events[j].At) && ev.Seq > events[j].Seq {
			latest[ev.Object] = i
		}
	}
	if len(latest) == 0 {
		return events
	}
	out := events[:0]
	for i, ev := range events {
		if !ev.At.Before(horizon) || latest[ev.Object] == i {
			out = append(out, ev)
		}
	}
	clear(events[len(out):]) // let the dropped events' strings go
	return out
}
