package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

// The API commands, run as real processes against a real `meridian
// serve`: what a script or an operator sees, exit codes included.

const cliAdminToken = "cli-test-admin-token-0123456789"

// cliServer is a running `meridian serve` for the CLI tests: the bundled
// example's GeoIP database, no state file (the objects come from
// `meridian apply`), and MERIDIAN_ADMIN_TOKEN set.
type cliServer struct {
	*proc
	url string
}

func startCLIServer(t *testing.T) *cliServer {
	t.Helper()
	dir := t.TempDir()
	city, err := filepath.Abs("../../examples/geoip/GeoIP2-City-Test.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "meridian.yaml")
	writeFile(t, conf, "geoip:\n  city: "+city+"\n")
	t.Setenv("MERIDIAN_ADMIN_TOKEN", cliAdminToken)
	p := startServe(t, "--config", conf, "--data-dir", filepath.Join(dir, "data"))
	t.Cleanup(func() { p.stop(t) })
	return &cliServer{proc: p, url: "http://" + p.http}
}

// cliResult is what one run of the binary printed and its exit code.
type cliResult struct {
	stdout, stderr string
	code           int
}

// run runs `meridian args...` with MERIDIAN_SERVER and MERIDIAN_TOKEN
// set to s and token (none when token is ""), and nothing else of the
// environment's MERIDIAN_ variables.
func (s *cliServer) run(t *testing.T, token string, args ...string) cliResult {
	t.Helper()
	return runCLI(t, []string{"MERIDIAN_SERVER=" + s.url, "MERIDIAN_TOKEN=" + token}, args...)
}

func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(meridianBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MERIDIAN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("meridian %v: %v", args, err)
	}
	return res
}

// ok fails the test unless the run succeeded.
func (r cliResult) ok(t *testing.T, args ...string) cliResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("meridian %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, r.code, r.stdout, r.stderr)
	}
	return r
}

func (s *cliServer) admin(t *testing.T, args ...string) cliResult {
	t.Helper()
	return s.run(t, cliAdminToken, args...).ok(t, args...)
}

// copyExample copies the bundled state file and its zone file to a
// temporary directory, for a test to edit.
func copyExample(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"state.yaml", "gslb.example.test.zone"} {
		b, err := os.ReadFile(filepath.Join("../../examples", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), string(b))
	}
	return filepath.Join(dir, "state.yaml")
}

func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(b), old, new, 1))
}

