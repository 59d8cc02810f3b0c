package fleet

import (
	"time"

	"github.com/meridian-gslb/meridian/checker"
	"github.com/meridian-gslb/meridian/store/model"
)

// jobsOf is the check list of services (checker.Jobs): one job per
// endpoint of each service with a check, its defaults filled in, sorted
// by service and endpoint. Endpoints without a target to probe are left
// out, with an error each. The engine judges exactly the endpoints the
// checkers are asked to probe.
func jobsOf(services []model.Service) ([]model.Job, []error) {
	return checker.Jobs(services)
}

// maxAge is how long a job's votes stay fresh after their checker's last
// report.
func maxAge(j model.Job) time.Duration {
	iv := j.Check.Interval.D()
	if iv <= 0 {
		iv = checker.DefaultInterval
	}
	return ExpiryIntervals * iv
}
