package api

import (
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

func TestCheckerRoutes(t *testing.T) {
	e := newEnv(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// Checkers and votes come from the checker fleet (a later issue):
	// put them in the store directly.
	_, err := e.st.Update(t.Context(), func(tx store.Tx) error {
		for _, c := range []string{"fra-1", "iad-1"} {
			if err := store.Put(tx, &model.Checker{Name: c, Region: "eu", LastSeen: at}, 0); err != nil {
				return err
			}
			for _, ep := range []string{"192.0.2.1", "192.0.2.2"} {
				v := &model.Vote{Checker: c, Service: "app.example.org./A", Endpoint: ep, Health: model.HealthUp, At: at}
				if err := store.Put(tx, v, 0); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var l List[model.Checker]
	e.get("/api/v1/checkers").want(200).decode(&l)
	if len(l.Items) != 2 || !l.Items[0].LastSeen.Equal(at) {
		t.Errorf("checkers = %+v", l)
	}
	e.get("/api/v1/checkers/fra-1").want(200)
	e.get("/api/v1/checkers/ams-1").want(404)
	e.get("/api/v1/checkers?limit=0").want(400)

	// Removing a checker removes its votes, and only its.
	e.do(req{method: "DELETE", path: "/api/v1/checkers/fra-1", header: map[string]string{"If-Match": `"999"`}}).want(409)
	e.del("/api/v1/checkers/fra-1").want(204)
	e.del("/api/v1/checkers/fra-1").want(404)
	var votes []model.Vote
	_ = e.st.View(t.Context(), func(tx store.Tx) error {
		votes, err = store.List[model.Vote](tx)
		return err
	})
	if len(votes) != 2 || votes[0].Checker != "iad-1" || votes[1].Checker != "iad-1" {
		t.Errorf("votes left = %+v", votes)
	}
}
