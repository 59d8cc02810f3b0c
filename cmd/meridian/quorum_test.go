package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The quorum test runs three real `meridian checker` processes against a
// real `meridian serve`, and cuts checkers off from one data center's
// backend with the kernel's policy routing: a rule that answers
// "prohibited" for packets from a checker's user id to that backend's
// address. Rules are per network namespace, so the test runs inside a
// namespace it creates (`ip netns add`), never touching the host's
// routing: the parent test re-runs this test binary inside it.

const (
	envQuorumNetns = "MERIDIAN_TEST_NETNS" // set in the child: the namespace it runs in
	// The cut-off checkers' user ids. uidCut is cut off from the start;
	// uidLater is cut off when the test adds its rule.
	uidGood  = 0
	uidLater = 65532
	uidCut   = 65534
	// alphaIP is the address of the backend of data center alpha, the
	// one that checkers get cut off from.
	alphaIP = "127.0.0.2"
	betaIP  = "127.0.0.3"
)

func TestQuorumThreeCheckers(t *testing.T) {
	if ns := os.Getenv(envQuorumNetns); ns != "" {
		quorumInNamespace(t, ns)
		return
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test creates a network namespace and runs checkers as other users: it needs root (CI runs as root)")
	}
	ipTool := sbinTool(t, "ip")
	ns := fmt.Sprintf("meridian-quorum-%d", os.Getpid())
	if out, err := exec.Command(ipTool, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", ns, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ipTool, "netns", "delete", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v\n%s", ns, err, out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ipTool, "netns", "exec", ns, os.Args[0],
		"-test.run", "^TestQuorumThreeCheckers$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), envQuorumNetns+"="+ns, envTestBin+"="+meridianBin)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		t.Log(line)
	}
	if err != nil {
		t.Fatalf("the test inside namespace %s failed: %v", ns, err)
	}
}

// quorumInNamespace is the test proper, inside a fresh network namespace.
func quorumInNamespace(t *testing.T, ns string) {
	ipTool := sbinTool(t, "ip")
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(ipTool, args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("link", "set", "lo", "up")
	// The local table is looked up first (rule 0) and would deliver
	// loopback traffic before any other rule is seen: move it after the
	// rules that cut checkers off.
	ip("rule", "add", "pref", "100", "table", "local")
	ip("rule", "del", "pref", "0")
	cutOff := func(uid int) {
		ip("rule", "add", "pref", "10", "uidrange", fmt.Sprintf("%d-%d", uid, uid), "to", alphaIP+"/32", "prohibit")
	}
	cutOff(uidCut)

	alpha := newBackendOn(t, alphaIP+":0")
	beta := newBackendOn(t, betaIP+":0")
	dir := t.TempDir()
	check := "{type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 1, fall: 2, quorum: majority}"
	state := twoDCState(t, check, alpha, beta)
	cfg := filepath.Join(dir, "meridian.yaml")
	writeFile(t, cfg, fmt.Sprintf("data_dir: %s\nstate: %s\nchecker: {embedded: false}\n", filepath.Join(dir, "data"), state))
	p := startServeEnv(t, []string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken}, "--config", cfg)
	server := "http://" + p.http
	token := createToken(t, server, "fleet", "checker")

	// The agents run as other users: give them a binary they may run.
	bin := agentBinary(t)
	good := startAgent(t, bin, uidGood, "good", server, token)
	later := startAgent(t, bin, uidLater, "later", server, token)
	cut := startAgent(t, bin, uidCut, "cut", server, token)

	// One of three cut off: alpha stays up, with the cut-off checker's
	// down vote counted and outvoted.
	v := waitAlpha(t, p, func(v verdictView) bool {
		return v.Health == "up" && v.voteOf("cut") == "down" && v.voteOf("good") == "up" && v.voteOf("later") == "up"
	}, 15*time.Second)
	t.Logf("one of three cut off: alpha %s (%s); cut's error: %s", v.Health, v.Reason, v.errorOf("cut"))
	if !strings.Contains(v.errorOf("cut"), "permission denied") {
		t.Errorf("the cut-off checker's error is %q, want the kernel's refusal (permission denied)", v.errorOf("cut"))
	}
	// It stays up while the thresholds would have taken it down several
	// times over.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if got := answerOf(t, p); !slices.Equal(got, []string{"192.0.2.1"}) {
			t.Fatalf("with one of three checkers cut off the answer is %v, want alpha's 192.0.2.1", got)
		}
	}

	// Two of three cut off: alpha goes down and out of the answer.
	start := time.Now()
	cutOff(uidLater)
	v = waitAlpha(t, p, func(v verdictView) bool { return v.Health == "down" }, 10*time.Second)
	took := waitAnswer(t, p, []string{"192.0.2.2"}, 5*time.Second)
	t.Logf("two of three cut off: alpha down after %v (%s)", time.Since(start).Round(time.Millisecond), v.Reason)
	_ = took

	// Kill the first cut-off checker: its votes expire after three
	// intervals of silence, and the two left (one up, one down: a tie)
	// keep alpha up.
	if err := cut.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-cut.done
	start = time.Now()
	v = waitAlpha(t, p, func(v verdictView) bool { return v.Health == "up" }, 10*time.Second)
	t.Logf("cut-off checker killed: alpha %s after %v (%s)", v.Health, time.Since(start).Round(time.Millisecond), v.Reason)
	if !strings.Contains(v.Reason, "of 2 fresh votes") || v.voteOf("cut") != "" {
		t.Errorf("after the kill the verdict is not from the other two: %s, votes %+v", v.Reason, v.Votes)
	}
	waitAnswer(t, p, []string{"192.0.2.1"}, 5*time.Second)
	for _, a := range []*checkerAgent{good, later} {
		if a.exited() {
			t.Errorf("agent %v exited", a.cmd.Args)
		}
	}
	p.stop(t)
}

