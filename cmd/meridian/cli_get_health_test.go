package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/meridian-gslb/meridian/checker/fleet"
)

// TestCLIGetHealth runs `meridian get verdicts`, `webhooks`, `status` and
// `availability` as processes against a real `meridian serve` whose
// embedded checker probes two real backends, after one of them stopped
// and its verdict went down.
func TestCLIGetHealth(t *testing.T) {
	primary, secondary := newBackend(t, nil), newBackend(t, nil)
	state := twoDCState(t, "{type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 1, fall: 2}", primary.addr, secondary.addr)
	p := startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken}, "--state", state, "--data-dir", t.TempDir())
	defer p.stop(t)
	waitVerdict(t, p, testAdminToken, "192.0.2.1", "up", 10*time.Second)
	waitVerdict(t, p, testAdminToken, "192.0.2.2", "up", 10*time.Second)
	start := time.Now()
	primary.stop()
	waitVerdict(t, p, testAdminToken, "192.0.2.1", "down", 10*time.Second)
	t.Logf("alpha's backend stopped: verdict down after %v", time.Since(start).Round(time.Millisecond))

	// A webhook with a secret, received by a server that accepts it.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hook.Close()
	if code, body := apiCall(t, "POST", "http://"+p.http+"/api/v1/webhooks", testAdminToken,
		map[string]string{"name": "pager", "url": hook.URL + "/meridian", "secret": "hook-secret-0123456789"}); code != http.StatusCreated {
		t.Fatalf("POST webhook: %d %s", code, body)
	}

	env := []string{"MERIDIAN_SERVER=http://" + p.http, "MERIDIAN_TOKEN=" + testAdminToken}
	get := func(args ...string) string {
		t.Helper()
		args = append([]string{"get"}, args...)
		return runCLI(t, env, args...).ok(t, args...).stdout
	}
	match := func(what, out string, patterns ...string) {
		t.Helper()
		for _, re := range patterns {
			if !regexp.MustCompile(re).MatchString(out) {
				t.Errorf("%s does not match %s:\n%s", what, re, out)
			}
		}
	}
	const stamp = `\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`

	// Verdicts: a kind like the others, filtered by service.
	out := get("verdicts")
	t.Logf("get verdicts:\n%s", out)
	match("get verdicts", out,
		`^SERVICE\s+ENDPOINT\s+DATACENTER\s+HEALTH\s+SINCE\s+REASON\n`,
		`(?m)^api\.gslb\.test\./A\s+192\.0\.2\.1\s+alpha\s+down\s+`+stamp+`\s+\S.*connection refused`,
		`(?m)^api\.gslb\.test\./A\s+192\.0\.2\.2\s+beta\s+up\s+`+stamp+`\s+\S`)
	if n := strings.Count(out, "\n"); n != 3 {
		t.Errorf("get verdicts: %d lines, want a header and 2 rows", n)
	}
	for _, args := range [][]string{{"verdicts", "api.gslb.test"}, {"verdicts", "api.gslb.test./A"}, {"verdict", "API.gslb.test", "--type", "a"}} {
		if got := get(args...); got != out {
			t.Errorf("get %v:\n%s\nwant the same as get verdicts", args, got)
		}
	}
	if got := get("verdicts", "other.gslb.test"); strings.Count(got, "\n") != 1 {
		t.Errorf("get verdicts of a service without verdicts:\n%s", got)
	}
	var verdicts struct {
		Items []struct {
			Endpoint string `json:"endpoint"`
			Health   string `json:"health"`
			Votes    []struct {
				Checker string `json:"checker"`
			} `json:"votes"`
		} `json:"items"`
		Next *string `json:"next"`
	}
	out = get("verdicts", "-o", "json")
	if err := json.Unmarshal([]byte(out), &verdicts); err != nil || len(verdicts.Items) != 2 || verdicts.Next == nil ||
		verdicts.Items[0].Health != "down" || len(verdicts.Items[0].Votes) != 1 {
		t.Errorf("get verdicts -o json: %v\n%s", err, out)
	}

	// Webhooks: never the secret.
	out = get("webhooks")
	t.Logf("get webhooks:\n%s", out)
	match("get webhooks", out, `^NAME\s+URL\s+HAS SECRET\n`, `(?m)^pager\s+`+regexp.QuoteMeta(hook.URL)+`/meridian\s+true$`)
	for _, args := range [][]string{{"webhooks", "-o", "json"}, {"webhooks", "pager", "-o", "yaml"}} {
		if out := get(args...); strings.Contains(out, "hook-secret-0123456789") || !strings.Contains(out, "has_secret") {
			t.Errorf("get %v shows the secret or not has_secret:\n%s", args, out)
		}
	}

	// Status: alpha down (its one checked endpoint is), beta up; the
	// embedded checker fresh.
	out = get("status")
	t.Logf("get status:\n%s", out)
	match("get status", out,
		`^NAME\s+REGION\s+STATUS\s+UP\s+DOWN\s+UNKNOWN\n`,
		`(?m)^alpha\s+-\s+down\s+0\s+1\s+0$`,
		`(?m)^beta\s+-\s+up\s+1\s+0\s+0$`,
		`\n\nNAME\s+REGION\s+STATE\s+LAST SEEN\s+AGE\n`,
		`(?m)^\S+\s+-\s+fresh\s+`+stamp+`\s+\d+s$`)
	var st fleet.Status
	if err := json.Unmarshal([]byte(get("status", "-o", "json")), &st); err != nil || len(st.Datacenters) != 2 ||
		st.Datacenters[0].Status != fleet.StatusDown || len(st.Checkers) != 1 {
		t.Errorf("get status -o json: %v, %+v", err, st)
	}

	// Availability: alpha's endpoint (and so alpha) below 100% over 24h,
	// beta's and the service (beta answered) at 100%.
	out = get("availability")
	t.Logf("get availability:\n%s", out)
	const below, full = `(\d\d\.\d{3}%)`, `100%\s+100%\s+100%\s+0\.00$`
	match("get availability", out,
		`^KIND\s+NAME\s+24H\s+7D\s+30D\s+DOWNTIME 30D \(MIN\)\n`,
		`(?m)^datacenter\s+alpha\s+`+below+`\s+`+below+`\s+`+below+`\s+(<0\.01|\d+\.\d\d)$`,
		`(?m)^datacenter\s+beta\s+`+full,
		`(?m)^service\s+api\.gslb\.test\./A\s+`+full,
		`(?m)^endpoint\s+api\.gslb\.test\./A/192\.0\.2\.1\s+`+below+`\s+`+below+`\s+`+below+`\s+(<0\.01|\d+\.\d\d)$`,
		`(?m)^endpoint\s+api\.gslb\.test\./A/192\.0\.2\.2\s+`+full)
	if strings.Contains(out, "100.000%") {
		t.Errorf("get availability prints a rounded 100.000%%:\n%s", out)
	}
	var rep fleet.AvailabilityReport
	if err := json.Unmarshal([]byte(get("availability", "-o", "json")), &rep); err != nil {
		t.Fatalf("get availability -o json: %v", err)
	}
	avail := map[string]fleet.Window{}
	for _, r := range rep.Endpoints {
		avail[r.Name] = r.Windows["24h"]
	}
	if w := avail["192.0.2.1"]; w.Availability >= 1 || w.DowntimeSeconds <= 0 {
		t.Errorf("alpha's endpoint over 24h: %+v, want below 100%%", w)
	}
	if w := avail["192.0.2.2"]; w.Availability != 1 || w.DowntimeSeconds != 0 {
		t.Errorf("beta's endpoint over 24h: %+v, want 100%%", w)
	}
	var y map[string]any
	if err := yaml.Unmarshal([]byte(get("availability", "-o", "yaml")), &y); err != nil || y["windows"] == nil || y["endpoints"] == nil {
		t.Errorf("get availability -o yaml: %v, %v", err, y)
	}

	// The reports take no NAME and no list flags: usage errors.
	for _, args := range [][]string{{"get", "status", "alpha"}, {"get", "availability", "--limit", "2"}, {"get", "status", "--since", "1h"}, {"get", "availability", "-o", "xml"}} {
		if r := runCLI(t, env, args...); r.code != 2 || r.stdout != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := runCLI(t, env, "get", "things"); r.code != 2 || !strings.Contains(r.stderr, "availability, status") {
		t.Errorf("an unknown kind's error does not list the reports: %q", r.stderr)
	}
}

// TestAvailabilityText: percentages are cut, never rounded up to 100%;
// a downtime too short for two decimals of minutes is not 0.
func TestAvailabilityText(t *testing.T) {
	day := 24 * time.Hour
	for _, tt := range []struct {
		down time.Duration
		want string
	}{
		{0, "100%"},
		{36 * time.Minute, "97.500%"},
		{day / 4000, "99.975%"}, // 21.6 s
		{time.Second, "99.998%"},
		{time.Millisecond, "99.999%"},
		{day, "0.000%"},
	} {
		d, l := float64(tt.down), float64(day)
		w := fleet.Window{Percent: (l - d) * 100 / l, DowntimeSeconds: tt.down.Seconds()}
		if got := percentText(w); got != tt.want {
			t.Errorf("%v down in a day: %s, want %s", tt.down, got, tt.want)
		}
	}
	for m, want := range map[float64]string{0: "0.00", 0.0001: "<0.01", 0.01: "0.01", 36: "36.00", 43.2: "43.20"} {
		if got := minutesText(m); got != want {
			t.Errorf("%v minutes: %s, want %s", m, got, want)
		}
	}
}
