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

// inputs is what one evaluation reads, in one consistent view.
type inputs struct {
	jobs     []model.Job
	checkers map[string]model.Checker
	votes    map[string][]model.Vote // by job key (service|endpoint)
	orphans  []string                // names of votes no job or checker owns
	verdicts map[string]model.Verdict
	hooks    []model.Webhook
}

func (e *Engine) read(ctx context.Context) (*inputs, error) {
	in := &inputs{checkers: map[string]model.Checker{}, votes: map[string][]model.Vote{}, verdicts: map[string]model.Verdict{}}
	err := e.st.View(ctx, func(tx store.Tx) error {
		jobs, _, err := e.jobsIn(tx)
		if err != nil {
			return err
		}
		in.jobs = jobs
		isJob := make(map[string]bool, len(in.jobs))
		for _, j := range in.jobs {
			isJob[j.JobKey()] = true
		}
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
			key := model.VerdictName(v.Service, v.Endpoint)
			if _, ok := in.checkers[v.Checker]; !ok || !isJob[key] {
				in.orphans = append(in.orphans, v.ObjectName())
				continue
			}
			in.votes[key] = append(in.votes[key], v)
		}
		verdicts, err := store.List[model.Verdict](tx)
		if err != nil {
			return err
		}
		for _, v := range verdicts {
			in.verdicts[v.ObjectName()] = v
		}
		in.hooks, err = store.List[model.Webhook](tx)
		return err
	})
	return in, err
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
	in, err := e.read(ctx)
	if err != nil {
		return nil, err
	}
	var plan []outcome
	live := map[string]bool{}
	for _, j := range in.jobs {
		key := j.JobKey()
		live[key] = true
		o, ok := e.decide(j, in, now)
		if ok {
			plan = append(plan, o)
		}
	}
	var gone []model.Verdict
	for name, v := range in.verdicts {
		if !live[name] {
			gone = append(gone, v)
		}
	}
	slices.SortFunc(gone, func(a, b model.Verdict) int { return strings.Compare(a.ObjectName(), b.ObjectName()) })

	var changes []Change
	if len(plan) > 0 || len(gone) > 0 || len(in.orphans) > 0 {
		var written []string
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
				written = append(written, v.ObjectName())
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
			for _, name := range in.orphans {
				if err := tx.Delete(model.KindVote, name); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, name := range written {
			e.lastWrite[name] = now
		}
		for _, v := range gone {
			delete(e.lastWrite, v.ObjectName())
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
	e.observeCheckers(in, now)
	return changes, nil
}

// decide computes the verdict of job j and whether it must be written.
func (e *Engine) decide(j model.Job, in *inputs, now time.Time) (outcome, bool) {
	key := j.JobKey()
	age := maxAge(j)
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
		if now.Sub(b.At) <= age && (b.Health == model.HealthUp || b.Health == model.HealthDown) {
			cv := v
			cv.Meta = model.Meta{}
			counted = append(counted, cv)
		}
	}
	slices.SortFunc(counted, func(a, b model.Vote) int { return strings.Compare(a.Checker, b.Checker) })
	health, reason := checker.Verdict(ballots, string(j.Check.Quorum), now, age)

	old, had := in.verdicts[key]
	before := model.HealthUnknown
	if had {
		before = old.Health
	}
	next := &model.Verdict{
		Meta:    model.Meta{ManagedBy: Actor},
		Service: j.Service, Endpoint: j.Endpoint, Datacenter: j.Datacenter,
		Health: health, Since: now, Reason: reason, Load: meanLoad(counted), Votes: counted,
	}
	if health != before {
		return outcome{verdict: next, before: before, change: true}, true
	}
	if !had || !material(&old, next) || now.Sub(e.lastWrite[key]) < UpdateEvery {
		return outcome{}, false
	}
	next.Since = old.Since
	return outcome{verdict: next, before: before}, true
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

// material reports whether next differs from the stored verdict enough to
// be written although its health is the same: the load moved by LoadStep
// (or appeared or vanished), the counted votes differ in checker, health
// or error, or the data center changed.
func material(old, next *model.Verdict) bool {
	switch {
	case (old.Load == nil) != (next.Load == nil):
		return true
	case old.Load != nil && math.Abs(*old.Load-*next.Load) >= LoadStep-1e-9:
		return true
	case old.Datacenter != next.Datacenter || len(old.Votes) != len(next.Votes):
		return true
	}
	for i := range old.Votes {
		a, b := old.Votes[i], next.Votes[i]
		if a.Checker != b.Checker || a.Health != b.Health || a.Error != b.Error {
			return true
		}
	}
	return false
}