// newBackendOn is newBackend listening on addr ("127.0.0.2:0"); it returns
// the address.
func newBackendOn(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// createToken makes an API token of role and returns its secret.
func createToken(t *testing.T, server, name, role string) string {
	t.Helper()
	code, body := apiCall(t, "POST", server+"/api/v1/tokens", testAdminToken, map[string]string{"name": name, "role": role})
	if code != http.StatusCreated {
		t.Fatalf("creating token %s: %d %s", name, code, body)
	}
	var tok struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Secret == "" {
		t.Fatalf("token answer %s: %v", body, err)
	}
	return tok.Secret
}

// agentBinary copies the test binary of meridian where every user may
// run it.
func agentBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "meridian-agent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(meridianBin)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "meridian")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// startAgent runs `meridian checker` as uid and waits for its first
// check list.
func startAgent(t *testing.T, bin string, uid int, name, server, token string) *checkerAgent {
	t.Helper()
	var attr *syscall.SysProcAttr
	if uid != 0 {
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	a := startCheckerAgentAs(t, bin, attr, server, token, name, "--region", "test")
	a.waitLog(t, "check list updated", 0, 15*time.Second)
	return a
}

// verdictView is the part of a stored verdict the tests read.
type verdictView struct {
	Endpoint string `json:"endpoint"`
	Health   string `json:"health"`
	Reason   string `json:"reason"`
	Votes    []struct {
		Checker string `json:"checker"`
		Health  string `json:"health"`
		Error   string `json:"error"`
	} `json:"votes"`
}

func (v verdictView) voteOf(checker string) string {
	for _, vote := range v.Votes {
		if vote.Checker == checker {
			return vote.Health
		}
	}
	return ""
}

func (v verdictView) errorOf(checker string) string {
	for _, vote := range v.Votes {
		if vote.Checker == checker {
			return vote.Error
		}
	}
	return ""
}

// waitAlpha polls alpha's verdict (192.0.2.1) until ok accepts it.
func waitAlpha(t *testing.T, p *proc, ok func(verdictView) bool, limit time.Duration) verdictView {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last verdictView
	for {
		code, body := apiCall(t, "GET", "http://"+p.http+"/api/v1/verdicts", testAdminToken, nil)
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
			if v.Endpoint == "192.0.2.1" {
				last = v
				if ok(v) {
					return v
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alpha's verdict not as expected within %v; last: %+v\n%s", limit, last, p.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
