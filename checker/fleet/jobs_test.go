package fleet

import (
	"testing"
	"time"
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
