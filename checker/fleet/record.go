package fleet

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// invalidf is a report validation error in model's format ("model:
// invalid: report: FIELD: MESSAGE"), so that the API answers it 422 with
// the field named in the body's JSON terms.
func invalidf(field, format string, args ...any) error {
	return fmt.Errorf("%w: report: %s: %s", model.ErrInvalid, field, fmt.Sprintf(format, args...))
}

// validate checks rep and completes its votes: a vote without a checker
// takes the report's. It returns the votes to record, one per service and
// endpoint (the last wins).
func validate(rep *model.Report) ([]model.Vote, error) {
	name := rep.Checker.Name
	if err := (&model.Checker{Name: name}).Validate(); err != nil {
		return nil, invalidf("checker.name", "%q: use letters, digits, '-' and '_' (at most 63)", name)
	}
	if err := rep.Checker.Validate(); err != nil {
		return nil, invalidf("checker.location", "lat must be within ±90 and lon within ±180")
	}
	var out []model.Vote
	index := map[string]int{}
	for i, v := range rep.Votes {
		field := func(f string) string { return fmt.Sprintf("votes.%d.%s", i, f) }
		switch {
		case v.Checker == "":
			v.Checker = name
		case v.Checker != name:
			return nil, invalidf(field("checker"), "%q is not the report's checker %q", v.Checker, name)
		}
		switch {
		case v.Service == "":
			return nil, invalidf(field("service"), "required: the service's key, such as app.example.com./A")
		case v.Endpoint == "":
			return nil, invalidf(field("endpoint"), "required: the endpoint's address")
		}
		switch v.Health {
		case model.HealthUp, model.HealthDown, model.HealthUnknown:
		default:
			return nil, invalidf(field("health"), "%q is not up, down or unknown", v.Health)
		}
		if v.Load != nil && (*v.Load < 0 || *v.Load > 1) {
			return nil, invalidf(field("load"), "must be within 0-1")
		}
		if v.Latency < 0 {
			return nil, invalidf(field("latency_ns"), "must not be negative")
		}
		if err := v.Validate(); err != nil { // anything the model adds later
			return nil, fmt.Errorf("%w (votes.%d)", err, i)
		}
		v.Meta = model.Meta{}
		v.Error = truncate(v.Error, MaxErrorLen)
		if at, ok := index[v.ObjectName()]; ok {
			out[at] = v
			continue
		}
		index[v.ObjectName()] = len(out)
		out = append(out, v)
	}
	return out, nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// Record stores one report of a checker, in one store transaction: the
// checker itself (region, location, last seen now, isolated flag), the
// votes that changed in health or error or whose stored copy is older
// than VoteRefresh, and a "checker" event when the isolated flag flips.
// Votes for a service and endpoint that is not a job (a checker's check
// list lags behind a change) are ignored. Then it wakes Run.
//
// A report that fails validation is an error wrapping model.ErrInvalid
// that names the field ("votes.2.health").
func (e *Engine) Record(ctx context.Context, rep model.Report) error {
	votes, err := validate(&rep)
	if err != nil {
		return err
	}
	now := e.now().UTC()
	name := rep.Checker.Name
	_, err = e.st.Update(ctx, func(tx store.Tx) error {
		list, err := e.jobsIn(tx)
		if err != nil {
			return err
		}
		jobs := list.jobs
		isJob := make(map[endpointKey]bool, len(jobs))
		for i := range jobs {
			isJob[endpointKey{jobs[i].Service, jobs[i].Endpoint}] = true
		}

		old, err := store.Get[model.Checker](tx, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		c := &model.Checker{
			Name: name, Region: rep.Checker.Region, Location: rep.Checker.Location,
			LastSeen: now, Isolated: rep.Isolated,
		}
		wasIsolated := false
		if old != nil {
			c.ManagedBy = old.ManagedBy
			wasIsolated = old.Isolated
		} else {
			c.ManagedBy = Actor
		}
		if err := store.Put(tx, c, 0); err != nil {
			return err
		}
		if wasIsolated != rep.Isolated {
			ev := &model.Event{At: now, Type: "checker", Object: "checker/" + name, Actor: name,
				Before: isolation(wasIsolated), After: isolation(rep.Isolated)}
			if rep.Isolated {
				ev.Detail = "the checker reports itself cut off: its votes count as unknown"
			} else {
				ev.Detail = "the checker reports itself connected again: its votes count"
			}
			if err := store.AppendEvent(tx, ev); err != nil {
				return err
			}
		}

		for _, v := range votes {
			if !isJob[endpointKey{v.Service, v.Endpoint}] {
				continue
			}
			stored, err := store.Get[model.Vote](tx, v.ObjectName())
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if stored != nil && stored.Health == v.Health && stored.Error == v.Error && now.Sub(stored.At) < VoteRefresh {
				continue
			}
			if undecided(v, rep.Isolated) && stored != nil && stored.Health != model.HealthUnknown && now.Sub(stored.At) < VoteRefresh {
				// A checker that restarted is unknown until its
				// thresholds are reached again: its last opinion
				// stands meanwhile, so a restart flaps no verdict.
				continue
			}
			v.At = now // when the server recorded it: immune to checkers' clock skew
			v.ManagedBy = Actor
			if err := store.Put(tx, &v, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.poke()
	return nil
}

func isolation(isolated bool) string {
	if isolated {
		return "isolated"
	}
	return "ok"
}

// undecided reports whether v is a checker's unknown that only means its
// thresholds are not reached yet (after a restart, or a new job): no
// error, and not an isolated checker's.
func undecided(v model.Vote, isolated bool) bool {
	return v.Health == model.HealthUnknown && v.Error == "" && !isolated
}
