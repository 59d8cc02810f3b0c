package api

import (
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/store/model"
)

const zoneFile = `$ORIGIN example.org.
$TTL 120
@        IN NS    ns1.example.net.
www      IN A     192.0.2.20
www      IN AAAA  2001:db8::20
mail 300 IN MX    10 mx.example.net.
`

func TestRecordRoutes(t *testing.T) {
	e := newEnv(t)
	e.seed()
	path := "/api/v1/zones/example.org/records"

	// Import a zone file: it replaces the records.
	var z model.Zone
	r := e.do(req{method: "POST", path: path, body: zoneFile, contentType: "text/dns"}).want(200)
	r.decode(&z)
	if len(z.Records) != 4 || z.Records[1].Name != "www.example.org." || z.Records[1].TTL != 120 || z.Records[3].TTL != 300 {
		t.Fatalf("imported records = %+v", z.Records)
	}
	if r.Header.Get("ETag") != etagOf(z.Revision) {
		t.Errorf("ETag %s, revision %d", r.Header.Get("ETag"), z.Revision)
	}

	// Pages in zone order.
	var l List[model.Record]
	e.get(path + "?limit=3").want(200).decode(&l)
	if len(l.Items) != 3 || l.Next != "3" {
		t.Fatalf("first page = %+v", l)
	}
	e.get(path + "?limit=3&after=" + l.Next).want(200).decode(&l)
	if len(l.Items) != 1 || l.Items[0].Type != "MX" || l.Next != "" {
		t.Fatalf("second page = %+v", l)
	}
	e.get(path + "?after=minus-one").want(400)

	// Add records as JSON; replace them all with PUT.
	add := map[string]any{"records": []any{map[string]any{"name": "Api.Example.org", "type": "txt", "ttl": 60, "data": `"hello"`}}}
	e.post(path, add).want(200).decode(&z)
	if got := z.Records[len(z.Records)-1]; got.Name != "api.example.org." || got.Type != "TXT" {
		t.Errorf("added record = %+v", got)
	}
	e.put(path, map[string]any{"records": []any{map[string]any{"name": "example.org.", "type": "NS", "ttl": 300, "data": "ns2.example.net."}}}).want(200).decode(&z)
	if len(z.Records) != 1 {
		t.Errorf("after PUT: %+v", z.Records)
	}

	// Bad input.
	p := e.do(req{method: "POST", path: path, body: "www IN A 300.1.1.1\n", contentType: "text/dns"}).want(422).problem()
	if !strings.Contains(p.Detail, "zone file:1:") {
		t.Errorf("bad zone file: %+v", p)
	}
	p = e.do(req{method: "POST", path: path, body: "other.test. 60 IN A 192.0.2.1\n", contentType: "text/dns"}).want(422).problem()
	if !strings.Contains(p.Detail, "outside") {
		t.Errorf("record outside the zone: %+v", p)
	}
	e.do(req{method: "POST", path: path, body: "$INCLUDE /etc/passwd\n", contentType: "text/dns"}).want(422)
	e.do(req{method: "POST", path: path, body: zoneFile, contentType: "text/plain"}).want(415)
	e.post(path, map[string]any{"records": []any{map[string]any{"name": "x.example.org.", "type": "A", "ttl": 60, "data": "not-an-address"}}}).want(422)
	e.put(path, `{"records": [{"name": "x.example.org.", "type": "A", "ttl": "60", "data": "192.0.2.1"}]}`).want(400)
	e.do(req{method: "PUT", path: path, body: map[string]any{"records": []any{}}, header: map[string]string{"If-Match": `"1"`}}).want(409)
	e.do(req{method: "POST", path: "/api/v1/zones/missing.org/records", body: zoneFile, contentType: "text/dns"}).want(404)
	e.get("/api/v1/zones/missing.org/records").want(404)

	// Without a zone-file parser, text/dns is not accepted.
	e2 := newEnv(t, func(c *Config) { c.ParseZone = nil })
	e2.seed()
	e2.do(req{method: "POST", path: path, body: zoneFile, contentType: "text/dns"}).want(415)
}
