package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/checker"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// Change is a verdict change that Evaluate stored: the endpoint, its
// health before and after, why, and the votes that were counted.
type Change struct {
	Service    string       `json:"service"` // the service's key, "app.example.com./A"
	Endpoint   string       `json:"endpoint"`
	Datacenter string       `json:"datacenter"`
	Before     model.Health `json:"before"`
	After      model.Health `json:"after"`
	Reason     string       `json:"reason"`
	Votes      []model.Vote `json:"votes"`
	At         time.Time    `json:"at"`
}

// EndpointObject is the event Object of an endpoint's verdict events:
// "endpoint/app.example.com./A/192.0.2.1".
func EndpointObject(service, endpoint string) string {
	return "endpoint/" + service + "/" + endpoint
}

// endpointKey identifies a job's endpoint (service key and address)
// without building its verdict name: a pass looks up every job's votes
// and verdict, and with 100,000 services that is 400,000 names a pass.
type endpointKey struct{ service, endpoint string }

// evalKinds are the kinds a pass reads; when none of them was written
// since the last full pass, only the clock can change a verdict.
var evalKinds = [...]model.Kind{model.KindService, model.KindChecker, model.KindVote, model.KindVerdict}

// revisions are the kind revisions of evalKinds in one view, and that
// view's store revision.
type revisions struct {
	known bool // the backend records kind revisions
	kinds [len(evalKinds)]int64
	store int64
}

func revisionsOf(tx store.Tx) revisions {
	r := revisions{known: true, store: tx.Revision()}
	for i, k := range evalKinds {
		rev, ok := store.KindRevision(tx, k)
		r.known = r.known && ok
		r.kinds[i] = rev
	}
	return r
}

// inputs is what one evaluation reads, in one consistent view.
type inputs struct {
	revs     revisions
	jobs     []model.Job
	stale    time.Duration // staleAfter(jobs)
	checkers map[string]model.Checker
	votes    map[endpointKey][]model.Vote // of known checkers
	nvotes   int                          // how many votes holds
	orphans  []string                     // names of votes no checker owns
	verdicts map[endpointKey]model.Verdict
	hooks    []model.Webhook
}

func (e *Engine) read(ctx context.Context) (*inputs, error) {
	in := &inputs{checkers: map[string]model.Checker{}, votes: map[endpointKey][]model.Vote{}, verdicts: map[endpointKey]model.Verdict{}}
	err := e.st.View(ctx, func(tx store.Tx) error {
		in.revs = revisionsOf(tx)
		list, err := e.jobsIn(tx)
		if err != nil {
			return err
		}
		in.jobs, in.stale = list.jobs, list.stale
		checkers, err := store.List[model.Checker](tx)
		if err != nil {
			return err
		}
		for _, c := range checkers {
			in.checkers[c.Name] = c
		}
		votes, err := store.List[model.Vote](tx)
		if err != nil {
			return err
		}
		for _, v := range votes {
			if _, ok := in.checkers[v.Checker]; !ok {
				in.orphans = append(in.orphans, v.ObjectName())
				continue
			}
			key := endpointKey{v.Service, v.Endpoint}
			in.votes[key] = append(in.votes[key], v)
			in.nvotes++
		}
		verdicts, err := store.List[model.Verdict](tx)
		if err != nil {
			return err
		}
		for _, v := range verdicts {
			in.verdicts[endpointKey{v.Service, v.Endpoint}] = v
		}
		in.hooks, err = store.List[model.Webhook](tx)
		return err
	})
	return in, err
}

// unowned returns, after a pass over in.jobs that consumed votes and
// matched verdicts of them, the names of the votes and the verdicts
// whose endpoint is no job (it is gone, or lost its check). The set of
// job keys is built only when the counts say some exist, after a
// change of the services: not at every pass.
func unowned(in *inputs, votes, verdicts int) (orphans []string, gone []model.Verdict) {
	if votes == in.nvotes && verdicts == len(in.verdicts) {
		return nil, nil
	}
	isJob := make(map[endpointKey]bool, len(in.jobs))
	for i := range in.jobs {
		isJob[endpointKey{in.jobs[i].Service, in.jobs[i].Endpoint}] = true
	}
	for key, vs := range in.votes {
		if !isJob[key] {
			for i := range vs {
				orphans = append(orphans, vs[i].ObjectName())
			}
		}
	}
	for key, v := range in.verdicts {
		if !isJob[key] {
			gone = append(gone, v)
		}
	}
	slices.Sort(orphans)
	slices.SortFunc(gone, func(a, b model.Verdict) int { return strings.Compare(a.ObjectName(), b.ObjectName()) })
	return orphans, gone
}

// passMemo is what the last full pass saw (under evalMu): the revisions
// it read and the last instant before the clock alone changes a
// decision (a fresh vote goes stale, a deferred refresh falls due).
// Until then, a pass whose kinds were not written has nothing to do.
type passMemo struct {
	valid    bool
	revs     revisions
	at, due  time.Time
	checkers map[string]model.Checker // for the gauges of skipped passes
	stale    time.Duration
}

