package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/etcdtest"
	"github.com/meridian-gslb/meridian/store/model"
	"github.com/meridian-gslb/meridian/store/storetest"
)

// prefixes numbers the key prefixes of the stores opened on one etcd, so
// that each test has a store of its own.
var prefixes atomic.Int64

func newPrefix() string { return fmt.Sprintf("/meridian-test-%d/", prefixes.Add(1)) }

func openEtcd(t *testing.T, opts store.EtcdOptions) *store.Etcd {
	t.Helper()
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = 2 * time.Second
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 2 * time.Second
	}
	e, err := store.OpenEtcd(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestEtcdContract(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	storetest.Run(t, func(t *testing.T) store.Store {
		return openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: newPrefix(),
			MirrorPath: filepath.Join(t.TempDir(), "mirror.db")})
	})
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func region(t *testing.T, s store.Store, name string) *model.Region {
	t.Helper()
	var r *model.Region
	err := s.View(t.Context(), func(tx store.Tx) error {
		var err error
		r, err = store.Get[model.Region](tx, name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func putRegion(ctx context.Context, s store.Store, name string, countries ...string) (int64, error) {
	return s.Update(ctx, func(tx store.Tx) error {
		return store.Put(tx, &model.Region{Name: name, Countries: countries}, 0)
	})
}

// TestEtcdTwoNodes: two stores on one prefix (two Meridian nodes) see each
// other's writes through the watch, and concurrent read-modify-write
// transactions from both lose nothing: each runs again when the other
// committed first.
func TestEtcdTwoNodes(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	prefix := newPrefix()
	a := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix, MirrorPath: filepath.Join(t.TempDir(), "a.db")})
	b := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix, MirrorPath: filepath.Join(t.TempDir(), "b.db")})

	changes := b.Watch(t.Context())
	rev, err := putRegion(t.Context(), a, "eu", "DE")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-changes:
		if got != rev {
			t.Fatalf("b's watch reported revision %d, want %d", got, rev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b's watch reported nothing within 5s of a's write")
	}
	if r := region(t, b, "eu"); r == nil || r.Revision != rev {
		t.Fatalf("b reads %+v, want region eu at revision %d", r, rev)
	}

	// A counter in a region's country list, incremented 25 times by each
	// node at once: every increment must survive.
	const each = 25
	var wg sync.WaitGroup
	var runs atomic.Int64
	for _, s := range []store.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := s.Update(t.Context(), func(tx store.Tx) error {
					runs.Add(1)
					r, err := store.Get[model.Region](tx, "eu")
					if err != nil {
						return err
					}
					r.Countries = append(r.Countries, "FR")
					return store.Put(tx, r, r.Revision)
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, s := range []store.Store{a, b} {
		eventually(t, 5*time.Second, "both nodes at the last revision", func() bool {
			r, _ := s.Revision(t.Context())
			return r == rev+2*each
		})
		if r := region(t, s, "eu"); len(r.Countries) != 1+2*each {
			t.Fatalf("%d countries after %d increments, want %d", len(r.Countries), 2*each, 1+2*each)
		}
	}
	sa, sb := a.Status(), b.Status()
	if sa.Commits+sb.Commits != 1+2*each {
		t.Errorf("commits counted %d + %d, want %d", sa.Commits, sb.Commits, 1+2*each)
	}
	if got := sa.Commits + sb.Commits - 1 + sa.Conflicts + sb.Conflicts; got != runs.Load() {
		t.Errorf("commits and conflicts counted %d runs of fn, there were %d", got, runs.Load())
	}
	t.Logf("%d increments took %d runs of fn (%d + %d commits lost to the other node)", 2*each, runs.Load(), sa.Conflicts, sb.Conflicts)
}

// TestEtcdUnavailable: with etcd stopped, a node reads its last state,
// refuses writes with ErrUnavailable and says why; with etcd back it
// catches up with what the other node wrote meanwhile (here: after etcd
// came back, since nobody can write without it).
func TestEtcdUnavailable(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	prefix := newPrefix()
	a := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix,
		MirrorPath: filepath.Join(t.TempDir(), "a.db"), ProbeInterval: 100 * time.Millisecond})
	bPath := filepath.Join(t.TempDir(), "b.db")
	b := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix,
		MirrorPath: bPath, ProbeInterval: 100 * time.Millisecond})
	if _, err := putRegion(t.Context(), a, "eu", "DE"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b sees region eu", func() bool { return region(t, b, "eu") != nil })

	c.Stop()
	eventually(t, 10*time.Second, "a reports etcd unreachable", func() bool { return !a.Status().Connected })
	if s := a.Status(); s.Reason == "" {
		t.Fatalf("status %+v has no reason", s)
	}
	_, err := putRegion(t.Context(), a, "us", "US")
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("write with etcd stopped: %v, want ErrUnavailable", err)
	}
	if r := region(t, a, "eu"); r == nil {
		t.Fatal("the last state is gone from a while etcd is stopped")
	}

	// A node started while etcd is away serves its last state.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix,
		MirrorPath: bPath, ProbeInterval: 100 * time.Millisecond, DialTimeout: 500 * time.Millisecond})
	if s := b.Status(); s.Connected {
		t.Fatalf("b started with etcd stopped reports %+v", s)
	}
	if r := region(t, b, "eu"); r == nil {
		t.Fatal("b restarted with etcd stopped does not serve its last state")
	}

	c.Restart()
	eventually(t, 15*time.Second, "a connected again", func() bool { return a.Status().Connected })
	eventually(t, 15*time.Second, "b connected again", func() bool { return b.Status().Connected })
	rev, err := putRegion(t.Context(), a, "us", "US")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b catches up", func() bool {
		r, _ := b.Revision(t.Context())
		return r == rev && region(t, b, "us") != nil && region(t, b, "eu") != nil
	})
}

