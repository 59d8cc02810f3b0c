package checker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/store/model"
)

// Jobs is the check list for services: one job per endpoint of every
// service that has a check, with the service's key, the endpoint's address
// and data center, its target (Target) and the check with its defaults
// (Defaults). The list is sorted by service, then endpoint. An endpoint
// whose target cannot be built (a tcp check without a port, a malformed
// check_target), or that repeats an address already listed for its
// service, is left out and reported in the errors, which name the service
// and the endpoint. Jobs whose checks are the same share one Check.
func Jobs(services []model.Service) ([]model.Job, []error) {
	n := 0
	for i := range services {
		if services[i].Check != nil {
			n += len(services[i].Endpoints)
		}
	}
	// Sized once: appending would leave up to a quarter of a 400,000-job
	// list as spare capacity for as long as the list is kept.
	jobs := make([]model.Job, 0, n)
	var errs []error
	checks := map[string]*model.Check{} // by their JSON: shared by the jobs that have them
	// Data center names and check targets repeat across services; each
	// decoded copy would stay alive as long as the list does.
	strs := map[string]string{}
	intern := func(s string) string {
		if v, ok := strs[s]; ok {
			return v
		}
		strs[s] = s
		return s
	}
	for i := range services {
		svc := &services[i]
		if svc.Check == nil {
			continue
		}
		key := svc.ObjectName()
		check := Defaults(*svc.Check)
		check.ExpectStatus = slices.Clone(check.ExpectStatus) // shared with no service
		ck := checkKey(&check)
		shared := checks[ck]
		if shared == nil {
			shared = &check
			checks[ck] = shared
		}
		seen := make(map[string]bool, len(svc.Endpoints))
		for _, ep := range svc.Endpoints {
			if seen[ep.Address] {
				errs = append(errs, fmt.Errorf("service %s, endpoint %s: listed twice; checked once", key, ep.Address))
				continue
			}
			target, err := Target(ep, *shared)
			if err != nil {
				errs = append(errs, fmt.Errorf("service %s, endpoint %s: %w", key, ep.Address, err))
				continue
			}
			seen[ep.Address] = true
			jobs = append(jobs, model.Job{
				Service:    key,
				Endpoint:   ep.Address,
				Datacenter: intern(ep.Datacenter),
				Target:     intern(target),
				Check:      shared,
			})
		}
	}
	slices.SortStableFunc(jobs, compareJobs)
	return jobs, errs
}

// checkKey identifies a check by its content: its JSON, which has every
// field (a Check always encodes).
func checkKey(c *model.Check) string {
	b, _ := json.Marshal(c)
	return string(b)
}

// compareJobs orders jobs by service, then endpoint.
func compareJobs(a, b model.Job) int {
	return cmp.Or(strings.Compare(a.Service, b.Service), strings.Compare(a.Endpoint, b.Endpoint))
}
