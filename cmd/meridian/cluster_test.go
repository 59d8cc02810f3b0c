package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/store/etcdtest"
)

// The cluster tests run real `meridian serve` processes on a real etcd
// (etcd's own server, embedded in the test process by store/etcdtest).

// clusterOutage is how long TestClusterEtcdOutage keeps etcd stopped
// while it checks that both nodes keep answering. MERIDIAN_CLUSTER_OUTAGE
// (a Go duration) sets another.
func clusterOutage(t *testing.T) time.Duration {
	if v := os.Getenv("MERIDIAN_CLUSTER_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("MERIDIAN_CLUSTER_OUTAGE: %v", err)
		}
		return d
	}
	return 2 * time.Minute
}

// clusterNode is one Meridian node of a test cluster.
type clusterNode struct {
	name, cfg string
	env       []string
	p         *proc
}

// clusterState writes a state file with one zone whose www answers
// 192.0.2.1, and returns its path.
func clusterState(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gslb.test.zone"), "www 30 IN A 192.0.2.1\n")
	path := filepath.Join(dir, "state.yaml")
	writeFile(t, path, `zones:
  - name: gslb.test
    file: gslb.test.zone
    nameservers: [{name: ns1.gslb.test, address: 127.0.0.1}]
`)
	return path
}

// newClusterNode writes a node's config (its own data directory, etcd at
// endpoints, no embedded checker unless extra says otherwise) and starts
// it.
func newClusterNode(t *testing.T, name string, endpoints []string, extra string) *clusterNode {
	t.Helper()
	return newClusterNodeEnv(t, name, endpoints, extra, "")
}

// newClusterNodeEnv is newClusterNode with storeExtra added to the store
// section and env to the process's environment. A checker line in extra
// overrides the default (no embedded checker).
func newClusterNodeEnv(t *testing.T, name string, endpoints []string, extra, storeExtra string, env ...string) *clusterNode {
	t.Helper()
	dir := t.TempDir()
	eps, _ := json.Marshal(endpoints)
	n := &clusterNode{name: name, cfg: filepath.Join(dir, "node.yaml"), env: env}
	checker := "checker: {embedded: false}\n"
	if strings.Contains(extra, "checker:") {
		checker = ""
	}
	writeFile(t, n.cfg, fmt.Sprintf(`data_dir: %s
node: {name: %s, region: eu}
%sstore:
  backend: etcd
  endpoints: %s
  dial_timeout: 1s
  request_timeout: 2s
  vote_ttl: 3s
%s%s`, filepath.Join(dir, "data"), name, checker, eps, storeExtra, extra))
	n.start(t)
	return n
}

func (n *clusterNode) start(t *testing.T) {
	t.Helper()
	p, err := tryStartServeIn(t, append([]string{"MERIDIAN_ADMIN_TOKEN=" + testAdminToken}, n.env...), "--config", n.cfg)
	if err != nil {
		t.Fatalf("node %s: %v", n.name, err)
	}
	n.p = p
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node %s logs:\n%s", n.name, n.p.Logs())
		}
	})
}

// kill stops the node with SIGKILL: no shutdown of any kind.
func (n *clusterNode) kill(t *testing.T) {
	t.Helper()
	if err := n.p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n.p.done
}

func (n *clusterNode) url() string { return "http://" + n.p.http }

// www is the node's answer for www.gslb.test A, sorted, or nil when the
// query failed (timeout) or was not answered NOERROR.
func (n *clusterNode) www() []string {
	m := new(dns.Msg)
	m.SetQuestion("www.gslb.test.", dns.TypeA)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, n.p.udp)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return nil
	}
	return aRecords(r)
}

