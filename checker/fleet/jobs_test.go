package fleet

import (
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/storetest"
)

// TestJobs: the check list holds the endpoints of checked services only,
// with the check's defaults filled in.
func TestJobs(t *testing.T) {
	env := newTestEnv(t)
	jobs, err := env.e.Jobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 {
		t.Fatalf("jobs = %+v", jobs)
	}
	j := jobs[0]
	if j.Service != app || j.Endpoint != fra1 || j.Datacenter != "fra" || j.Target != fra1+":80" ||
		j.Check.Interval.D() != 10*time.Second || j.Check.Quorum != "majority" || j.Check.Fall != 3 {
		t.Errorf("first job = %+v", j)
	}
	if maxAge(j) != 30*time.Second {
		t.Errorf("votes live %s, want 30s", maxAge(j))
	}
}

// TestJobsReadOncePerServiceChange: reports, passes and check-list polls
// decode the services once, and again only after a service was written;
// the check list then has the change.
func TestJobsReadOncePerServiceChange(t *testing.T) {
	var cs *storetest.Counting
	env := newTestEnv(t, func(c *Config) {
		cs = &storetest.Counting{Store: c.Store}
		c.Store = cs
	})
	for i := range 5 {
		env.at(time.Duration(i) * time.Second)
		env.report("c1", false, up(fra1), up(fra2), up(iad1))
		env.evaluate()
		if _, err := env.e.Jobs(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := cs.Lists(model.KindService); n != 1 {
		t.Fatalf("services read %d times in 5 reports, passes and polls, want once", n)
	}
	st := testState(httpCheck())
	svc := st.Services[0]
	svc.Endpoints = append(svc.Endpoints, model.Endpoint{Datacenter: "iad", Address: "198.51.100.2", Weight: 1})
	if _, err := env.st.Update(t.Context(), func(tx store.Tx) error { return store.Put(tx, &svc, 0) }); err != nil {
		t.Fatal(err)
	}
	jobs, err := env.e.Jobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 4 || cs.Lists(model.KindService) != 2 {
		t.Fatalf("after a service change: %d jobs, services read %d times; want 4 and 2", len(jobs), cs.Lists(model.KindService))
	}
}