// TestEtcdVoteLease: a checker's votes live under a lease that its
// reports renew; when it stops reporting, etcd deletes them after VoteTTL,
// and every node's copy follows.
func TestEtcdVoteLease(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	prefix := newPrefix()
	opts := store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix, VoteTTL: 2 * time.Second}
	opts.MirrorPath = filepath.Join(t.TempDir(), "a.db")
	a := openEtcd(t, opts)
	opts.MirrorPath = filepath.Join(t.TempDir(), "b.db")
	b := openEtcd(t, opts)

	report := func(s store.Store, checker string) {
		t.Helper()
		_, err := s.Update(t.Context(), func(tx store.Tx) error {
			if err := store.Put(tx, &model.Checker{Name: checker, LastSeen: time.Now()}, 0); err != nil {
				return err
			}
			return store.Put(tx, &model.Vote{Checker: checker, Service: "app.example.", Endpoint: "192.0.2.1",
				Health: model.HealthUp, At: time.Now()}, 0)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	votes := func(s store.Store) map[string]bool {
		out := map[string]bool{}
		err := s.View(t.Context(), func(tx store.Tx) error {
			vs, err := store.List[model.Vote](tx)
			for _, v := range vs {
				out[v.Checker] = true
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// c1 reports to a, then to b (an agent that failed over), for 3 s:
	// longer than the TTL, so only renewals keep its votes.
	report(a, "c1")
	report(a, "c2")
	for i := range 6 {
		time.Sleep(500 * time.Millisecond)
		report([]store.Store{a, b}[i%2], "c1")
	}
	if v := votes(b); !v["c1"] {
		t.Fatalf("c1 kept reporting but its vote is gone: %v", v)
	}
	// c2 stopped after its one report, long enough ago for its lease.
	eventually(t, 5*time.Second, "c2's vote expires on both nodes", func() bool {
		return !votes(a)["c2"] && !votes(b)["c2"]
	})
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(t.Context(), prefix+"vote/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Key) != prefix+"vote/c1|app.example.|192.0.2.1" {
		t.Fatalf("etcd holds votes %v, want c1's only", resp.Kvs)
	}
	// The checkers' records stay: the fleet shows a silent checker.
	err = a.View(t.Context(), func(tx store.Tx) error {
		_, err := store.Get[model.Checker](tx, "c2")
		return err
	})
	if err != nil {
		t.Fatalf("c2's checker record: %v", err)
	}
}

// TestEtcdClusterMemberDown: with one of three etcd members stopped, the
// store goes on reading and writing, and reports nothing wrong.
func TestEtcdClusterMemberDown(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 3)
	a := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: newPrefix(),
		MirrorPath: filepath.Join(t.TempDir(), "a.db"), ProbeInterval: 100 * time.Millisecond})
	if _, err := putRegion(t.Context(), a, "eu", "DE"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		c.Member(i).Stop()
		for j := range 5 {
			if _, err := putRegion(t.Context(), a, fmt.Sprintf("r%d%d", i, j), "DE"); err != nil {
				t.Fatalf("write %d with %s stopped: %v", j, c.Member(i).Name, err)
			}
		}
		if s := a.Status(); !s.Connected {
			t.Fatalf("with %s stopped the store reports %+v", c.Member(i).Name, s)
		}
		if err := c.Member(i).Start(); err != nil {
			t.Fatal(err)
		}
	}
	if rev, _ := a.Revision(t.Context()); rev != 16 {
		t.Fatalf("revision %d after 16 writes", rev)
	}
}

// TestEtcdSchemaNewer: a prefix written by a newer Meridian is refused.
func TestEtcdSchemaNewer(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	prefix := newPrefix()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Put(t.Context(), prefix+"meta/schema", "99"); err != nil {
		t.Fatal(err)
	}
	_, err = store.OpenEtcd(t.Context(), store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix,
		MirrorPath: filepath.Join(t.TempDir(), "m.db")})
	if !errors.Is(err, store.ErrSchema) {
		t.Fatalf("OpenEtcd on a newer schema: %v, want ErrSchema", err)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEtcdResyncAfterCompaction: a node cut off while the others write,
// and while etcd compacts away the revisions its watch would resume from,
// reads the whole state again when it is back, deletions included.
func TestEtcdResyncAfterCompaction(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	prefix := newPrefix()
	proxy := etcdtest.NewProxy(t, c.Endpoints()[0])
	a := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix, MirrorPath: filepath.Join(t.TempDir(), "a.db")})
	var logs syncBuffer
	b := openEtcd(t, store.EtcdOptions{Endpoints: []string{proxy.URL()}, Prefix: prefix, MirrorPath: filepath.Join(t.TempDir(), "b.db"),
		ProbeInterval: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := putRegion(t.Context(), a, "eu", "DE"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "b sees eu", func() bool { return region(t, b, "eu") != nil })

	proxy.Cut()
	eventually(t, 10*time.Second, "b reports etcd unreachable", func() bool { return !b.Status().Connected })
	if _, err := putRegion(t.Context(), a, "us", "US"); err != nil {
		t.Fatal(err)
	}
	rev, err := a.Update(t.Context(), func(tx store.Tx) error { return tx.Delete(model.KindRegion, "eu") })
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(t.Context(), prefix+"meta/revision")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(t.Context(), resp.Header.Revision); err != nil {
		t.Fatal(err)
	}

	proxy.Restore(t)
	eventually(t, 20*time.Second, "b caught up after the compaction", func() bool {
		r, _ := b.Revision(t.Context())
		return r == rev && b.Status().Connected
	})
	if region(t, b, "eu") != nil || region(t, b, "us") == nil {
		t.Fatalf("b after resync: eu %v, us %v; want eu deleted and us present", region(t, b, "eu"), region(t, b, "us"))
	}
	if n := b.Status().Resyncs; n != 1 {
		t.Errorf("resyncs counted %d, want 1", n)
	}
	if !strings.Contains(logs.String(), "etcd compacted the revisions") {
		t.Fatalf("b caught up without the resync after compaction; logs:\n%s", logs.String())
	}
}

// openBenchEtcd opens an etcd store on a one-member etcd of its own.
func openBenchEtcd(b *testing.B) *store.Etcd {
	c := etcdtest.Start(b, 1)
	e, err := store.OpenEtcd(b.Context(), store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: newPrefix(),
		MirrorPath: filepath.Join(b.TempDir(), "mirror.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Close() })
	return e
}

// BenchmarkEtcdWrite: one Put per Update on the etcd backend, one etcd
// member on loopback: the transaction (etcd's fsync included) and the
// wait until the mirror holds it (the mirror's fsync included). Compare
// BenchmarkBoltWrite.
func BenchmarkEtcdWrite(b *testing.B) {
	e := openBenchEtcd(b)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dc := &model.Datacenter{Name: fmt.Sprintf("dc%04d", i%1000), Region: "eu", Location: model.Location{Lat: 50.1, Lon: 8.7}}
		i++
		if _, err := e.Update(ctx, func(tx store.Tx) error { return store.Put(tx, dc, 0) }); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEtcdGet: one typed Get per View: a read of the mirror.
func BenchmarkEtcdGet(b *testing.B) {
	e := openBenchEtcd(b)
	ctx := b.Context()
	if _, err := e.Update(ctx, func(tx store.Tx) error {
		return store.Put(tx, &model.Datacenter{Name: "fra", Location: model.Location{Lat: 50.1, Lon: 8.7}}, 0)
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.View(ctx, func(tx store.Tx) error {
			_, err := store.Get[model.Datacenter](tx, "fra")
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEtcdUnusableMirror: a local copy that does not open (here, a file
// of garbage) is moved aside and the node starts on a new one, filled
// from etcd; nothing is lost, since etcd holds the state.
func TestEtcdUnusableMirror(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	prefix := newPrefix()
	a := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix, MirrorPath: filepath.Join(t.TempDir(), "a.db")})
	rev, err := putRegion(t.Context(), a, "eu", "DE")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "b.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a bbolt file "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	b := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: prefix, MirrorPath: path})
	if got, _ := b.Revision(t.Context()); got != rev || region(t, b, "eu") == nil {
		t.Fatalf("b at revision %d with eu %v, want %d and eu", got, region(t, b, "eu"), rev)
	}
	aside, _ := filepath.Glob(path + ".unusable-*")
	if len(aside) != 1 {
		t.Fatalf("files moved aside: %v, want one", aside)
	}
	if data, _ := os.ReadFile(aside[0]); !bytes.HasPrefix(data, []byte("not a bbolt file")) {
		t.Fatalf("%s does not hold the old file", aside[0])
	}
}

// TestEtcdLargeReconcile: one reconcile is one etcd transaction. With the
// limits deploy/ sets (10,000 operations, 10 MiB), 3,000 new services go
// in one apply; 12,000 do not, and the refusal names the etcd flag and
// writes nothing.
func TestEtcdLargeReconcile(t *testing.T) {
	t.Parallel()
	c := etcdtest.Start(t, 1)
	s := openEtcd(t, store.EtcdOptions{Endpoints: c.Endpoints(), Prefix: newPrefix(),
		MirrorPath: filepath.Join(t.TempDir(), "m.db"), RequestTimeout: 30 * time.Second})
	state := func(n int) *model.State {
		st := &model.State{
			Zones:       []model.Zone{{Name: "example.org.", Nameservers: []model.Nameserver{{Name: "ns1.example.net."}}}},
			Datacenters: []model.Datacenter{{Name: "fra", Location: model.Location{Lat: 50.1, Lon: 8.7}}},
		}
		for i := range n {
			st.Services = append(st.Services, model.Service{
				Name: fmt.Sprintf("s%05d.example.org.", i), Type: "A", Policy: model.Policy{Preset: "geo"},
				Endpoints: []model.Endpoint{{Datacenter: "fra", Address: "192.0.2.1"}, {Datacenter: "fra", Address: "192.0.2.2"}},
			})
		}
		return st
	}
	start := time.Now()
	if _, _, err := store.Reconcile(t.Context(), s, model.SourceStateFile, state(3000), store.ReconcileOptions{}); err != nil {
		t.Fatalf("3,000 services in one reconcile: %v", err)
	}
	t.Logf("3,000 services in one etcd transaction: %v", time.Since(start).Round(time.Millisecond))
	rev, _ := s.Revision(t.Context())
	_, _, err := store.Reconcile(t.Context(), s, model.SourceStateFile, state(12000), store.ReconcileOptions{})
	if err == nil || !strings.Contains(err.Error(), "--max-") {
		t.Fatalf("12,000 services in one reconcile: %v, want a refusal naming etcd's limit", err)
	}
	t.Logf("12,000: %v", err)
	if got, _ := s.Revision(t.Context()); got != rev {
		t.Fatalf("revision %d after the refused reconcile, want %d", got, rev)
	}
}
