package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// waitTimeout bounds every wait for a notification. It is a failure
// deadline, not a readiness sleep: tests proceed as soon as a value comes.
const waitTimeout = 10 * time.Second

var testTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sample returns the i-th valid object of kind. Names grow with i, so they
// sort in i order for i < 100.
func sample(kind model.Kind, i int) model.Object {
	switch kind {
	case model.KindZone:
		return &model.Zone{
			Name:        fmt.Sprintf("z%02d.example.", i),
			Nameservers: []model.Nameserver{{Name: "ns1.example.net."}},
			Records:     []model.Record{{Name: fmt.Sprintf("www.z%02d.example.", i), Type: "A", TTL: 60, Data: "192.0.2.1"}},
		}
	case model.KindRegion:
		return &model.Region{Name: fmt.Sprintf("r%02d", i), Countries: []string{"DE", "FR"}}
	case model.KindDatacenter:
		return &model.Datacenter{Name: fmt.Sprintf("dc%02d", i), Location: model.Location{Lat: 50.1, Lon: 8.7}}
	case model.KindService:
		return &model.Service{
			Name: fmt.Sprintf("s%02d.example.", i), Type: "A", Policy: model.Policy{Preset: "geo"},
			Endpoints: []model.Endpoint{{Datacenter: "dc00", Address: "192.0.2.1", Weight: 3}},
		}
	case model.KindChecker:
		return &model.Checker{Name: fmt.Sprintf("c%02d", i), Region: "eu", LastSeen: testTime}
	case model.KindVote:
		load := 0.25
		return &model.Vote{
			Checker: fmt.Sprintf("c%02d", i), Service: "s00.example.", Endpoint: "192.0.2.1",
			Health: model.HealthUp, Latency: 3 * time.Millisecond, Load: &load, At: testTime,
		}
	case model.KindEvent:
		return &model.Event{Seq: int64(i + 1), At: testTime, Type: "test", Detail: fmt.Sprint("event ", i)}
	case model.KindToken:
		return &model.Token{Name: fmt.Sprintf("t%02d", i), Role: model.RoleRead, Hash: strings.Repeat("ab", 32), CreatedAt: testTime}
	case model.KindOverride:
		return &model.Override{Target: model.DatacenterTarget(fmt.Sprintf("dc%02d", i)), Action: model.OverrideDrain,
			Reason: "maintenance", CreatedBy: "ops", CreatedAt: testTime}
	case model.KindVerdict:
		load := 0.5
		return &model.Verdict{
			Service: fmt.Sprintf("s%02d.example./A", i), Endpoint: "192.0.2.1", Datacenter: "dc00",
			Health: model.HealthDown, Since: testTime, Reason: "2 of 3 fresh votes down", Load: &load,
			Votes: []model.Vote{{Checker: "c00", Service: "s00.example./A", Endpoint: "192.0.2.1", Health: model.HealthDown, Error: "refused", At: testTime}},
		}
	case model.KindWebhook:
		return &model.Webhook{Name: fmt.Sprintf("w%02d", i), URL: fmt.Sprintf("https://hooks.example/%d", i), Secret: "0123456789abcdef"}
	}
	panic("storetest: no sample for kind " + string(kind))
}

// newObject returns an empty object of kind to decode into.
func newObject(kind model.Kind) model.Object {
	obj, ok := model.NewObject(kind)
	if !ok {
		panic("storetest: unknown kind " + string(kind))
	}
	return obj
}

func decode(t *testing.T, kind model.Kind, b []byte) model.Object {
	t.Helper()
	obj := newObject(kind)
	if err := json.Unmarshal(b, obj); err != nil {
		t.Fatalf("decoding %s: %v", kind, err)
	}
	return obj
}

// baseState is a small valid desired state with every kind and every kind
// of reference: a zone with a static record, two regions, two data centers
// in them, a service with endpoints in both.
func baseState() *model.State { return BaseState() }

// BaseState returns a new copy of the suite's small desired state (see
// baseState), for other tests of a store.
func BaseState() *model.State {
	return &model.State{
		Zones: []model.Zone{{
			Name:        "example.org.",
			Nameservers: []model.Nameserver{{Name: "ns1.example.net."}},
			Records:     []model.Record{{Name: "www.example.org.", Type: "A", TTL: 300, Data: "192.0.2.10"}},
		}},
		Regions: []model.Region{
			{Name: "eu", Continents: []string{"EU"}},
			{Name: "us", Countries: []string{"US"}},
		},
		Datacenters: []model.Datacenter{
			{Name: "fra", Region: "eu", Location: model.Location{Lat: 50.1, Lon: 8.7}},
			{Name: "iad", Region: "us", Location: model.Location{Lat: 38.9, Lon: -77.4}},
		},
		Services: []model.Service{{
			Name: "app.example.org.", Type: "A", Policy: model.Policy{Preset: "geo"},
			Endpoints: []model.Endpoint{
				{Datacenter: "fra", Address: "192.0.2.1"},
				{Datacenter: "iad", Address: "198.51.100.1"},
			},
		}},
	}
}

// update runs fn in an Update and fails the test on error.
func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) int64 {
	t.Helper()
	rev, err := s.Update(t.Context(), fn)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	return rev
}

// put stores objs in one Update.
func put(t *testing.T, s store.Store, objs ...model.Object) int64 {
	t.Helper()
	return update(t, s, func(tx store.Tx) error {
		for _, o := range objs {
			if err := store.Put(tx, o, 0); err != nil {
				return err
			}
		}
		return nil
	})
}

func revision(t *testing.T, s store.Store) int64 {
	t.Helper()
	rev, err := s.Revision(t.Context())
	if err != nil {
		t.Fatalf("Revision: %v", err)
	}
	return rev
}

// names lists the names stored under kind.
func names(t *testing.T, s store.Store, kind model.Kind) []string {
	t.Helper()
	var out []string
	err := s.View(t.Context(), func(tx store.Tx) error {
		return tx.List(kind, "", 0, func(name string, _ []byte) error {
			out = append(out, name)
			return nil
		})
	})
	if err != nil {
		t.Fatalf("List %s: %v", kind, err)
	}
	return out
}

// recv waits for one value or the close of ch.
func recv(t *testing.T, ch <-chan int64) (int64, bool) {
	t.Helper()
	select {
	case v, ok := <-ch:
		return v, ok
	case <-time.After(waitTimeout):
		t.Fatalf("no watch notification within %s", waitTimeout)
		return 0, false
	}
}

// waitClosed reads ch until it is closed.
func waitClosed(t *testing.T, ch <-chan int64) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("watch channel not closed within %s", waitTimeout)
		}
	}
}

// snapshot returns every stored key and value, for before/after checks.
func snapshot(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := s.View(t.Context(), func(tx store.Tx) error {
		for _, kind := range model.Kinds {
			err := tx.List(kind, "", 0, func(name string, b []byte) error {
				out[string(kind)+"/"+name] = string(b)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
