package api

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzWriteBodies sends arbitrary bodies to the write routes: every
// answer is a success or a problem below 500, never a panic or a 500.
func FuzzWriteBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name": "fra", "location": {"lat": 50, "lon": 8}}`,
		`{"name": "app.example.org.", "type": "A", "policy": [{"region": {"eu": ["fra"]}}, {"first": 1}], "fallback": {"backup": ["192.0.2.9"]}, "endpoints": [{"datacenter": "fra", "address": "192.0.2.1"}]}`,
		`{"name": "example.org", "nameservers": [{"name": "ns1.example.net."}], "records": [{"name": "www.example.org.", "type": "A", "ttl": 1, "data": "192.0.2.1"}]}`,
		`{"target": "endpoint/app.example.org./A/192.0.2.1", "action": "drain", "reason": "x"}`,
		`{"zones": [], "services": [{"name": "x", "policy": "geo"}]}`,
		`{"name": 1e400}`, `[`, `null`, `{"check": {"interval": "1x"}}`,
	} {
		f.Add(seed)
	}
	e := newEnv(f)
	e.seed()
	paths := []string{"/api/v1/datacenters", "/api/v1/services", "/api/v1/zones", "/api/v1/overrides", "/api/v1/apply?dry_run=true", "/api/v1/regions"}
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			r := httptest.NewRequest("POST", p, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+adminSecret)
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
			if w.Code >= 500 || (w.Code >= 400 && w.Header().Get("Content-Type") != "application/problem+json") {
				t.Fatalf("POST %s %q: %d %s", p, body, w.Code, w.Body)
			}
			if w.Code < 300 && p != "/api/v1/apply?dry_run=true" {
				// Keep the state small: undo what was created.
				loc := w.Header().Get("Location")
				d := httptest.NewRequest("DELETE", loc, nil)
				d.Header.Set("Authorization", "Bearer "+adminSecret)
				e.srv.ServeHTTP(httptest.NewRecorder(), d)
			}
		}
	})
}
