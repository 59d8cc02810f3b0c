package fleet

import (
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/checker"
	"github.com/meridian-gslb/meridian/store"
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
	var iv time.Duration
	if j.Check != nil {
		iv = j.Check.Interval.D()
	}
	if iv <= 0 {
		iv = checker.DefaultInterval
	}
	return ExpiryIntervals * iv
}

// jobCache keeps the check list of the services as of one revision of
// the service kind (store.KindRevision), so that the engine's passes (four
// a second), each report and each agent's poll do not decode every
// service again when none changed: with 100,000 services that cost a
// whole core.
type jobCache struct {
	mu    sync.Mutex
	valid bool
	kind  int64 // the services' kind revision
	atRev int64 // the store revision it was read at
	jobs  []model.Job
	errs  []error
	stale time.Duration // staleAfter(jobs)
}

// jobsIn returns the check list of the services in tx, shared and not to
// be modified: from the cache when the services were not written since
// it was filled, else decoded and cached.
func (e *Engine) jobsIn(tx store.Tx) ([]model.Job, []error, error) {
	jobs, errs, _, err := e.jobsCached(tx)
	return jobs, errs, err
}

// jobsAndStale is jobsIn with staleAfter of the jobs, also cached.
func (e *Engine) jobsAndStale(tx store.Tx) ([]model.Job, time.Duration, error) {
	jobs, _, stale, err := e.jobsCached(tx)
	return jobs, stale, err
}

func (e *Engine) jobsCached(tx store.Tx) ([]model.Job, []error, time.Duration, error) {
	kind, known := store.KindRevision(tx, model.KindService)
	c := &e.jobCache
	if known {
		c.mu.Lock()
		// A store revision below the cache's is another store's history
		// (an etcd prefix rebuilt from scratch): read again.
		if c.valid && c.kind == kind && tx.Revision() >= c.atRev {
			jobs, errs, stale := c.jobs, c.errs, c.stale
			c.mu.Unlock()
			return jobs, errs, stale, nil
		}
		c.mu.Unlock()
	}
	services, err := store.List[model.Service](tx)
	if err != nil {
		return nil, nil, 0, err
	}
	jobs, errs := jobsOf(services)
	stale := staleAfter(jobs)
	if known {
		c.mu.Lock()
		c.valid, c.kind, c.atRev, c.jobs, c.errs, c.stale = true, kind, tx.Revision(), jobs, errs, stale
		c.mu.Unlock()
	}
	return jobs, errs, stale, nil
}
