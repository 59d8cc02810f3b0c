package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// The checker fleet's routes for operators: list, read and remove
// checkers. Checkers register themselves by reporting (fleet.go).

func (s *Server) listCheckers(w http.ResponseWriter, r *http.Request) {
	s.list(w, r, model.KindChecker)
}

func (s *Server) getChecker(w http.ResponseWriter, r *http.Request) {
	s.get(w, r, model.KindChecker, pathParam(r, "name"))
}

// deleteChecker removes a checker and its votes, so that a retired
// checker stops counting in quorums at once.
func (s *Server) deleteChecker(w http.ResponseWriter, r *http.Request) {
	name := pathParam(r, "name")
	m, err := parseIfMatch(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	dropVotes := func(tx store.Tx, _ model.Object) error {
		prefix := name + "|"
		var names []string
		stop := errors.New("stop")
		err := tx.List(model.KindVote, prefix, 0, func(key string, _ []byte) error {
			if !strings.HasPrefix(key, prefix) {
				return stop
			}
			names = append(names, key)
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			return err
		}
		for _, n := range names {
			if err := tx.Delete(model.KindVote, n); err != nil {
				return fmt.Errorf("vote %q: %w", n, err)
			}
		}
		return nil
	}
	_, err = s.write(r.Context(), op{mode: modeDelete, kind: model.KindChecker, name: name, ifMatch: m, prepare: dropVotes})
	if err != nil {
		s.problem(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