// TestCLIApply: the first apply of the bundled example prints its
// creations, a second prints exactly "no changes"; a dry run of an edited
// file prints the field-level diff and changes nothing.
func TestCLIApply(t *testing.T) {
	s := startCLIServer(t)
	const example = "../../examples/state.yaml"

	first := s.admin(t, "apply", "-f", example)
	wantCreates := []string{
		"+ create zone/gslb.example.test.",
		"+ create region/europe", "+ create region/americas", "+ create region/asia-pacific",
		"+ create datacenter/fra", "+ create datacenter/iad", "+ create datacenter/sin",
		"+ create service/app.gslb.example.test./A", "+ create service/app.gslb.example.test./AAAA",
		"+ create service/api.gslb.example.test./A", "+ create service/cdn.gslb.example.test./A",
	}
	lines := strings.Split(strings.TrimSpace(first.stdout), "\n")
	if !slices.Equal(lines[:len(lines)-1], wantCreates) {
		t.Errorf("first apply printed:\n%s\nwant the lines:\n%s", first.stdout, strings.Join(wantCreates, "\n"))
	}
	if last := lines[len(lines)-1]; !regexp.MustCompile(`^applied: 11 created, 0 updated, 0 deleted, 0 adopted \(revision \d+\)$`).MatchString(last) {
		t.Errorf("first apply's summary: %q", last)
	}
	t.Logf("first apply:\n%s", first.stdout)

	if second := s.admin(t, "apply", "-f", example); second.stdout != "no changes\n" {
		t.Errorf("second apply printed %q, want exactly \"no changes\\n\"", second.stdout)
	}
	if dry := s.admin(t, "apply", "-f", example, "--dry-run"); dry.stdout != "dry run: no changes\n" {
		t.Errorf("dry run of the applied file printed %q", dry.stdout)
	}

	// An edited copy: a TTL, a new endpoint, a weight, a new record, a
	// service removed.
	edited := copyExample(t)
	const appCheck = "    check: {type: http, path: /healthz, expect_status: [200], interval: 1s, timeout: 500ms, rise: 2, fall: 3}\n"
	editFile(t, edited, "    ttl: 30\n    policy: geo\n"+appCheck+"    endpoints:\n      - {datacenter: fra, address: 192.0.2.10, check_target: \"127.0.0.1:18081\"}\n",
		"    ttl: 45\n    policy: geo\n"+appCheck+"    endpoints:\n      - {datacenter: fra, address: 192.0.2.10, check_target: \"127.0.0.1:18081\"}\n      - {datacenter: fra, address: 192.0.2.12}\n")
	editFile(t, filepath.Join(filepath.Dir(edited), "gslb.example.test.zone"), "mail        IN A      192.0.2.25\n",
		"mail        IN A      192.0.2.25\nmail2       IN A      192.0.2.26\n")
	editFile(t, edited, "address: 203.0.113.30, weight: 1,", "address: 203.0.113.30, weight: 2,")
	b, _ := os.ReadFile(edited)
	i := strings.Index(string(b), "  # failover")
	j := strings.Index(string(b), "  # weighted")
	writeFile(t, edited, string(b[:i])+string(b[j:])) // api.gslb.example.test removed

	dry := s.admin(t, "apply", "-f", edited, "--dry-run")
	t.Logf("dry run of the edited file:\n%s", dry.stdout)
	for _, want := range []string{
		"dry run: ",
		"- delete service/api.gslb.example.test./A\n",
		"~ update zone/gslb.example.test.\n",
		`    + records[`, `{"data":"192.0.2.26","name":"mail2.gslb.example.test.","ttl":300,"type":"A"}`,
		"~ update service/app.gslb.example.test./A\n",
		"    ttl: 30 -> 45\n",
		`    + endpoints[1]: {"address":"192.0.2.12","datacenter":"fra","weight":1}` + "\n",
		"~ update service/cdn.gslb.example.test./A\n",
		"    endpoints[1].weight: 1 -> 2\n",
		"dry run: would be 0 created, 3 updated, 1 deleted, 0 adopted\n",
	} {
		if !strings.Contains(dry.stdout, want) {
			t.Errorf("dry run does not print %q", want)
		}
	}
	if !strings.HasPrefix(dry.stdout, "dry run: ") {
		t.Errorf("dry run output does not start with \"dry run: \"")
	}
	// Nothing changed: the service has its old TTL, and api still exists.
	var svc struct {
		TTL int `json:"ttl"`
	}
	get := s.admin(t, "get", "services", "app.gslb.example.test/A", "-o", "json")
	if err := json.Unmarshal([]byte(get.stdout), &svc); err != nil || svc.TTL != 30 {
		t.Errorf("after the dry run, app's ttl = %d (%v), want the old 30:\n%s", svc.TTL, err, get.stdout)
	}
	s.admin(t, "get", "services", "api.gslb.example.test")

	// Apply it for real; then an API-made data center is listed as kept.
	applied := s.admin(t, "apply", "-f", edited)
	if !strings.Contains(applied.stdout, "applied: 0 created, 3 updated, 1 deleted, 0 adopted") {
		t.Errorf("apply of the edited file:\n%s", applied.stdout)
	}
	req, _ := http.NewRequest("POST", s.url+"/api/v1/datacenters", strings.NewReader(`{"name":"lab","location":{"lat":1,"lon":2}}`))
	req.Header.Set("Authorization", "Bearer "+cliAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST datacenter lab: %d", resp.StatusCode)
	}
	back := s.admin(t, "apply", "-f", example)
	t.Logf("apply of the original again:\n%s", back.stdout)
	for _, want := range []string{"+ create service/api.gslb.example.test./A\n", "    ttl: 45 -> 30\n",
		"- endpoints[1]: {\"address\":\"192.0.2.12\",\"datacenter\":\"fra\",\"weight\":1}\n",
		"kept (managed by api): datacenter/lab\n"} {
		if !strings.Contains(back.stdout, want) {
			t.Errorf("apply back does not print %q", want)
		}
	}

	// A state file with an error is refused before anything is sent.
	bad := copyExample(t)
	editFile(t, bad, "address: 192.0.2.10,", "address: 192.0.2.300,")
	r := s.run(t, cliAdminToken, "apply", "-f", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "state.yaml:") {
		t.Errorf("apply of a bad file: exit %d, stderr %q; want 1 and the file and line", r.code, r.stderr)
	}
	if r := s.run(t, cliAdminToken, "apply", "-f", filepath.Join(t.TempDir(), "missing.yaml")); r.code != 2 {
		t.Errorf("apply of a missing file: exit %d, want 2", r.code)
	}
}

