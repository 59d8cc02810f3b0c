package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The remote checker agent, `meridian checker`, as a real process
// against a real `meridian serve` whose embedded checker is off, so that
// every vote is the agent's: it reports with a checker-role token, keeps
// running through an API outage, exits on a rejected token, and follows
// changes of the check list.

// agentCheck is a fast check: a 1 s interval, so that the agent polls
// its check list every second.
const agentCheck = "{type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 1, fall: 2}"

// agentServer is a `meridian serve` without an embedded checker, over
// two backends behind twoDCState's failover service.
type agentServer struct {
	*proc
	alpha, beta *backend
	args        []string // serve's arguments, for a restart
}

func startAgentServer(t *testing.T) *agentServer {
	t.Helper()
	alpha, beta := newBackend(t, nil), newBackend(t, nil)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "meridian.yaml")
	writeFile(t, cfg, "checker: {embedded: false}\n")
	args := []string{"--config", cfg, "--state", twoDCState(t, agentCheck, alpha.addr, beta.addr), "--data-dir", filepath.Join(dir, "data")}
	p := startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken}, args...)
	return &agentServer{proc: p, alpha: alpha, beta: beta, args: args}
}

func (s *agentServer) url() string { return "http://" + s.http }

// newToken makes an API token of role with the admin token and returns
// its secret.
func (s *agentServer) newToken(t *testing.T, name, role string) string {
	t.Helper()
	return createToken(t, s.url(), name, role)
}

// checkerSeen is a checker as GET /api/v1/checkers/{name} shows it.
type checkerSeen struct {
	Name     string `json:"name"`
	Region   string `json:"region"`
	Location *struct {
		Lat float64 `json:"lat"`
		Lon float64 `json:"lon"`
	} `json:"location"`
	LastSeen time.Time `json:"last_seen"`
}

