package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dnsserver"
	"github.com/meridian-gslb/meridian/store/model"
)

// unboundZone is served by Meridian behind unbound. big has 60 TXT records,
// far more than fits in unbound's 1232-byte UDP buffer.
func unboundZone() string {
	var b strings.Builder
	b.WriteString(`$ORIGIN gslb.example.test.
$TTL 300
@     IN NS    ns1
ns1   IN A     127.0.0.1
www   IN A     192.0.2.10
www   IN A     192.0.2.11
app   IN CNAME www
docs  IN CNAME app
`)
	for i := 0; i < 60; i++ {
		fmt.Fprintf(&b, "big IN TXT \"record %02d padding padding padding padding padding\"\n", i)
	}
	return b.String()
}

// TestThroughUnbound puts a real recursive resolver, unbound, in front of
// Meridian with a stub-zone: the path every real user takes.
func TestThroughUnbound(t *testing.T) {
	unbound := sbinTool(t, "unbound")

	recs, err := dnsserver.ParseZoneFile(strings.NewReader(unboundZone()), "gslb.example.test.", "unbound.zone", 300)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := dnsserver.Build(&model.State{Zones: []model.Zone{{Name: "gslb.example.test.", Records: recs}}}, 1, dnsserver.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}})
	srv.Swap(snap)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	meridianPort := srv.UDPAddrs()[0].(*net.UDPAddr).Port
	if tcpPort := srv.TCPAddrs()[0].(*net.TCPAddr).Port; tcpPort != meridianPort {
		t.Fatalf("UDP port %d and TCP port %d differ; unbound's stub-addr needs one port", meridianPort, tcpPort)
	}

	addr := startUnbound(t, unbound, meridianPort)

	ask := func(name string, qtype uint16, network string) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.SetEdns0(1232, false)
		c := &dns.Client{Net: network, Timeout: 5 * time.Second}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s %s over %s through unbound: %v", name, dns.TypeToString[qtype], network, err)
		}
		return r
	}

	t.Run("A", func(t *testing.T) {
		r := ask("www.gslb.example.test.", dns.TypeA, "udp")
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
			t.Fatalf("www A: rcode %s, answer %v", dns.RcodeToString[r.Rcode], r.Answer)
		}
		if !r.RecursionAvailable {
			t.Error("unbound's answer has no RA: did it really resolve?")
		}
	})
	t.Run("NXDOMAIN", func(t *testing.T) {
		r := ask("nope.gslb.example.test.", dns.TypeA, "udp")
		if r.Rcode != dns.RcodeNameError {
			t.Fatalf("nope: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
		}
		if len(r.Ns) == 0 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
			t.Errorf("NXDOMAIN without the SOA: %v", r.Ns)
		}
	})
	t.Run("CNAME chain", func(t *testing.T) {
		r := ask("docs.gslb.example.test.", dns.TypeA, "udp")
		var chain []string
		var addrs int
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.CNAME:
				chain = append(chain, rr.Hdr.Name+">"+rr.Target)
			case *dns.A:
				addrs++
			}
		}
		want := []string{"docs.gslb.example.test.>app.gslb.example.test.", "app.gslb.example.test.>www.gslb.example.test."}
		if r.Rcode != dns.RcodeSuccess || strings.Join(chain, ",") != strings.Join(want, ",") || addrs != 2 {
			t.Fatalf("docs A: rcode %s, chain %v, %d addresses; want %v and 2", dns.RcodeToString[r.Rcode], chain, addrs, want)
		}
	})
	t.Run("large answer: TC over UDP, then TCP", func(t *testing.T) {
		before := srv.Stats()
		r := ask("big.gslb.example.test.", dns.TypeTXT, "tcp")
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 60 {
			t.Fatalf("big TXT: rcode %s, %d records, want all 60", dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		after := srv.Stats()
		if after.Truncated <= before.Truncated {
			t.Errorf("Meridian truncated nothing (%d -> %d): unbound did not meet TC", before.Truncated, after.Truncated)
		}
		if after.TCP <= before.TCP {
			t.Errorf("Meridian answered no TCP query (%d -> %d): unbound did not retry over TCP", before.TCP, after.TCP)
		}
	})
}

// startUnbound runs unbound in the foreground on a free loopback port with
// a stub-zone to Meridian, and returns its address once it answers.
// Everything but the test zone is refused locally and outgoing queries
// leave from 127.0.0.1 only, so it never reaches beyond this machine.
func startUnbound(t *testing.T, unbound string, meridianPort int) string {
	t.Helper()
	dir := t.TempDir()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		conf := filepath.Join(dir, "unbound.conf")
		err := os.WriteFile(conf, []byte(fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  outgoing-interface: 127.0.0.1
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "%s"
  pidfile: ""
  logfile: ""
  use-syslog: no
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  edns-buffer-size: 1232
  local-zone: "." refuse
  local-zone: "gslb.example.test." transparent
remote-control:
  control-enable: no
stub-zone:
  name: "gslb.example.test."
  stub-addr: 127.0.0.1@%d
`, port, dir, meridianPort)), 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(sbinTool(t, "unbound-checkconf"), conf).CombinedOutput(); err != nil {
			t.Fatalf("unbound-checkconf: %v\n%s", err, out)
		}
		cmd := exec.Command(unbound, "-d", "-c", conf)
		var logBuf strings.Builder
		cmd.Stdout, cmd.Stderr = &logBuf, &logBuf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if waitAnswering(addr, exited, 10*time.Second) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return addr
		}
		_ = cmd.Process.Kill()
		<-exited
		if attempt == 2 {
			t.Fatalf("unbound did not start answering on %s:\n%s", addr, logBuf.String())
		}
		t.Logf("unbound did not start on port %d (taken?), retrying:\n%s", port, logBuf.String())
	}
}

// sbinTool finds a tool that Debian installs in /usr/sbin, which is not on
// every user's PATH. A missing tool fails the test: CI installs it.
func sbinTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s is not installed (.ci/run installs it with apt-get): %v", name, err)
	}
	return p
}

// waitAnswering polls addr with a SOA query until unbound answers, exits,
// or the deadline passes.
func waitAnswering(addr string, exited <-chan error, within time.Duration) bool {
	deadline := time.Now().Add(within)
	m := new(dns.Msg)
	m.SetQuestion("gslb.example.test.", dns.TypeSOA)
	c := &dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess {
			return true
		}
		time.Sleep(20 * time.Millisecond) // poll interval while unbound starts
	}
	return false
}

// freePort returns a loopback port that is free on both UDP and TCP right
// now.
func freePort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}