// ecsAnswer polls the DNS answer of app.gslb.example.test A for a client
// in subnet until want says it is right, for at most 5 s.
func ecsAnswer(t *testing.T, addr, subnet string, want func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := queryECS(t, addr, "app.gslb.example.test.", dns.TypeA, subnet)
		if want(got) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCLIDrainMovesDNS: drain takes fra out of the answers of a client in
// the United Kingdom, undrain brings it back.
func TestCLIDrainMovesDNS(t *testing.T) {
	s := startCLIServer(t)
	s.admin(t, "apply", "-f", "../../examples/state.yaml")
	fra := []string{"192.0.2.10", "192.0.2.11"}
	isFra := func(got []string) bool { return slices.Equal(got, fra) }
	noFra := func(got []string) bool {
		return len(got) > 0 && !slices.Contains(got, fra[0]) && !slices.Contains(got, fra[1])
	}
	if got := ecsAnswer(t, s.udp, "2.2.3.0/24", isFra); !isFra(got) {
		t.Fatalf("before the drain, the UK gets %v, want fra %v", got, fra)
	}

	drain := s.admin(t, "drain", "fra", "--reason", "kernel upgrade")
	t.Logf("drain: %s", drain.stdout)
	if drain.stdout != "datacenter/fra drained: kernel upgrade\n" {
		t.Errorf("drain printed %q", drain.stdout)
	}
	if got := ecsAnswer(t, s.udp, "2.2.3.0/24", noFra); !noFra(got) {
		t.Errorf("after the drain, the UK gets %v, want another data center than fra", got)
	} else {
		t.Logf("drained: the UK gets %v", got)
	}
	ov := s.admin(t, "get", "overrides")
	if !strings.Contains(ov.stdout, "datacenter/fra") || !strings.Contains(ov.stdout, "kernel upgrade") {
		t.Errorf("get overrides:\n%s", ov.stdout)
	}
	if r := s.run(t, cliAdminToken, "drain", "fra"); r.code != 2 || !strings.Contains(r.stderr, "--reason") {
		t.Errorf("drain without --reason: exit %d, stderr %q; want 2", r.code, r.stderr)
	}

	undrain := s.admin(t, "undrain", "fra")
	t.Logf("undrain: %s", undrain.stdout)
	if got := ecsAnswer(t, s.udp, "2.2.3.0/24", isFra); !isFra(got) {
		t.Errorf("after the undrain, the UK gets %v, want fra %v", got, fra)
	}
	if r := s.run(t, cliAdminToken, "undrain", "fra"); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("undrain without an override: exit %d, stderr %q; want 1 and 404", r.code, r.stderr)
	}

	// The other actions and the endpoint form go through the same route.
	s.admin(t, "force-down", "iad", "--reason", "fire drill")
	s.admin(t, "force-up", "--endpoint", "app.gslb.example.test/A/192.0.2.10", "--reason", "checks are wrong")
	ov = s.admin(t, "get", "overrides", "-o", "json")
	var list struct {
		Items []struct{ Target, Action string }
	}
	if err := json.Unmarshal([]byte(ov.stdout), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range list.Items {
		got[o.Target] = o.Action
	}
	if got["datacenter/iad"] != "force_down" || got["endpoint/app.gslb.example.test./A/192.0.2.10"] != "force_up" || len(got) != 2 {
		t.Errorf("overrides: %v", got)
	}
	s.admin(t, "undrain", "--endpoint", "app.gslb.example.test./A/192.0.2.10")
	s.admin(t, "undrain", "iad")
}

// TestCLITokensAndExitCodes: a read token can get but not drain (exit 1,
// 403); a wrong or revoked token is exit 1 with 401; no token and bad
// flags are exit 2; an unreachable server is exit 3.
func TestCLITokensAndExitCodes(t *testing.T) {
	s := startCLIServer(t)
	s.admin(t, "apply", "-f", "../../examples/state.yaml")

	created := s.admin(t, "token", "create", "oncall", "--role", "read")
	secret := strings.TrimSuffix(created.stdout, "\n")
	if !strings.HasPrefix(secret, "mer_") || strings.ContainsAny(secret, " \n") {
		t.Fatalf("token create printed %q, want the secret alone", created.stdout)
	}
	if !strings.Contains(created.stderr, "shown once") {
		t.Errorf("token create's notice: %q", created.stderr)
	}
	list := s.admin(t, "token", "list")
	if !regexp.MustCompile(`(?m)^oncall\s+read\s`).MatchString(list.stdout) || strings.Contains(list.stdout, secret) {
		t.Errorf("token list:\n%s", list.stdout)
	}

	s.run(t, secret, "get", "datacenters").ok(t, "get datacenters with a read token")
	r := s.run(t, secret, "drain", "fra", "--reason", "not allowed")
	if r.code != 1 || !strings.Contains(r.stderr, "403") || r.stdout != "" {
		t.Errorf("drain with a read token: exit %d, stdout %q, stderr %q; want 1 and 403", r.code, r.stdout, r.stderr)
	}
	if r := s.run(t, secret, "token", "create", "x", "--role", "admin"); r.code != 1 || !strings.Contains(r.stderr, "403") {
		t.Errorf("token create with a read token: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := s.run(t, "mer_wrong", "get", "datacenters"); r.code != 1 || !strings.Contains(r.stderr, "401") {
		t.Errorf("a wrong token: exit %d, stderr %q; want 1 and 401", r.code, r.stderr)
	}
	// --token wins over MERIDIAN_TOKEN.
	if r := s.run(t, "mer_wrong", "get", "datacenters", "--token", secret); r.code != 0 {
		t.Errorf("--token over a wrong MERIDIAN_TOKEN: exit %d, stderr %q", r.code, r.stderr)
	}

	s.admin(t, "token", "revoke", "oncall")
	if r := s.run(t, secret, "get", "datacenters"); r.code != 1 || !strings.Contains(r.stderr, "401") {
		t.Errorf("a revoked token: exit %d, stderr %q; want 1 and 401", r.code, r.stderr)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"get", "datacenters"}, "no API token"},
		{"unknown flag", []string{"get", "datacenters", "--bogus"}, "unknown flag"},
		{"unknown kind", []string{"get", "things"}, "unknown kind"},
		{"bad output", []string{"get", "datacenters", "-o", "xml"}, "-o"},
		{"no file", []string{"apply"}, "-f"},
		{"bad role", []string{"token", "create", "x", "--role", "root"}, "--role"},
		{"no role", []string{"token", "create", "x"}, "--role"},
		{"too many args", []string{"drain", "fra", "iad", "--reason", "x"}, "arg"},
		{"bad server", []string{"get", "datacenters", "--server", "ftp://x"}, "scheme"},
		{"explain without client", []string{"explain", "app.gslb.example.test"}, "--client"},
	} {
		token := cliAdminToken
		if tt.name == "no token" {
			token = ""
		}
		if r := s.run(t, token, tt.args...); r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2 and %q", tt.name, r.code, r.stdout, r.stderr, tt.want)
		}
	}

	// A server that is not there: exit 3.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	for _, args := range [][]string{{"get", "datacenters"}, {"drain", "fra", "--reason", "x"}, {"apply", "-f", "../../examples/state.yaml"}} {
		r := runCLI(t, []string{"MERIDIAN_SERVER=" + closed, "MERIDIAN_TOKEN=" + cliAdminToken}, args...)
		if r.code != 3 || !strings.Contains(r.stderr, "cannot reach") {
			t.Errorf("%v against a closed port: exit %d, stderr %q; want 3", args, r.code, r.stderr)
		}
	}
}