// waitChecker polls the checker until ok accepts it.
func (s *agentServer) waitChecker(t *testing.T, name string, ok func(checkerSeen) bool, limit time.Duration) checkerSeen {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last checkerSeen
	for {
		code, body := apiCall(t, "GET", s.url()+"/api/v1/checkers/"+name, testAdminToken, nil)
		if code == http.StatusOK {
			last = checkerSeen{}
			if err := json.Unmarshal(body, &last); err != nil {
				t.Fatal(err)
			}
			if ok(last) {
				return last
			}
		} else if code != http.StatusNotFound {
			t.Fatalf("GET checker %s: %d %s", name, code, body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("checker %s not as expected within %v; last: %+v\n%s", name, limit, last, s.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitVerdictOf polls the verdict on endpoint until ok accepts it.
func (s *agentServer) waitVerdictOf(t *testing.T, endpoint string, ok func(verdictView) bool, limit time.Duration) verdictView {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last verdictView
	for {
		code, body := apiCall(t, "GET", s.url()+"/api/v1/verdicts", testAdminToken, nil)
		if code != http.StatusOK {
			t.Fatalf("GET verdicts: %d %s", code, body)
		}
		var list struct {
			Items []verdictView `json:"items"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatal(err)
		}
		for _, v := range list.Items {
			if v.Endpoint == endpoint {
				last = v
				if ok(v) {
					return v
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("verdict on %s not as expected within %v; last: %+v\n%s", endpoint, limit, last, s.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkerAgent is a running `meridian checker` with JSON logs.
type checkerAgent struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once it has exited and its logs are read
	err  error         // Wait's error, once done

	mu   sync.Mutex
	logs strings.Builder
}

// startCheckerAgent runs `meridian checker --server server --token token
// --name name` with extra flags. It does not wait for anything.
func startCheckerAgent(t *testing.T, server, token, name string, extra ...string) *checkerAgent {
	t.Helper()
	return startCheckerAgentAs(t, meridianBin, nil, server, token, name, extra...)
}

// startCheckerAgentAs is startCheckerAgent running bin with the process
// attributes attr (another user, for the quorum test); nil for none.
func startCheckerAgentAs(t *testing.T, bin string, attr *syscall.SysProcAttr, server, token, name string, extra ...string) *checkerAgent {
	t.Helper()
	args := append([]string{"checker", "--server", server, "--token", token, "--name", name, "--log-format", "json"}, extra...)
	a := &checkerAgent{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	a.cmd.SysProcAttr = attr
	stderr, err := a.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			a.mu.Lock()
			a.logs.WriteString(sc.Text() + "\n")
			a.mu.Unlock()
		}
		a.err = a.cmd.Wait()
		close(a.done)
	}()
	t.Cleanup(func() {
		if !a.exited() {
			_ = a.cmd.Process.Kill()
			<-a.done
		}
		if t.Failed() {
			t.Logf("agent %s logs:\n%s", name, a.Logs())
		}
	})
	return a
}

func (a *checkerAgent) Logs() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logs.String()
}

func (a *checkerAgent) exited() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// entries are the agent's JSON log lines with message msg.
func (a *checkerAgent) entries(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(a.Logs(), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && e["msg"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// waitLog waits until the agent has logged msg more than n times, and
// returns the last such entry.
func (a *checkerAgent) waitLog(t *testing.T, msg string, n int, limit time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if e := a.entries(msg); len(e) > n {
			return e[len(e)-1]
		}
		if a.exited() {
			t.Fatalf("the agent exited (%v) before logging %q:\n%s", a.err, msg, a.Logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not log %q within %v:\n%s", msg, limit, a.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitExit waits for the agent to exit and returns its exit code.
func (a *checkerAgent) waitExit(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(limit):
		t.Fatalf("the agent did not exit within %v:\n%s", limit, a.Logs())
	}
	var exit *exec.ExitError
	switch {
	case a.err == nil:
		return 0
	case errors.As(a.err, &exit):
		return exit.ExitCode()
	}
	t.Fatalf("the agent: %v", a.err)
	return -1
}

// stop sends SIGTERM and expects a clean exit.
func (a *checkerAgent) stop(t *testing.T) {
	t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.waitExit(t, 10*time.Second); code != 0 {
		t.Errorf("the agent exited %d after SIGTERM, want 0:\n%s", code, a.Logs())
	}
	if len(a.entries("checker agent stopped")) != 1 {
		t.Errorf("the agent did not log its stop:\n%s", a.Logs())
	}
}

// TestCheckerAgentReports: with a checker-role token, the agent shows up
// in /checkers with its region and location, its votes make the verdicts
// (the embedded checker is off), and a stopped backend goes down on its
// vote alone.
func TestCheckerAgentReports(t *testing.T) {
	s := startAgentServer(t)
	defer s.stop(t)
	token := s.newToken(t, "far", "checker")
	if code, _ := apiCall(t, "GET", s.url()+"/api/v1/verdicts", token, nil); code != http.StatusForbidden {
		t.Errorf("a checker token reads the verdicts: %d, want 403", code)
	}

	start := time.Now()
	a := startCheckerAgent(t, s.url(), token, "far-1", "--region", "eu", "--location", "50,8")
	jobs := a.waitLog(t, "check list updated", 0, 10*time.Second)
	if jobs["jobs"] != 2.0 || jobs["checker"] != "far-1" {
		t.Errorf("first check list: %v, want 2 jobs for far-1", jobs)
	}
	c := s.waitChecker(t, "far-1", func(c checkerSeen) bool { return !c.LastSeen.IsZero() }, 10*time.Second)
	if c.Region != "eu" || c.Location == nil || c.Location.Lat != 50 || c.Location.Lon != 8 {
		t.Errorf("checker far-1 is %+v, want region eu at 50,8", c)
	}
	for _, ep := range []string{"192.0.2.1", "192.0.2.2"} {
		v := s.waitVerdictOf(t, ep, func(v verdictView) bool { return v.Health == "up" && v.voteOf("far-1") == "up" }, 10*time.Second)
		if len(v.Votes) != 1 {
			t.Errorf("verdict on %s counts %d votes, want only far-1's: %+v", ep, len(v.Votes), v.Votes)
		}
	}
	t.Logf("agent started: both verdicts up on its votes after %v", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	s.alpha.stop()
	v := s.waitVerdictOf(t, "192.0.2.1", func(v verdictView) bool { return v.Health == "down" }, 10*time.Second)
	if v.voteOf("far-1") != "down" || !strings.Contains(v.Votes[0].Error, "connection refused") {
		t.Errorf("alpha down without far-1's down vote: %+v", v)
	}
	t.Logf("alpha's backend stopped: down on far-1's vote after %v (%s)", time.Since(start).Round(time.Millisecond), v.Reason)
	waitAnswer(t, s.proc, []string{"192.0.2.2"}, 5*time.Second)
	a.stop(t)
}

// restartServe starts `meridian serve` again with args on the HTTP
// address it had (args must name the same data directory), retrying
// while the port is still held.
func restartServe(t *testing.T, httpAddr string, args []string) *proc {
	t.Helper()
	args = append(args, "--http-listen", httpAddr) // the last --http-listen wins
	var lastErr error
	for attempt := 0; attempt < 10; attempt++ {
		p, err := tryStartServe(t, args...)
		if err == nil {
			return p
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(200 * time.Millisecond) // a retry of a bind, not synchronisation
	}
	t.Fatalf("restarting meridian on %s: %v", httpAddr, lastErr)
	return nil
}

// TestCheckerAgentSurvivesAPIOutage: the server stops while the agent
// runs; the agent says the API is unreachable and keeps running; the
// server starts again on the same address and data directory, and the
// same agent process reports again.
func TestCheckerAgentSurvivesAPIOutage(t *testing.T) {
	s := startAgentServer(t)
	token := s.newToken(t, "far", "checker")
	a := startCheckerAgent(t, s.url(), token, "far-1", "--region", "eu")
	s.waitVerdictOf(t, "192.0.2.1", func(v verdictView) bool { return v.voteOf("far-1") == "up" }, 10*time.Second)
	before := s.waitChecker(t, "far-1", func(c checkerSeen) bool { return !c.LastSeen.IsZero() }, 5*time.Second)
	pid := a.cmd.Process.Pid

	addr := s.http
	s.stop(t)
	down := time.Now()
	e := a.waitLog(t, "API unreachable or refusing writes; probing goes on and votes are reported when it answers again", 0, 10*time.Second)
	if !strings.Contains(fmt.Sprint(e["err"]), "cannot reach the server at "+s.url()) {
		t.Errorf("the unreachable log's error: %v", e["err"])
	}
	t.Logf("server stopped: the agent logged the API unreachable after %v", time.Since(down).Round(time.Millisecond))
	// The outage lasts three report intervals, during which the agent
	// must keep running.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if a.exited() {
			t.Fatalf("the agent exited during the outage (%v):\n%s", a.err, a.Logs())
		}
	}

	p := restartServe(t, addr, s.args)
	defer p.stop(t)
	s.proc = p
	back := time.Now()
	a.waitLog(t, "API reachable again; reporting", 0, 15*time.Second)
	after := s.waitChecker(t, "far-1", func(c checkerSeen) bool { return c.LastSeen.After(before.LastSeen.Add(3 * time.Second)) }, 10*time.Second)
	t.Logf("server back on %s after an outage of %v: the agent reports again after %v (last seen %v -> %v)", addr,
		back.Sub(down).Round(time.Millisecond), time.Since(back).Round(time.Millisecond), before.LastSeen.Format(time.StampMilli), after.LastSeen.Format(time.StampMilli))
	// Its votes are fresh and still its own, and it never restarted.
	s.waitVerdictOf(t, "192.0.2.1", func(v verdictView) bool { return v.Health == "up" && v.voteOf("far-1") == "up" }, 5*time.Second)
	if a.exited() || a.cmd.Process.Pid != pid || len(a.entries("checker agent started")) != 1 {
		t.Errorf("the agent restarted or exited during the outage:\n%s", a.Logs())
	}
	if n := len(a.entries("API unreachable or refusing writes; probing goes on and votes are reported when it answers again")); n != 1 {
		t.Errorf("the outage was logged %d times, want once", n)
	}
	a.stop(t)
}

// TestCheckerAgentRejectedToken: a wrong token, a read token (it may
// fetch the check list but not report) and a token revoked while the
// agent runs all make it exit 1 with a message naming the token.
func TestCheckerAgentRejectedToken(t *testing.T) {
	s := startAgentServer(t)
	defer s.stop(t)
	for _, tt := range []struct {
		name, token, status string
	}{
		{"wrong", "mer_wrong", "401"},
		{"read role", s.newToken(t, "viewer", "read"), "403"},
	} {
		start := time.Now()
		a := startCheckerAgent(t, s.url(), tt.token, "far-1")
		code := a.waitExit(t, 10*time.Second)
		took := time.Since(start)
		logs := a.Logs()
		if code != 1 || !strings.Contains(logs, "meridian: the server rejected the token") || !strings.Contains(logs, tt.status) ||
			!strings.Contains(logs, "--token") {
			t.Errorf("%s token: exit %d after %v; want 1 and a message naming the token:\n%s", tt.name, code, took, logs)
		}
		t.Logf("%s token: exit %d after %v", tt.name, code, took.Round(time.Millisecond))
	}

	token := s.newToken(t, "far", "checker")
	a := startCheckerAgent(t, s.url(), token, "far-1")
	s.waitChecker(t, "far-1", func(c checkerSeen) bool { return !c.LastSeen.IsZero() }, 10*time.Second)
	if code, body := apiCall(t, "DELETE", s.url()+"/api/v1/tokens/far", testAdminToken, nil); code != http.StatusNoContent {
		t.Fatalf("revoking the token: %d %s", code, body)
	}
	revoked := time.Now()
	code := a.waitExit(t, 10*time.Second)
	if logs := a.Logs(); code != 1 || !strings.Contains(logs, "meridian: the server rejected the token") || !strings.Contains(logs, "401") {
		t.Errorf("revoked token: exit %d; want 1 and a message naming the token:\n%s", code, logs)
	}
	if n := len(a.entries("the server rejected the token; stopping")); n < 1 {
		t.Errorf("no log of the rejection:\n%s", a.Logs())
	}
	t.Logf("token revoked while running: exit %d after %v", code, time.Since(revoked).Round(time.Millisecond))
}

// TestCheckerAgentFollowsCheckList: an endpoint added through the API is
// probed and voted on within a couple of intervals; removed, it leaves
// the agent's list and its verdict goes.
func TestCheckerAgentFollowsCheckList(t *testing.T) {
	s := startAgentServer(t)
	defer s.stop(t)
	var hits atomic.Int64
	gamma := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "ok")
	})
	token := s.newToken(t, "far", "checker")
	a := startCheckerAgent(t, s.url(), token, "far-1")
	s.waitVerdictOf(t, "192.0.2.2", func(v verdictView) bool { return v.voteOf("far-1") == "up" }, 10*time.Second)

	const path = "/api/v1/services/api.gslb.test?type=A"
	code, body := apiCall(t, "GET", s.url()+path, testAdminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("GET service: %d %s", code, body)
	}
	var svc map[string]any
	if err := json.Unmarshal(body, &svc); err != nil {
		t.Fatal(err)
	}
	original := svc["endpoints"]
	svc["endpoints"] = append(svc["endpoints"].([]any),
		map[string]any{"datacenter": "beta", "address": "192.0.2.3", "priority": 3, "check_target": gamma.addr})
	start := time.Now()
	if code, body := apiCall(t, "PUT", s.url()+path, testAdminToken, svc); code != http.StatusOK {
		t.Fatalf("PUT service with a third endpoint: %d %s", code, body)
	}
	if e := a.waitLog(t, "check list updated", 1, 5*time.Second); e["jobs"] != 3.0 {
		t.Errorf("the check list after the change: %v, want 3 jobs", e)
	}
	listed := time.Since(start)
	v := s.waitVerdictOf(t, "192.0.2.3", func(v verdictView) bool { return v.Health == "up" && v.voteOf("far-1") == "up" }, 5*time.Second)
	t.Logf("endpoint added: in the agent's list after %v, its vote in the verdict after %v (%s)", listed.Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond), v.Reason)
	if hits.Load() == 0 {
		t.Errorf("the new endpoint's backend was never probed")
	}

	// Removed again: the agent drops the job and the verdict goes.
	svc["endpoints"] = original
	delete(svc, "revision")
	start = time.Now()
	if code, body := apiCall(t, "PUT", s.url()+path, testAdminToken, svc); code != http.StatusOK {
		t.Fatalf("PUT service without the third endpoint: %d %s", code, body)
	}
	if e := a.waitLog(t, "check list updated", 2, 5*time.Second); e["jobs"] != 2.0 {
		t.Errorf("the check list after the removal: %v, want 2 jobs", e)
	}
	for deadline := time.Now().Add(5 * time.Second); verdictOf(t, s.proc, testAdminToken, "192.0.2.3") != ""; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the removed endpoint's verdict is still there after 5s")
		}
	}
	probes := hits.Load()
	t.Logf("endpoint removed: out of the agent's list and its verdict gone after %v (%d probes of it in all)", time.Since(start).Round(time.Millisecond), probes)
	// Unchanged lists answer 304 and are not logged as updates.
	if n := len(a.entries("check list updated")); n != 3 {
		t.Errorf("%d check list updates logged, want 3 (initial, added, removed)", n)
	}
	a.stop(t)
}

// Usage errors of the agent exit 2, as the API commands' do.
func TestCheckerAgentUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"checker", "--server", "http://127.0.0.1:1", "--token", "x"},                           // no --name
		{"checker", "--server", "http://127.0.0.1:1", "--token", "x", "--name", "a", "--bogus"}, // unknown flag
		{"checker", "--server", "http://127.0.0.1:1", "--token", "x", "--name", "a", "--location", "north"},
		{"checker", "--server", "http://127.0.0.1:1", "--name", "a"}, // no token
	} {
		r := runCLI(t, []string{"MERIDIAN_TOKEN="}, args...)
		if r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (stderr %q)", args, r.code, exitUsage, r.stderr)
		}
	}
}
