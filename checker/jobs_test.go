package checker

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

func TestJobs(t *testing.T) {
	httpCheck := &model.Check{Type: "http", Path: "/health", ExpectStatus: []int{200}}
	services := []model.Service{
		{
			Name: "web.example.com.", Type: "AAAA", Check: httpCheck,
			Endpoints: []model.Endpoint{
				{Datacenter: "fra", Address: "2001:db8::2"},
				{Datacenter: "ams", Address: "2001:db8::1", CheckTarget: "10.0.0.1:8080"},
			},
		},
		{
			Name: "web.example.com.", Type: "A", Check: httpCheck,
			Endpoints: []model.Endpoint{
				{Datacenter: "fra", Address: "192.0.2.2"},
				{Datacenter: "ams", Address: "192.0.2.1"},
				{Datacenter: "ams", Address: "192.0.2.1"}, // listed twice
			},
		},
		{
			Name: "nocheck.example.com.", Type: "A",
			Endpoints: []model.Endpoint{{Datacenter: "fra", Address: "192.0.2.9"}},
		},
		{
			Name: "db.example.com.", Type: "A", Check: &model.Check{Type: "tcp"}, // no port
			Endpoints: []model.Endpoint{
				{Datacenter: "fra", Address: "192.0.2.5"},
				{Datacenter: "ams", Address: "192.0.2.6", CheckTarget: "10.0.0.6:5432"},
			},
		},
		{
			Name: "alias.example.com.", Type: "CNAME", Check: &model.Check{Type: "https"},
			Endpoints: []model.Endpoint{{Datacenter: "fra", Address: "lb.example.net."}},
		},
	}
	jobs, errs := Jobs(services)

	def := new(Defaults(*httpCheck))
	want := []model.Job{
		{Service: "alias.example.com./CNAME", Endpoint: "lb.example.net.", Datacenter: "fra", Target: "lb.example.net.:443", Check: new(Defaults(model.Check{Type: "https"}))},
		{Service: "db.example.com./A", Endpoint: "192.0.2.6", Datacenter: "ams", Target: "10.0.0.6:5432", Check: new(Defaults(model.Check{Type: "tcp"}))},
		{Service: "web.example.com./A", Endpoint: "192.0.2.1", Datacenter: "ams", Target: "192.0.2.1:80", Check: def},
		{Service: "web.example.com./A", Endpoint: "192.0.2.2", Datacenter: "fra", Target: "192.0.2.2:80", Check: def},
		{Service: "web.example.com./AAAA", Endpoint: "2001:db8::1", Datacenter: "ams", Target: "10.0.0.1:8080", Check: def},
		{Service: "web.example.com./AAAA", Endpoint: "2001:db8::2", Datacenter: "fra", Target: "[2001:db8::2]:80", Check: def},
	}
	if len(jobs) != len(want) {
		t.Fatalf("%d jobs %+v, want %d", len(jobs), jobs, len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(jobs[i], want[i]) {
			t.Errorf("job %d:\n got %+v\nwant %+v", i, jobs[i], want[i])
		}
	}
	if def.Interval.D() != DefaultInterval || def.Rise != DefaultRise || def.Port != 80 {
		t.Errorf("check without defaults: %+v", def)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v, want 2", errs)
	}
	for i, part := range []string{"service web.example.com./A, endpoint 192.0.2.1: listed twice", "service db.example.com./A, endpoint 192.0.2.5: check of type \"tcp\" needs a port"} {
		if !strings.Contains(errs[i].Error(), part) {
			t.Errorf("error %d %q, want it to contain %q", i, errs[i], part)
		}
	}
	// Jobs with the same check share one copy (both web services have
	// httpCheck), and it is not the service's.
	for i := 3; i < 6; i++ {
		if jobs[i].Check != jobs[2].Check {
			t.Errorf("job %d has its own copy of the check", i)
		}
	}
	if jobs[0].Check == jobs[1].Check {
		t.Error("different checks share a copy")
	}
	jobs[2].Check.ExpectStatus[0] = 500
	if httpCheck.ExpectStatus[0] != 200 {
		t.Error("jobs share ExpectStatus with the service")
	}

	if jobs, errs := Jobs(nil); len(jobs) != 0 || len(errs) != 0 {
		t.Errorf("Jobs(nil) = %v, %v", jobs, errs)
	}
}

func TestSameProbe(t *testing.T) {
	base := model.Job{Service: "s./A", Endpoint: "192.0.2.1", Datacenter: "fra", Target: "192.0.2.1:80", Check: &model.Check{Type: "http", ExpectStatus: []int{}}}
	same := base
	same.Check = new(Defaults(model.Check{Type: "http", Quorum: "any"})) // defaults and the quorum do not count
	same.Datacenter = "ams"
	if !sameProbe(base, same) {
		t.Error("defaulted check with another quorum and data center is not the same probe")
	}
	for _, change := range []func(*model.Job){
		func(j *model.Job) { j.Target = "192.0.2.1:81" },
		func(j *model.Job) { j.Check.Path = "/other" },
		func(j *model.Job) { j.Check.ExpectStatus = []int{204} },
		func(j *model.Job) { j.Check.Fall = 9 },
		func(j *model.Job) { j.Check.Interval = model.Duration(time.Minute) },
		func(j *model.Job) { j.Check.SkipVerify = true },
	} {
		j := base
		j.Check = new(*base.Check) // the change must not reach base's
		change(&j)
		if sameProbe(base, j) {
			t.Errorf("%+v counted as the same probe as %+v", j, base)
		}
	}
}