// TestCLIGetOutput: tables have a header line and a row per object; -o
// json is the API's JSON (all pages of a list), -o yaml parses.
func TestCLIGetOutput(t *testing.T) {
	s := startCLIServer(t)
	s.admin(t, "apply", "-f", "../../examples/state.yaml")
	s.admin(t, "drain", "sin", "--reason", "test")

	headers := map[string]string{
		"zones":       `^NAME\s+TTL\s+NAMESERVERS\s+RECORDS\s+MANAGED BY\s+REVISION$`,
		"regions":     `^NAME\s+CONTINENTS\s+COUNTRIES\s+NETWORKS\s+MANAGED BY\s+REVISION$`,
		"datacenters": `^NAME\s+REGION\s+LAT\s+LON\s+MANAGED BY\s+REVISION$`,
		"services":    `^NAME\s+TYPE\s+POLICY\s+TTL\s+ENDPOINTS\s+MANAGED BY\s+REVISION$`,
		"overrides":   `^TARGET\s+ACTION\s+REASON\s+BY\s+AT$`,
		"events":      `^SEQ\s+AT\s+TYPE\s+OBJECT\s+ACTOR\s+DETAIL$`,
		"tokens":      `^NAME\s+ROLE\s+CREATED\s+MANAGED BY$`,
		"checkers":    `^NAME\s+REGION\s+LAST SEEN\s+ISOLATED$`,
	}
	// checkers is left out: the node's embedded checker shows up once it
	// has reported on the applied services' checks, at its own pace.
	rows := map[string]int{"zones": 1, "regions": 3, "datacenters": 3, "services": 4, "overrides": 1, "tokens": 0}
	for kind, header := range headers {
		out := s.admin(t, "get", kind).stdout
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if !regexp.MustCompile(header).MatchString(lines[0]) {
			t.Errorf("get %s: header %q", kind, lines[0])
		}
		if n, ok := rows[kind]; ok && len(lines)-1 != n {
			t.Errorf("get %s: %d rows, want %d:\n%s", kind, len(lines)-1, n, out)
		}
	}
	dcs := s.admin(t, "get", "datacenters").stdout
	if !regexp.MustCompile(`(?m)^fra\s+europe\s+50\.11\s+8\.68\s+apply\s+\d+$`).MatchString(dcs) {
		t.Errorf("get datacenters:\n%s", dcs)
	}

	// -o json: a list is {"items", "next": ""}, with every page.
	var list struct {
		Items []struct {
			Name     string `json:"name"`
			Region   string `json:"region"`
			Revision int64  `json:"revision"`
		} `json:"items"`
		Next *string `json:"next"`
	}
	out := s.admin(t, "get", "datacenters", "-o", "json").stdout
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 3 || list.Next == nil || *list.Next != "" {
		t.Fatalf("get datacenters -o json: %v\n%s", err, out)
	}
	var one map[string]any
	out = s.admin(t, "get", "datacenters", "fra", "-o", "json").stdout
	if err := json.Unmarshal([]byte(out), &one); err != nil || one["name"] != "fra" || one["managed_by"] != "apply" {
		t.Errorf("get datacenters fra -o json: %v\n%s", err, out)
	}
	out = s.admin(t, "get", "services", "app.gslb.example.test", "-o", "json").stdout
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 2 {
		t.Errorf("get services app.gslb.example.test (A and AAAA) -o json: %v\n%s", err, out)
	}
	var y map[string]any
	out = s.admin(t, "get", "datacenters", "fra", "-o", "yaml").stdout
	if err := yaml.Unmarshal([]byte(out), &y); err != nil || y["name"] != "fra" || y["location"].(map[string]any)["lat"] != 50.11 {
		t.Errorf("get datacenters fra -o yaml: %v\n%s", err, out)
	}
	if r := s.run(t, cliAdminToken, "get", "datacenters", "nowhere"); r.code != 1 || !strings.Contains(r.stderr, "404") {
		t.Errorf("get of a missing data center: exit %d, stderr %q", r.code, r.stderr)
	}

	// Events: pages followed, filters passed on.
	for i := range 5 {
		s.admin(t, "drain", "sin", "--reason", "again "+string(rune('a'+i)))
	}
	var events struct {
		Items []struct {
			Seq    int64  `json:"seq"`
			Object string `json:"object"`
		} `json:"items"`
	}
	out = s.admin(t, "get", "events", "--object", "override/datacenter/sin", "--since", "1h", "-o", "json").stdout
	if err := json.Unmarshal([]byte(out), &events); err != nil || len(events.Items) != 6 {
		t.Fatalf("get events --object: %v\n%s", err, out)
	}
	out = s.admin(t, "get", "events", "--limit", "2", "-o", "json").stdout
	if err := json.Unmarshal([]byte(out), &events); err != nil || len(events.Items) != 2 || events.Items[0].Seq >= events.Items[1].Seq {
		t.Errorf("get events --limit 2: %v\n%s", err, out)
	}
	if out := s.admin(t, "get", "events", "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)).stdout; strings.Count(out, "\n") != 1 {
		t.Errorf("get events from the future:\n%s", out)
	}
}

