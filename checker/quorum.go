package checker

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

// Quorum rules, the values of a check's quorum key besides a number.
const (
	QuorumMajority = "majority"
	QuorumAny      = "any"
	QuorumAll      = "all"
)

// Verdict turns the votes of many checkers for one endpoint into its
// health, and says why.
//
// Only each checker's newest vote counts, and only when it is fresh: at
// most maxAge old at now (maxAge <= 0 means votes never expire; a vote
// dated after now counts as fresh). Unknown votes (a checker still within
// its thresholds, or an isolated one) are not counted. With no fresh up or
// down vote the verdict is unknown, which serves like up.
//
// The quorum says how many of the counted votes must be down for the
// endpoint to be down; otherwise it is up:
//
//	majority (or "")  more than half of them (a tie stays up)
//	any               at least one
//	all               every one of them
//	N (a number)      at least N, however many checkers there are
//
// An unparsable quorum is treated as majority, and the reason says so.
func Verdict(votes []model.Vote, quorum string, now time.Time, maxAge time.Duration) (model.Health, string) {
	newest := map[string]model.Vote{}
	for _, v := range votes {
		if old, ok := newest[v.Checker]; !ok || v.At.After(old.At) {
			newest[v.Checker] = v
		}
	}
	var up, down, unknown, stale int
	var downWhy []string
	for _, v := range newest {
		if maxAge > 0 && now.Sub(v.At) > maxAge {
			stale++
			continue
		}
		switch v.Health {
		case model.HealthUp:
			up++
		case model.HealthDown:
			down++
			why := v.Checker
			if v.Error != "" {
				why += ": " + v.Error
			}
			downWhy = append(downWhy, why)
		default:
			unknown++
		}
	}
	slices.Sort(downWhy)
	counted := up + down
	rule, need, note := rule(quorum, counted)
	extra := ""
	if unknown > 0 || stale > 0 {
		extra = fmt.Sprintf("; %d unknown and %d stale not counted", unknown, stale)
	}
	extra += note
	if counted == 0 {
		return model.HealthUnknown, "no fresh up or down votes" + extra
	}
	head := fmt.Sprintf("%d of %d fresh votes down, quorum %s", down, counted, rule)
	if down >= need {
		return model.HealthDown, head + extra + ": " + strings.Join(downWhy, "; ")
	}
	return model.HealthUp, head + extra
}

// rule names the quorum and the number of down votes, out of counted, that
// make an endpoint down.
func rule(quorum string, counted int) (name string, need int, note string) {
	switch quorum {
	case "", QuorumMajority:
		return "majority (more than half)", counted/2 + 1, ""
	case QuorumAny:
		return "any (one down vote)", 1, ""
	case QuorumAll:
		return "all (every vote down)", max(counted, 1), ""
	}
	if n, err := strconv.Atoi(quorum); err == nil && n > 0 {
		return fmt.Sprintf("%d (at least %d down votes)", n, n), n, ""
	}
	return "majority (more than half)", counted/2 + 1,
		fmt.Sprintf("; quorum %q is not valid, used majority", quorum)
}