// readyz returns the node's /readyz status and body.
func (n *clusterNode) readyz(t *testing.T) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(n.url() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// waitStatus polls /readyz until its status is want.
func (n *clusterNode) waitStatus(t *testing.T, want string, limit time.Duration) map[string]string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		code, body := n.readyz(t)
		if body["status"] == want {
			if code != http.StatusOK {
				t.Fatalf("node %s: /readyz %s with status %d, want 200", n.name, want, code)
			}
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: /readyz %d %v, want status %s within %v", n.name, code, body, want, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setWWW replaces the zone's records through the node's API, so that
// www.gslb.test answers addr, and returns the HTTP status and body.
func (n *clusterNode) setWWW(t *testing.T, addr string) (int, []byte) {
	t.Helper()
	zone := map[string]any{
		"nameservers": []map[string]string{{"name": "ns1.gslb.test.", "address": "127.0.0.1"}},
		"records":     []map[string]any{{"name": "www.gslb.test.", "type": "A", "ttl": 30, "data": addr}},
	}
	return apiCall(t, "PUT", n.url()+"/api/v1/zones/gslb.test.", testAdminToken, zone)
}

// waitWWW polls the node's answer until it is want and returns how long
// that took.
func (n *clusterNode) waitWWW(t *testing.T, want string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := n.www()
		if slices.Equal(got, []string{want}) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("node %s answers %v, want %s, not within %v", n.name, got, want, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClusterChangePropagates: a change applied through node A's API is
// answered by node B; the test measures how long that takes, 20 times.
func TestClusterChangePropagates(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	state := clusterState(t)
	a := newClusterNode(t, "node-a", c.Endpoints(), "state: "+state+"\n")
	b := newClusterNode(t, "node-b", c.Endpoints(), "")
	a.waitWWW(t, "192.0.2.1", 5*time.Second)
	b.waitWWW(t, "192.0.2.1", 5*time.Second)

	var took []time.Duration
	for i := range 20 {
		addr := fmt.Sprintf("192.0.2.%d", 10+i)
		start := time.Now()
		if code, body := a.setWWW(t, addr); code != http.StatusOK {
			t.Fatalf("PUT zone through node A: %d %s", code, body)
		}
		b.waitWWW(t, addr, 5*time.Second)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	median := took[len(took)/2]
	t.Logf("a change through node A answered by node B: median %v, min %v, max %v (20 changes; from the PUT to B's answer)",
		median.Round(time.Microsecond), took[0].Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))
	if median > time.Second {
		t.Errorf("median propagation %v, want within 1s", median)
	}
	for _, n := range []*clusterNode{a, b} {
		if code, body := n.readyz(t); code != http.StatusOK || body["status"] != "ready" {
			t.Errorf("node %s /readyz: %d %v", n.name, code, body)
		}
	}
	// Node A committed the state file and the 20 changes.
	code, body := apiCall(t, "GET", a.url()+"/metrics", testAdminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, want := range []string{"meridian_store_connected 1", "meridian_store_etcd_commits_total 21", "meridian_store_etcd_resyncs_total 0"} {
		if !strings.Contains(string(body), want+"\n") {
			t.Errorf("node A's /metrics lacks %q", want)
		}
	}
}

// TestClusterEtcdOutage: node B cut off from etcd keeps answering its last
// state, says so on /readyz and refuses writes, and catches up with node
// A's changes when the network is back. Then etcd stops altogether: both
// nodes answer every query for minutes, writes get 503, node B killed and
// restarted meanwhile serves its persisted state; when etcd is back both
// accept writes again and nothing written before the outage is lost.
func TestClusterEtcdOutage(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	state := clusterState(t)
	proxy := etcdtest.NewProxy(t, c.Endpoints()[0])
	a := newClusterNode(t, "node-a", c.Endpoints(), "state: "+state+"\n")
	b := newClusterNode(t, "node-b", []string{proxy.URL()}, "")
	b.waitWWW(t, "192.0.2.1", 5*time.Second)

	// Node B alone is cut off: A goes on, B serves what it had.
	proxy.Cut()
	body := b.waitStatus(t, "degraded", 15*time.Second)
	t.Logf("node B cut off: /readyz %v", body)
	if code, body := b.setWWW(t, "192.0.2.99"); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "last known state") {
		t.Fatalf("write through the cut-off node: %d %s, want 503", code, body)
	}
	if code, body := a.setWWW(t, "192.0.2.2"); code != http.StatusOK {
		t.Fatalf("write through node A: %d %s", code, body)
	}
	a.waitWWW(t, "192.0.2.2", 5*time.Second)
	if got := b.www(); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Fatalf("cut-off node B answers %v, want its last state 192.0.2.1", got)
	}
	proxy.Restore(t)
	took := b.waitWWW(t, "192.0.2.2", 30*time.Second)
	b.waitStatus(t, "ready", 15*time.Second)
	t.Logf("node B caught up %v after the network came back", took.Round(time.Millisecond))

	// etcd stops: both nodes answer, refuse writes, and B survives a
	// restart without it.
	c.Stop()
	for _, n := range []*clusterNode{a, b} {
		body := n.waitStatus(t, "degraded", 15*time.Second)
		if !strings.Contains(body["reason"], "etcd unreachable") {
			t.Errorf("node %s degraded for %q, want the etcd error", n.name, body["reason"])
		}
		if code, body := n.setWWW(t, "192.0.2.99"); code != http.StatusServiceUnavailable {
			t.Fatalf("write through node %s with etcd stopped: %d %s, want 503", n.name, code, body)
		}
	}
	outage := clusterOutage(t)
	deadline := time.Now().Add(outage)
	queries, restarted := 0, false
	for time.Now().Before(deadline) {
		for _, n := range []*clusterNode{a, b} {
			if got := n.www(); !slices.Equal(got, []string{"192.0.2.2"}) {
				t.Fatalf("node %s answers %v during the outage (after %d queries), want 192.0.2.2", n.name, got, queries)
			}
			queries++
		}
		if !restarted && time.Until(deadline) < outage/2 {
			b.kill(t)
			b.start(t)
			b.waitStatus(t, "degraded", 5*time.Second)
			restarted = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("etcd stopped for %v: %d queries to the two nodes, all answered with the last state; node B killed and restarted in between", outage, queries)

	c.Restart()
	for _, n := range []*clusterNode{a, b} {
		n.waitStatus(t, "ready", 30*time.Second)
	}
	if code, body := b.setWWW(t, "192.0.2.3"); code != http.StatusOK {
		t.Fatalf("write through node B after the outage: %d %s", code, body)
	}
	a.waitWWW(t, "192.0.2.3", 5*time.Second)
	// Nothing from before the outage is lost: the state file's zone was
	// adopted by the API writes; the nameserver's glue is still served.
	for _, n := range []*clusterNode{a, b} {
		r := query(t, "udp", n.p.udp, "ns1.gslb.test.", dns.TypeA)
		if len(r.Answer) != 1 {
			t.Errorf("node %s: ns1.gslb.test answer %v", n.name, r.Answer)
		}
	}
}

// TestClusterEtcdMemberDown: with one member of a three-member etcd
// cluster stopped (each in turn), the nodes stay ready, writes go through
// and reach the other node.
func TestClusterEtcdMemberDown(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	state := clusterState(t)
	a := newClusterNode(t, "node-a", c.Endpoints(), "state: "+state+"\n")
	b := newClusterNode(t, "node-b", c.Endpoints(), "")
	b.waitWWW(t, "192.0.2.1", 5*time.Second)
	for i := range 3 {
		m := c.Member(i)
		m.Stop()
		addr := fmt.Sprintf("192.0.2.%d", 20+i)
		if code, body := a.setWWW(t, addr); code != http.StatusOK {
			t.Fatalf("write with %s stopped: %d %s", m.Name, code, body)
		}
		b.waitWWW(t, addr, 5*time.Second)
		for _, n := range []*clusterNode{a, b} {
			if code, body := n.readyz(t); code != http.StatusOK || body["status"] != "ready" {
				t.Fatalf("node %s with %s stopped: /readyz %d %v", n.name, m.Name, code, body)
			}
		}
		if err := m.Start(); err != nil {
			t.Fatal(err)
		}
	}
}

// etcdVotes lists the checkers that have votes under prefix in etcd.
func etcdVotes(t *testing.T, endpoints []string) []string {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(t.Context(), "/meridian/vote/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		c, _, _ := strings.Cut(strings.TrimPrefix(string(kv.Key), "/meridian/vote/"), "|")
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// verdictEvents returns the verdict events on alpha (192.0.2.1) that a
// node's API lists, as "before→after" in order.
func verdictEvents(t *testing.T, n *clusterNode) []string {
	t.Helper()
	code, body := apiCall(t, "GET", n.url()+"/api/v1/events?type=verdict&limit=1000", testAdminToken, nil)
	if code != http.StatusOK {
		t.Fatalf("GET events from %s: %d %s", n.name, code, body)
	}
	var list struct {
		Items []struct {
			Seq    int64  `json:"seq"`
			Object string `json:"object"`
			Before string `json:"before"`
			After  string `json:"after"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		if strings.HasSuffix(e.Object, "/192.0.2.1") {
			out = append(out, fmt.Sprintf("%d:%s→%s", e.Seq, e.Before, e.After))
		}
	}
	return out
}

// TestClusterCheckerLease: two checker agents, each reporting to another
// node, vote into the shared store. One is killed: etcd deletes its votes
// when their lease runs out, and both nodes then hold the same verdict,
// counted from the other checker alone. A verdict change after that is
// recorded once, not once per node.
func TestClusterCheckerLease(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	primary, secondary := newBackend(t, nil), newBackend(t, nil)
	check := "{type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 1, fall: 1, quorum: all}"
	state := twoDCState(t, check, primary.addr, secondary.addr)
	a := newClusterNode(t, "node-a", c.Endpoints(), "state: "+state+"\n")
	b := newClusterNode(t, "node-b", c.Endpoints(), "")
	c1 := startCheckerAgent(t, a.url(), createToken(t, a.url(), "c1", "checker"), "c1", "--region", "eu")
	// c2's token is created through node A and used at node B: tokens
	// are shared state too.
	c2 := startCheckerAgent(t, b.url(), createToken(t, a.url(), "c2", "checker"), "c2", "--region", "us")

	both := func(v verdictView) bool { return v.Health == "up" && v.voteOf("c1") == "up" && v.voteOf("c2") == "up" }
	waitAlpha(t, a.p, both, 20*time.Second)
	waitAlpha(t, b.p, both, 5*time.Second)
	if got := etcdVotes(t, c.Endpoints()); !slices.Equal(got, []string{"c1", "c2"}) {
		t.Fatalf("votes in etcd from %v, want c1 and c2", got)
	}

	killed := time.Now()
	if err := c2.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c2.done
	for !slices.Equal(etcdVotes(t, c.Endpoints()), []string{"c1"}) {
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("c2's votes still in etcd %v after it was killed (vote_ttl 3s)", time.Since(killed))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("c2's votes expired from etcd %v after it was killed (vote_ttl 3s)", time.Since(killed).Round(time.Millisecond))
	onlyC1 := func(v verdictView) bool { return v.Health == "up" && v.voteOf("c1") == "up" && v.voteOf("c2") == "" }
	va := waitAlpha(t, a.p, onlyC1, 15*time.Second)
	vb := waitAlpha(t, b.p, onlyC1, 5*time.Second)
	if fmt.Sprint(va) != fmt.Sprint(vb) {
		t.Fatalf("the nodes disagree on alpha's verdict:\nA %+v\nB %+v", va, vb)
	}

	// The primary fails: c1 alone (quorum all of the fresh votes) takes
	// it down; the change is one event, seen alike on both nodes.
	before := len(verdictEvents(t, a))
	primary.stop()
	waitAlpha(t, a.p, func(v verdictView) bool { return v.Health == "down" }, 15*time.Second)
	waitAlpha(t, b.p, func(v verdictView) bool { return v.Health == "down" }, 5*time.Second)
	time.Sleep(2 * time.Second) // room for a duplicate to appear, were there one
	ea, eb := verdictEvents(t, a), verdictEvents(t, b)
	if !slices.Equal(ea, eb) {
		t.Fatalf("the nodes list different verdict events:\nA %v\nB %v", ea, eb)
	}
	if got := ea[before:]; len(got) != 1 || !strings.HasSuffix(got[0], "up→down") {
		t.Fatalf("verdict events after the failure: %v, want one up→down", got)
	}
	_ = c1
}

// TestClusterAgentFailsOver: an agent given both nodes reports to the
// first; when that node is cut off from etcd (and refuses writes with
// 503), and then killed, the agent reports to the other, and its vote
// stays fresh and in etcd throughout.
func TestClusterAgentFailsOver(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	primary, secondary := newBackend(t, nil), newBackend(t, nil)
	check := "{type: http, path: /healthz, interval: 1s, timeout: 500ms, rise: 1, fall: 1}"
	state := twoDCState(t, check, primary.addr, secondary.addr)
	proxy := etcdtest.NewProxy(t, c.Endpoints()[0])
	a := newClusterNode(t, "node-a", []string{proxy.URL()}, "state: "+state+"\n")
	b := newClusterNode(t, "node-b", c.Endpoints(), "")
	token := createToken(t, a.url(), "c1", "checker")
	agent := startCheckerAgent(t, a.url()+","+b.url(), token, "c1", "--region", "eu")
	up := func(v verdictView) bool { return v.Health == "up" && v.voteOf("c1") == "up" }
	waitAlpha(t, b.p, up, 20*time.Second)

	proxy.Cut()
	a.waitStatus(t, "degraded", 15*time.Second)
	e := agent.waitLog(t, "reporting to another server", 0, 10*time.Second)
	if e["server"] != b.url() {
		t.Fatalf("the agent moved to %v, want node B %s", e["server"], b.url())
	}
	// Past the vote lease (3 s) and the freshness window (3 intervals):
	// the vote is still there and counted, renewed through node B.
	time.Sleep(5 * time.Second)
	if got := etcdVotes(t, c.Endpoints()); !slices.Equal(got, []string{"c1"}) {
		t.Fatalf("votes in etcd %v after the agent's node was cut off, want c1's", got)
	}
	waitAlpha(t, b.p, up, time.Second)
	a.kill(t)
	time.Sleep(5 * time.Second)
	waitAlpha(t, b.p, up, time.Second)
	if agent.exited() {
		t.Fatalf("the agent exited:\n%s", agent.Logs())
	}
}