// TestCLIExplainRemoteMatchesLocal: `meridian explain` asks the server
// without --config and computes locally with it; for the same state and
// GeoIP database both print the same, as text and as JSON. (Negative
// answers differ in the SOA serial: the store revision against 0.)
func TestCLIExplainRemoteMatchesLocal(t *testing.T) {
	s := startCLIServer(t)
	s.admin(t, "apply", "-f", "../../examples/state.yaml")
	for _, q := range [][]string{
		{"app.gslb.example.test", "--client", "2.2.3.0/24"},
		{"app.gslb.example.test", "--client", "2001:218::/32", "--type", "AAAA"},
		{"api.gslb.example.test", "--client", "175.16.199.0/24"},
		{"app.gslb.example.test", "--client", "81.2.69.142"},
		{"www.gslb.example.test", "--client", "2.2.3.0/24"},
		{"docs.gslb.example.test", "--client", "192.0.2.1"},
		// Not a negative answer: its SOA serial is the store revision on
		// the server and 0 for a state file.
	} {
		for _, form := range [][]string{nil, {"--json"}} {
			args := append(append([]string{"explain"}, q...), form...)
			remote := s.admin(t, args...)
			local := s.admin(t, append(args, "--config", "../../examples/meridian.yaml")...)
			if remote.stdout != local.stdout {
				t.Errorf("%v: remote and local differ\nremote:\n%s\nlocal:\n%s", args, remote.stdout, local.stdout)
			}
			if !strings.Contains(remote.stdout, "answer") {
				t.Errorf("%v: no answer in\n%s", args, remote.stdout)
			}
		}
	}
	// After a drain the server's answer changes and the file's does not:
	// remote explain is the server's view.
	s.admin(t, "drain", "fra", "--reason", "explain test")
	deadline := time.Now().Add(5 * time.Second)
	for {
		remote := s.admin(t, "explain", "app.gslb.example.test", "--client", "2.2.3.0/24", "--json")
		var e struct {
			Answer []string `json:"answer"`
		}
		if err := json.Unmarshal([]byte(remote.stdout), &e); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(e.Answer, " "), "192.0.2.10") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("remote explain still answers fra after the drain: %v", e.Answer)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}
