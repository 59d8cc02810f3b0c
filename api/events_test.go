package api

import (
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store/model"
)

func TestEventRoutes(t *testing.T) {
	e := newEnv(t)
	e.seed() // 6 creates
	e.put("/api/v1/datacenters/fra", dc("fra", "eu", 50, 8)).want(200)
	mid := time.Now().UTC()
	time.Sleep(5 * time.Millisecond)
	e.post("/api/v1/datacenters", dc("lon", "eu", 51.5, -0.1)).want(201)
	e.del("/api/v1/datacenters/lon").want(204)

	list := func(query string) List[model.Event] {
		t.Helper()
		var l List[model.Event]
		e.get("/api/v1/events" + query).want(200).decode(&l)
		return l
	}
	all := list("")
	if len(all.Items) != 9 || all.Next != "" {
		t.Fatalf("%d events, next %q; want 9", len(all.Items), all.Next)
	}

	// Audit content: who, what, before and after.
	create, update, del := all.Items[3], all.Items[6], all.Items[8]
	if create.Type != "create" || create.Object != "datacenter/fra" || create.Actor != EnvAdminActor || create.Before != "" || create.After == "" {
		t.Errorf("create event = %+v", create)
	}
	var before, after model.Datacenter
	if json.Unmarshal([]byte(update.Before), &before) != nil || json.Unmarshal([]byte(update.After), &after) != nil ||
		before.Location.Lat != 50.1 || after.Location.Lat != 50 || after.Revision <= before.Revision {
		t.Errorf("update event = %+v", update)
	}
	if del.Type != "delete" || del.Before == "" || del.After != "" {
		t.Errorf("delete event = %+v", del)
	}

	// Pages by seq.
	p1 := list("?limit=4")
	if len(p1.Items) != 4 || p1.Next != strconv.FormatInt(p1.Items[3].Seq, 10) {
		t.Fatalf("page 1 = %d items, next %q", len(p1.Items), p1.Next)
	}
	p2 := list("?limit=4&after=" + p1.Next)
	if len(p2.Items) != 4 || p2.Items[0].Seq != p1.Items[3].Seq+1 {
		t.Errorf("page 2 starts at %d", p2.Items[0].Seq)
	}
	if p3 := list("?limit=4&after=" + p2.Next); len(p3.Items) != 1 || p3.Next != "" {
		t.Errorf("page 3 = %+v", p3)
	}

	// Filters.
	if l := list("?object=datacenter/fra"); len(l.Items) != 2 {
		t.Errorf("object=datacenter/fra: %d events", len(l.Items))
	}
	if l := list("?object=datacenter/"); len(l.Items) != 5 {
		t.Errorf("object=datacenter/: %d events", len(l.Items))
	}
	if l := list("?type=delete"); len(l.Items) != 1 {
		t.Errorf("type=delete: %d events", len(l.Items))
	}
	since := url.QueryEscape(mid.Format(time.RFC3339Nano))
	if l := list("?since=" + since); len(l.Items) != 2 || l.Items[0].Object != "datacenter/lon" {
		t.Errorf("since: %+v", l.Items)
	}
	if l := list("?until=" + since); len(l.Items) != 7 {
		t.Errorf("until: %d events", len(l.Items))
	}
	if l := list("?since=" + since + "&object=region/eu"); len(l.Items) != 0 {
		t.Errorf("since and object: %d events", len(l.Items))
	}
	if l := list("?object=datacenter/&limit=2"); len(l.Items) != 2 || l.Next == "" {
		t.Errorf("filtered page = %+v", l)
	}

	for _, bad := range []string{"?since=yesterday", "?until=2025-13-01", "?object=datacenter", "?after=-3", "?after=x"} {
		e.get("/api/v1/events" + bad).want(400).problem()
	}
}
