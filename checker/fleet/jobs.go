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

// checkList is the check list of the services at one revision: the
// jobs, the endpoints left out, and staleAfter of the jobs.
type checkList struct {
	jobs  []model.Job
	errs  []error
	stale time.Duration
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
	list  checkList
}

// jobsIn returns the check list of the services in tx, shared and not to
// be modified: from the cache when the services were not written since
// it was filled, else decoded and cached.
func (e *Engine) jobsIn(tx store.Tx) (checkList, error) {
	kind, known := store.KindRevision(tx, model.KindService)
	c := &e.jobCache
	if known {
		c.mu.Lock()
		// A store revision below the cache's is another store's history
		// (an etcd prefix rebuilt from scratch): read again.
		if c.valid && c.kind == kind && tx.Revision() >= c.atRev {
			list := c.list
			c.mu.Unlock()
			return list, nil
		}
		c.mu.Unlock()
	}
	services, err := store.List[model.Service](tx)
	if err != nil {
		return checkList{}, err
	}
	var list checkList
	list.jobs, list.errs = jobsOf(services)
	list.stale = staleAfter(list.jobs)
	if known {
		c.mu.Lock()
		c.valid, c.kind, c.atRev, c.list = true, kind, tx.Revision(), list
		c.mu.Unlock()
	}
	return list, nil
}