// fullPassEvery bounds how long passes are skipped: a safety net for
// what the revisions and deadlines do not see, such as a clock stepped
// back.
const fullPassEvery = UpdateEvery

// unchanged reports whether a pass at now can be skipped: the backend
// records kind revisions, none of evalKinds was written since the last
// full pass, no deadline passed, and that pass is recent.
func (e *Engine) unchanged(ctx context.Context, now time.Time) bool {
	m := &e.memo
	if !m.valid || now.Before(m.at) || now.After(m.due) || now.Sub(m.at) >= fullPassEvery {
		return false
	}
	var revs revisions
	if err := e.st.View(ctx, func(tx store.Tx) error { revs = revisionsOf(tx); return nil }); err != nil {
		return false
	}
	return revs.known && revs.kinds == m.revs.kinds && revs.store >= m.revs.store
}

// outcome is what one evaluation decided for one endpoint.
type outcome struct {
	verdict *model.Verdict // to store
	before  model.Health   // the stored health it replaces (unknown when none)
	change  bool           // a health change (with an event), not a refresh
}

// Evaluate is one pass of the engine: for every job it counts the fresh
// votes with the check's quorum (checker.Verdict) and stores the verdicts
// whose health changed, each with a "verdict" event, in one transaction.
// A verdict whose health is unchanged is refreshed (load, votes, reason)
// without an event when its load moved by LoadStep or its counted votes
// changed, at most every UpdateEvery. Verdicts and votes of endpoints that
// are gone, or lost their check, are deleted. It returns the changes it
// stored and queues their webhook deliveries (for Run to send).
//
// A vote is fresh while its checker has reported within ExpiryIntervals
// of the check's intervals (votes of a silent checker expire together),
// and while the vote itself was recorded within that time plus
// VoteRefresh (so a vote its checker stopped sending expires too). The
// votes of a checker that reports itself isolated count as unknown.
//
// Each change is re-checked against the stored verdict inside the write
// transaction, so that engines of several nodes sharing one store record
// a change once.
func (e *Engine) Evaluate(ctx context.Context) ([]Change, error) {
	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	now := e.now().UTC()
	if e.unchanged(ctx, now) {
		e.observeCheckers(e.memo.checkers, e.memo.stale, now)
		return nil, nil
	}
	in, err := e.read(ctx)
	if err != nil {
		return nil, err
	}
	var plan []outcome
	due := now.Add(fullPassEvery)
	votes, verdicts := 0, 0 // consumed by jobs
	for i := range in.jobs {
		j := &in.jobs[i]
		key := endpointKey{j.Service, j.Endpoint}
		votes += len(in.votes[key])
		if _, ok := in.verdicts[key]; ok {
			verdicts++
		}
		if o, ok := e.decide(j, key, in, now, &due); ok {
			plan = append(plan, o)
		}
	}
	orphans, gone := unowned(in, votes, verdicts)
	orphans = append(in.orphans, orphans...)
	wrote := len(plan) > 0 || len(gone) > 0 || len(orphans) > 0

	var changes []Change
	if wrote {
		var written []endpointKey
		_, err = e.st.Update(ctx, func(tx store.Tx) error {
			changes, written = changes[:0], written[:0]
			for _, o := range plan {
				ok, err := stillBefore(tx, o)
				if err != nil {
					return err
				}
				if !ok {
					continue // another engine got there first
				}
				v := *o.verdict
				if err := store.Put(tx, &v, 0); err != nil {
					return err
				}
				written = append(written, endpointKey{v.Service, v.Endpoint})
				if !o.change {
					continue
				}
				c := Change{Service: v.Service, Endpoint: v.Endpoint, Datacenter: v.Datacenter,
					Before: o.before, After: v.Health, Reason: v.Reason, Votes: v.Votes, At: now}
				if err := store.AppendEvent(tx, verdictEvent(c)); err != nil {
					return err
				}
				changes = append(changes, c)
			}
			for _, v := range gone {
				if err := removeVerdict(tx, v, now); err != nil {
					return err
				}
			}
			for _, name := range orphans {
				if err := tx.Delete(model.KindVote, name); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, key := range written {
			e.lastWrite[key] = now
		}
		for _, v := range gone {
			delete(e.lastWrite, endpointKey{v.Service, v.Endpoint})
		}
	}
	for _, c := range changes {
		e.metrics.changes.WithLabelValues(string(c.After)).Inc()
		if c.Before == model.HealthUnknown && c.After == model.HealthUp {
			continue // a cold start is not news
		}
		for _, h := range in.hooks {
			e.enqueue(h, c)
		}
	}
	// What this pass wrote moves the verdict revision: the next pass is
	// a full one, and finds nothing more to do.
	e.memo = passMemo{valid: in.revs.known, revs: in.revs, at: now, due: due, checkers: in.checkers, stale: in.stale}
	e.observeCheckers(in.checkers, in.stale, now)
	return changes, nil
}

// decide computes the verdict of job j and whether it must be written.
// It lowers *due to the last instant at which the clock alone leaves its
// decision as it is: before a fresh vote goes stale, or a refresh
// deferred by UpdateEvery falls due.
func (e *Engine) decide(j *model.Job, key endpointKey, in *inputs, now time.Time, due *time.Time) (outcome, bool) {
	age := maxAge(*j)
	var ballots, counted []model.Vote
	for _, v := range in.votes[key] {
		c := in.checkers[v.Checker]
		b := v
		b.Meta = model.Meta{}
		// The checker's last report dates the vote: a checker that keeps
		// reporting keeps its votes fresh, one that falls silent loses
		// them all at once. A vote not rewritten for VoteRefresh is one
		// its checker no longer sends; it ages from then.
		b.At = c.LastSeen
		if until := v.At.Add(VoteRefresh); until.Before(b.At) {
			b.At = until
		}
		if c.Isolated {
			b.Health = model.HealthUnknown
		}
		ballots = append(ballots, b)
		if now.Sub(b.At) > age {
			continue
		}
		if stale := b.At.Add(age); stale.Before(*due) {
			*due = stale
		}
		if b.Health == model.HealthUp || b.Health == model.HealthDown {
			cv := v
			cv.Meta = model.Meta{}
			counted = append(counted, cv)
		}
	}
	slices.SortFunc(counted, func(a, b model.Vote) int { return strings.Compare(a.Checker, b.Checker) })
	health, reason := checker.Verdict(ballots, string(j.CheckSpec().Quorum), now, age)

	old, had := in.verdicts[key]
	before := model.HealthUnknown
	if had {
		before = old.Health
	}
	// The verdict is built only to be written: a pass over 400,000
	// endpoints that changes nothing must not allocate 400,000 of them.
	next := func() *model.Verdict {
		return &model.Verdict{
			Meta:    model.Meta{ManagedBy: Actor},
			Service: j.Service, Endpoint: j.Endpoint, Datacenter: j.Datacenter,
			Health: health, Since: now, Reason: reason, Load: meanLoad(counted), Votes: counted,
		}
	}
	if health != before {
		return outcome{verdict: next(), before: before, change: true}, true
	}
	if !had || !material(&old, j.Datacenter, meanLoad(counted), counted) {
		return outcome{}, false
	}
	if last := e.lastWrite[key]; now.Sub(last) < UpdateEvery {
		if at := last.Add(UpdateEvery - 1); at.Before(*due) {
			*due = at
		}
		return outcome{}, false
	}
	v := next()
	v.Since = old.Since
	return outcome{verdict: v, before: before}, true
}

// stillBefore reports whether the stored verdict of o is still the one o
// was decided against (its health; absent is unknown): another engine
// sharing the store may have written it since.
func stillBefore(tx store.Tx, o outcome) (bool, error) {
	cur, err := store.Get[model.Verdict](tx, o.verdict.ObjectName())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return o.before == model.HealthUnknown && o.change, nil
	case err != nil:
		return false, err
	}
	return cur.Health == o.before, nil
}

// removeVerdict deletes the verdict of an endpoint that is gone or lost
// its check. A down one leaves a verdict event to unknown, so that
// availability does not count the endpoint as down from then on.
func removeVerdict(tx store.Tx, v model.Verdict, now time.Time) error {
	if err := tx.Delete(model.KindVerdict, v.ObjectName()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if v.Health != model.HealthDown {
		return nil
	}
	return store.AppendEvent(tx, &model.Event{
		At: now, Type: "verdict", Object: EndpointObject(v.Service, v.Endpoint), Actor: Actor,
		Before: string(v.Health), After: string(model.HealthUnknown),
		Detail: "the endpoint, or its service's check, was removed",
	})
}

func verdictEvent(c Change) *model.Event {
	return &model.Event{
		At: c.At, Type: "verdict", Object: EndpointObject(c.Service, c.Endpoint), Actor: Actor,
		Before: string(c.Before), After: string(c.After),
		Detail: fmt.Sprintf("%s (data center %s)", c.Reason, c.Datacenter),
	}
}

// meanLoad is the mean load the up votes reported, nil when none did.
func meanLoad(votes []model.Vote) *float64 {
	var sum float64
	n := 0
	for _, v := range votes {
		if v.Health == model.HealthUp && v.Load != nil {
			sum += *v.Load
			n++
		}
	}
	if n == 0 {
		return nil
	}
	m := sum / float64(n)
	return &m
}

// material reports whether a verdict of data center dc, mean load and
// counted votes differs from the stored verdict enough to be written
// although its health is the same: the load moved by LoadStep (or
// appeared or vanished), the counted votes differ in checker, health or
// error, or the data center changed.
func material(old *model.Verdict, dc string, load *float64, votes []model.Vote) bool {
	switch {
	case (old.Load == nil) != (load == nil):
		return true
	case old.Load != nil && math.Abs(*old.Load-*load) >= LoadStep-1e-9:
		return true
	case old.Datacenter != dc || len(old.Votes) != len(votes):
		return true
	}
	for i := range old.Votes {
		a, b := old.Votes[i], votes[i]
		if a.Checker != b.Checker || a.Health != b.Health || a.Error != b.Error {
			return true
		}
	}
	return false
}
