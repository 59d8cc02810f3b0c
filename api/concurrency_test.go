package api

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

// TestConcurrentIfMatch: N clients read the same region, then all write
// it back with the same If-Match. Exactly one wins; the others get 409
// naming the winner's revision. Each loser then re-reads and retries
// until it lands. In the end the region holds every client's network:
// no update was lost, and every successful write left one event.
func TestConcurrentIfMatch(t *testing.T) {
	const n = 16
	e := newEnv(t)
	e.post("/api/v1/regions", map[string]any{"name": "eu"}).want(201)

	read := func() (model.Region, string) {
		r := e.get("/api/v1/regions/eu").want(200)
		var reg model.Region
		r.decode(&reg)
		return reg, r.Header.Get("ETag")
	}
	write := func(i int, reg model.Region, tag string) (*response, string) {
		net := fmt.Sprintf("10.%d.0.0/16", i)
		body := map[string]any{"name": "eu", "networks": append(slices.Clone(reg.Networks), net)}
		return e.do(req{method: "PUT", path: "/api/v1/regions/eu", body: body, header: map[string]string{"If-Match": tag}}), net
	}

	// Round one: everyone holds the same ETag.
	reg, tag := read()
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		statuses = make([]int, n)
		current  = make([]int64, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			r, _ := write(i, reg, tag)
			statuses[i] = r.Status
			if r.Status == 409 {
				if p := r.problem(); p.CurrentRevision != nil {
					current[i] = *p.CurrentRevision
				}
			}
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for _, s := range statuses {
		if s == 200 {
			winners++
		} else if s != 409 {
			t.Fatalf("status %d, want 200 or 409", s)
		}
	}
	if winners != 1 {
		t.Fatalf("%d writes with the same If-Match won, want exactly 1 (statuses %v)", winners, statuses)
	}
	after, _ := read()
	for i, s := range statuses {
		if s == 409 && current[i] != after.Revision {
			t.Errorf("loser %d was told revision %d, the winner wrote %d", i, current[i], after.Revision)
		}
	}

	// Round two: the losers retry read-modify-write until they land.
	for i := range n {
		if statuses[i] == 200 {
			continue
		}
		wg.Go(func() {
			for {
				reg, tag := read()
				r, _ := write(i, reg, tag)
				if r.Status == 200 {
					return
				}
				if r.Status != 409 {
					t.Errorf("retry: status %d", r.Status)
					return
				}
			}
		})
	}
	wg.Wait()

	final, _ := read()
	for i := range n {
		if net := fmt.Sprintf("10.%d.0.0/16", i); !slices.Contains(final.Networks, net) {
			t.Errorf("network of client %d lost; final %v", i, final.Networks)
		}
	}
	if len(final.Networks) != n {
		t.Errorf("%d networks, want %d: %v", len(final.Networks), n, final.Networks)
	}
	updates := 0
	for _, ev := range e.events() {
		if ev.Type == "update" && ev.Object == "region/eu" {
			updates++
		}
	}
	if updates != n {
		t.Errorf("%d update events, want %d", updates, n)
	}
}
