// Package etcdtest runs real etcd servers for tests: etcd's own server,
// embedded in the test process through go.etcd.io/etcd/server/v3/embed, on
// loopback ports, with its data in a test's temporary directory. A member
// can be stopped and started again on the same ports and data, which is
// how the cluster tests take etcd away from Meridian and give it back.
//
// Only tests import it; the meridian binary does not link etcd's server.
package etcdtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
)

// Options change how Start runs the members.
type Options struct {
	// ClientTLS, when set, makes the members serve clients over TLS
	// (https:// client URLs) with these files; ClientCertAuth in it
	// requires client certificates from its TrustedCAFile.
	ClientTLS *transport.TLSInfo
}

// MaxTxnOps is the operations limit per transaction the test servers run
// with: the value deploy/ recommends (etcd's default is 128), so that a
// reconcile of a realistic state fits in one transaction.
const MaxTxnOps = 10000

// MaxRequestBytes is the request size limit of the test servers: the
// value deploy/ recommends (etcd's default is 1.5 MiB).
const MaxRequestBytes = 10 << 20

// startTimeout bounds how long a member may take to join its cluster.
const startTimeout = 30 * time.Second

// Cluster is a set of etcd members on loopback.
type Cluster struct {
	t       testing.TB
	members []*Member
}

// Member is one etcd server of a Cluster.
type Member struct {
	Name    string
	Client  string // http(s)://127.0.0.1:port, the client URL
	peer    string
	dir     string
	initial string // the initial-cluster string
	tls     *transport.TLSInfo

	mu sync.Mutex
	e  *embed.Etcd
}

// Start runs a cluster of n members and waits until it has a leader. The
// members are stopped when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartWith(t, n, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	// The ports are free when chosen, but another test may bind one
	// before etcd does: then start again on others, a few times.
	for attempt := 1; ; attempt++ {
		c, err := start(t, n, opts)
		if err == nil {
			t.Cleanup(c.Stop)
			return c
		}
		c.Stop()
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("etcdtest: %v; starting again on other ports", err)
	}
}

func start(t testing.TB, n int, opts Options) (*Cluster, error) {
	c := &Cluster{t: t}
	scheme := "http"
	if opts.ClientTLS != nil {
		scheme = "https"
	}
	ports := freePorts(t, 2*n)
	var initial []string
	for i := range n {
		m := &Member{
			Name:   fmt.Sprintf("etcd%d", i),
			Client: fmt.Sprintf("%s://127.0.0.1:%d", scheme, ports[2*i]),
			peer:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1]),
			dir:    filepath.Join(t.TempDir(), fmt.Sprintf("etcd%d", i)),
			tls:    opts.ClientTLS,
		}
		c.members = append(c.members, m)
		initial = append(initial, m.Name+"="+m.peer)
	}
	for _, m := range c.members {
		m.initial = strings.Join(initial, ",")
	}
	// A member of a cluster of several becomes ready only once a quorum
	// runs, so start them all before waiting for any.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.start()
		}()
	}
	wg.Wait()
	return c, errors.Join(errs...)
}

// Endpoints returns every member's client URL.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.Client
	}
	return out
}

// Member returns member i.
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Stop stops every member.
func (c *Cluster) Stop() {
	for _, m := range c.members {
		m.Stop()
	}
}

// Restart starts every stopped member again, on its ports and data, and
// waits until the cluster has a leader.
func (c *Cluster) Restart() {
	c.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(c.members))
	for i, m := range c.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Start()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			c.t.Fatal(err)
		}
	}
}

// Stop stops the member; its data stays for Start. Stopping a stopped
// member does nothing.
func (m *Member) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.e == nil {
		return
	}
	m.e.Close()
	m.e = nil
}

// Start starts a stopped member again and waits until it is ready (which,
// in a cluster, needs a quorum of members running). Starting a running
// member does nothing.
func (m *Member) Start() error {
	m.mu.Lock()
	running := m.e != nil
	m.mu.Unlock()
	if running {
		return nil
	}
	return m.start()
}

func (m *Member) start() error {
	cfg := embed.NewConfig()
	cfg.Name = m.Name
	cfg.Dir = m.dir
	client, _ := url.Parse(m.Client)
	peer, _ := url.Parse(m.peer)
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = m.initial
	cfg.InitialClusterToken = "meridian-test"
	cfg.ClusterState = embed.ClusterStateFlagNew // ignored once the data directory exists
	if m.tls != nil {
		cfg.ClientTLSInfo = *m.tls
	}
	cfg.MaxTxnOps = MaxTxnOps
	cfg.MaxRequestBytes = MaxRequestBytes
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{"/dev/null"}
	// Elections in a test run on a busy 2-core machine under -race:
	// etcd's defaults (100 ms ticks, 1 s elections) are fine there too.
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcdtest: starting %s: %w", m.Name, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fmt.Errorf("etcdtest: %s failed: %w", m.Name, err)
	case <-time.After(startTimeout):
		e.Close()
		return fmt.Errorf("etcdtest: %s not ready after %s", m.Name, startTimeout)
	}
	m.mu.Lock()
	m.e = e
	m.mu.Unlock()
	return nil
}

// freePorts reserves n distinct loopback ports by listening on port 0, and
// releases them for etcd to take. (etcd's embed takes URLs, not
// listeners; a port another process grabs in between fails the start
// with a clear error.)
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports
}
