package model

import (
	"time"
)

// Checker is a health checker of the fleet: the one embedded in every
// serve process, or a remote agent.
type Checker struct {
	Meta
	Name     string    `json:"name" yaml:"name"`
	Region   string    `json:"region,omitempty" yaml:"region,omitempty"`
	Location *Location `json:"location,omitempty" yaml:"location,omitempty"`
	LastSeen time.Time `json:"last_seen,omitempty" yaml:"-"`
	Isolated bool      `json:"isolated,omitempty" yaml:"-"`
}

func (c *Checker) ObjectKind() Kind   { return KindChecker }
func (c *Checker) ObjectName() string { return c.Name }

func (c *Checker) Validate() error {
	if !validIdent(c.Name) {
		return invalid(KindChecker, c.Name, "name", "use letters, digits, '-' and '_' (at most 63)")
	}
	if c.Location != nil && !c.Location.valid() {
		return invalid(KindChecker, c.Name, "location", "lat must be within ±90 and lon within ±180")
	}
	return nil
}

// Health is the state of an endpoint as seen by one checker or by the
// quorum. Unknown serves like Up, so a cold start never black-holes traffic.
type Health string

const (
	HealthUnknown Health = "unknown"
	HealthUp      Health = "up"
	HealthDown    Health = "down"
)

// Vote is one checker's opinion of one endpoint.
type Vote struct {
	Meta
	Checker  string        `json:"checker"`
	Service  string        `json:"service"`
	Endpoint string        `json:"endpoint"` // the endpoint's address
	Health   Health        `json:"health"`
	Latency  time.Duration `json:"latency_ns,omitempty"`
	Load     *float64      `json:"load,omitempty"`
	Error    string        `json:"error,omitempty"`
	At       time.Time     `json:"at"`
}

func (v *Vote) ObjectKind() Kind { return KindVote }

// ObjectName is unique per checker, service and endpoint.
func (v *Vote) ObjectName() string { return v.Checker + "|" + v.Service + "|" + v.Endpoint }

func (v *Vote) Validate() error {
	if v.Checker == "" || v.Service == "" || v.Endpoint == "" {
		return invalid(KindVote, v.ObjectName(), "", "checker, service and endpoint are required")
	}
	switch v.Health {
	case HealthUp, HealthDown, HealthUnknown:
	default:
		return invalid(KindVote, v.ObjectName(), "health", "%q is not up, down or unknown", v.Health)
	}
	if v.Load != nil && (*v.Load < 0 || *v.Load > 1) {
		return invalid(KindVote, v.ObjectName(), "load", "must be within 0-1")
	}
	return nil
}

// Verdict is the fleet's decision about one endpoint of one service: the
// quorum of the fresh votes. The health engine stores one per endpoint
// that has had votes; an endpoint without one is unknown (serves as up).
type Verdict struct {
	Meta
	Service    string    `json:"service"`  // the service's key, "app.example.com./A"
	Endpoint   string    `json:"endpoint"` // the endpoint's address
	Datacenter string    `json:"datacenter"`
	Health     Health    `json:"health"`
	Since      time.Time `json:"since"`            // when Health last changed
	Reason     string    `json:"reason,omitempty"` // the counts, the rule and the down votes' errors
	Load       *float64  `json:"load,omitempty"`   // mean load the fresh up votes reported
	Votes      []Vote    `json:"votes,omitempty"`  // the votes that were counted, without their Meta
}

func (v *Verdict) ObjectKind() Kind { return KindVerdict }

// ObjectName is VerdictName(service, endpoint).
func (v *Verdict) ObjectName() string { return VerdictName(v.Service, v.Endpoint) }

// VerdictName is the stored name of the verdict on one endpoint of a
// service (the service's key and the endpoint's address).
func VerdictName(service, endpoint string) string { return service + "|" + endpoint }

func (v *Verdict) Validate() error {
	if v.Service == "" || v.Endpoint == "" {
		return invalid(KindVerdict, v.ObjectName(), "", "service and endpoint are required")
	}
	switch v.Health {
	case HealthUp, HealthDown, HealthUnknown:
	default:
		return invalid(KindVerdict, v.ObjectName(), "health", "%q is not up, down or unknown", v.Health)
	}
	return nil
}

// Job is one entry of a checker's check list: probe this endpoint of this
// service with this check. The API serves the list to remote agents; the
// embedded checker builds the same list from the store.
type Job struct {
	Service    string `json:"service"`  // the service's key, "app.example.com./A"
	Endpoint   string `json:"endpoint"` // the endpoint's address, as votes name it
	Datacenter string `json:"datacenter"`
	Target     string `json:"target"` // host:port to probe (check_target, else address:port)
	// Check is the service's check with its defaults filled in. Jobs
	// with the same check share it (400,000 jobs of 100,000 services
	// would otherwise hold 400,000 copies): never modify it through a
	// job.
	Check *Check `json:"check"`
}

// CheckSpec is the job's check, the zero Check when it has none (a job
// decoded from a body without one).
func (j *Job) CheckSpec() Check {
	if j.Check == nil {
		return Check{}
	}
	return *j.Check
}

// JobKey identifies a job: its service and endpoint.
func (j Job) JobKey() string { return VerdictName(j.Service, j.Endpoint) }

// Report is one batch a checker sends: who it is, whether it believes
// itself cut off, and its current votes.
type Report struct {
	Checker  Checker `json:"checker"`
	Isolated bool    `json:"isolated,omitempty"`
	Votes    []Vote  `json:"votes"`
}
