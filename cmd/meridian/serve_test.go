package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

// meridianBin is the binary built once for the tests that run it as a
// real process.
var meridianBin string

// envTestBin, when set, names an already built binary for the tests to
// run instead of building one (the quorum test's child process uses it).
const envTestBin = "MERIDIAN_TEST_BIN"

func TestMain(m *testing.M) {
	if bin := os.Getenv(envTestBin); bin != "" {
		meridianBin = bin
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "meridian-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	meridianBin = filepath.Join(dir, "meridian")
	if out, err := exec.Command("go", "build", "-o", meridianBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building meridian: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running `meridian serve`.
type proc struct {
	cmd            *exec.Cmd
	udp, tcp, http string
	done           chan error
	mu             sync.Mutex
	logs           strings.Builder
}

func (p *proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startServe runs `meridian serve` with args plus loopback :0 listeners and
// JSON logs, and returns once it has logged "ready".
func startServe(t testing.TB, args ...string) *proc {
	t.Helper()
	p, err := tryStartServe(t, args...)
	if err != nil {
		t.Fatalf("meridian %v", err)
	}
	return p
}

// tryStartServe is startServe returning an error, with the logs, when
// the server exits before it is ready.
func tryStartServe(t testing.TB, args ...string) (*proc, error) {
	t.Helper()
	return tryStartServeIn(t, nil, args...)
}

// tryStartServeIn is tryStartServe with env added to the process's
// environment (for parallel tests, which may not use t.Setenv).
func tryStartServeIn(t testing.TB, env []string, args ...string) (*proc, error) {
	t.Helper()
	args = append([]string{"serve", "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--log-format", "json"}, args...)
	p := &proc{cmd: exec.Command(meridianBin, args...), done: make(chan error, 1)}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan map[string]any, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == "ready" {
				ready <- entry
			}
		}
		p.done <- p.cmd.Wait()
	}()
	select {
	case entry := <-ready:
		t.Cleanup(func() {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
			}
		})
		p.udp = entry["dns_udp"].([]any)[0].(string)
		p.tcp = entry["dns_tcp"].([]any)[0].(string)
		p.http = entry["http"].(string)
		return p, nil
	case err := <-p.done:
		return nil, fmt.Errorf("exited before ready: %v\n%s", err, p.Logs())
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("not ready after 30s:\n%s", p.Logs())
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("meridian exited with %v after SIGTERM:\n%s", err, p.Logs())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("meridian did not stop within 15s of SIGTERM:\n%s", p.Logs())
	}
	if !strings.Contains(p.Logs(), `"msg":"stopped"`) {
		t.Errorf("no graceful stop logged:\n%s", p.Logs())
	}
}

func query(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

func TestServeBundledExample(t *testing.T) {
	p := startServe(t, "--config", "../../examples/meridian.yaml", "--data-dir", t.TempDir())
	for network, addr := range map[string]string{"udp": p.udp, "tcp": p.tcp} {
		r := query(t, network, addr, "www.gslb.example.test.", dns.TypeA)
		if !r.Authoritative || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
			t.Errorf("%s: www A: aa=%v rcode=%s answer=%v", network, r.Authoritative, dns.RcodeToString[r.Rcode], r.Answer)
		}
		r = query(t, network, addr, "gslb.example.test.", dns.TypeSOA)
		if len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Mbox != "hostmaster.example.test." {
			t.Errorf("%s: synthesized SOA = %v", network, r.Answer)
		}
	}
	resp, err := http.Get("http://" + p.http + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(p.Logs(), `"zones":["gslb.example.test."]`) {
		t.Errorf("start-up log does not say which zones are served:\n%s", p.Logs())
	}
	p.stop(t)
}

// TestRestartKeepsStateAndOtherSources restarts Meridian over the same data
// directory: what the state file manages follows the file, and a zone that
// another source (the API) created survives.
func TestRestartKeepsStateAndOtherSources(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	stateFile := filepath.Join(dir, "state.yaml")
	writeFile(t, filepath.Join(dir, "z.zone"), "www IN A 192.0.2.1\nold IN A 192.0.2.2\n")
	writeFile(t, stateFile, "zones:\n  - name: z.test\n    file: z.zone\n    nameservers: [{name: ns.example.net}]\n")

	p := startServe(t, "--state", stateFile, "--data-dir", data)
	if r := query(t, "udp", p.udp, "old.z.test.", dns.TypeA); len(r.Answer) != 1 {
		t.Fatalf("old.z.test before: %v", r)
	}
	p.stop(t)

	// While it is down: the API (another source) adds a zone, and the
	// operator removes a record from the zone file.
	st, err := store.OpenBolt(filepath.Join(data, "meridian.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Update(context.Background(), func(tx store.Tx) error {
		z := &model.Zone{Name: "api.test.", Meta: model.Meta{ManagedBy: model.SourceAPI},
			Nameservers: []model.Nameserver{{Name: "ns.example.net."}},
			Records:     []model.Record{{Name: "x.api.test.", Type: "A", TTL: 60, Data: "192.0.2.9"}}}
		return store.Put(tx, z, -1)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "z.zone"), "www IN A 192.0.2.1\n")

	p = startServe(t, "--state", stateFile, "--data-dir", data)
	if r := query(t, "udp", p.udp, "old.z.test.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Errorf("old.z.test after removal from the zone file: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if r := query(t, "udp", p.udp, "x.api.test.", dns.TypeA); len(r.Answer) != 1 {
		t.Errorf("the API's zone did not survive the restart: %v", r)
	}
	p.stop(t)
}

// TestStartupErrors: a bad config or zone file stops start-up with a
// message naming the file and line, and leaves the store as it was.
func TestStartupErrors(t *testing.T) {
	dir, data := t.TempDir(), t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, filepath.Join(dir, "z.zone"), "www IN A 192.0.2.1\n")
	writeFile(t, good, "zones:\n  - name: z.test\n    file: z.zone\n    nameservers: [{name: ns.example.net}]\n")
	startServe(t, "--state", good, "--data-dir", data).stop(t)
	revBefore := storeRevision(t, data)

	writeFile(t, filepath.Join(dir, "bad.zone"), "$TTL 60\nwww IN A 192.0.2.1\nmail IN A 192.0.2.300\n")
	writeFile(t, filepath.Join(dir, "bad.yaml"), "zones:\n  - name: z.test\n    file: bad.zone\n    nameservers: [{name: ns.example.net}]\n")
	writeFile(t, filepath.Join(dir, "badconf.yaml"), "dns:\n  listen: [\"127.0.0.1:0\"]\n  listn: x\n")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"config unknown key", []string{"--config", filepath.Join(dir, "badconf.yaml")}, "badconf.yaml:3: unknown key \"listn\""},
		{"zone file error", []string{"--state", filepath.Join(dir, "bad.yaml")}, "bad.zone:3: "},
		{"bad flag value", []string{"--dns-listen", "127.0.0.1"}, `dns.listen[0]: "127.0.0.1": not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", data}, tt.args...)
			out, err := exec.Command(meridianBin, args...).CombinedOutput()
			if err == nil {
				t.Fatalf("meridian started with %v; output:\n%s", tt.args, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output does not contain %q:\n%s", tt.want, out)
			}
		})
	}
	if got := storeRevision(t, data); got != revBefore {
		t.Errorf("store revision %d -> %d after failed starts: something was half-applied", revBefore, got)
	}
}

func storeRevision(t *testing.T, data string) int64 {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(data, "meridian.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rev, err := st.Revision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotFollowsStore: a store change reaches the DNS answers within
// 100 ms, through Watch, LoadState, Build and Swap.
func TestSnapshotFollowsStore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "meridian.db"), store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	zone := &model.Zone{Name: "f.test.", Nameservers: []model.Nameserver{{Name: "ns.example.net."}},
		Records: []model.Record{{Name: "www.f.test.", Type: "A", TTL: 60, Data: "192.0.2.1"}}}
	if _, err := st.Update(ctx, func(tx store.Tx) error { return store.Put(tx, zone, 0) }); err != nil {
		t.Fatal(err)
	}
	changes := st.Watch(ctx)
	snap, _, err := buildSnapshot(ctx, st, dnsserver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}})
	srv.Swap(snap)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	f := &follower{st: st, dns: srv, log: discardLogger(), built: snap.Revision()}
	go f.run(ctx, changes)
	addr := srv.UDPAddrs()[0].String()

	for i, want := range []string{"192.0.2.2", "192.0.2.3", "192.0.2.4"} {
		zone.Records[0].Data = want
		start := time.Now()
		if _, err := st.Update(ctx, func(tx store.Tx) error { return store.Put(tx, zone, 0) }); err != nil {
			t.Fatal(err)
		}
		for {
			r := query(t, "udp", addr, "www.f.test.", dns.TypeA)
			if len(r.Answer) == 1 && r.Answer[0].(*dns.A).A.String() == want {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("change %d not served after 1s", i)
			}
		}
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Errorf("change %d took %v to reach DNS answers, want within 100ms", i, took)
		}
	}

	// A change the builder rejects keeps the last good snapshot.
	bad := *zone
	bad.Records = []model.Record{{Name: "www.f.test.", Type: "A", TTL: 60, Data: "not-an-address"}}
	if _, err := st.Update(ctx, func(tx store.Tx) error { return store.Put(tx, &bad, 0) }); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); f.failures.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bad change was never built")
		}
	}
	if r := query(t, "udp", addr, "www.f.test.", dns.TypeA); len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.4" {
		t.Errorf("after a bad change: %v, want the last good answer", r.Answer)
	}
}
