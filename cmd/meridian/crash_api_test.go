package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/meridian-gslb/meridian/api"
	"github.com/meridian-gslb/meridian/api/client"
	"github.com/meridian-gslb/meridian/store/model"
)

// Crash safety of the whole product: the real binary is killed with
// SIGKILL, again and again, while an API client writes one acknowledged
// write after another; after each restart every acknowledged write must
// be there, and the write that was in flight entirely or not at all.
// (store's TestBoltCrashSafety does the same to the store alone.)

// crashZoneName is the API's zone that holds the API's services.
const crashZoneName = "crash.test."

// crashObj is an object as the crash test knows it: its canonical JSON
// (see canonJSON), the revision it was stored at and its source.
type crashObj struct {
	json   string
	rev    int64
	source string
}

// crashWrite is one API write and what it leaves, by kind/name: each
// object's canonical JSON, "" for one it deletes.
type crashWrite struct {
	op    string // create, update, delete, records or apply
	what  string
	req   client.Request
	after map[string]string
}

// crashWorld is what the server acknowledged, and makes the next write
// from it, so that every write it makes is valid.
type crashWorld struct {
	t      *testing.T
	rng    *rand.Rand
	acked  map[string]crashObj // by kind/name
	maxRev int64               // the newest revision acknowledged
	seq    int                 // makes names and contents unique
	writes map[string]int      // acknowledged writes by op
}

func crashRef(kind model.Kind, name string) string { return string(kind) + "/" + name }

// canonJSON decodes an object of kind and encodes it again without its
// revision (managed_by is kept): one string for one content, however
// the JSON was spelled.
func canonJSON(t *testing.T, kind model.Kind, data []byte) (model.Object, crashObj) {
	t.Helper()
	obj, ok := model.NewObject(kind)
	if !ok {
		t.Fatalf("no object type for kind %s", kind)
	}
	if err := json.Unmarshal(data, obj); err != nil {
		t.Fatalf("decoding %s: %v\n%s", kind, err, data)
	}
	rev := obj.GetMeta().Revision
	obj.GetMeta().Revision = 0
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	obj.GetMeta().Revision = rev
	return obj, crashObj{json: string(b), rev: rev, source: obj.GetMeta().ManagedBy}
}

// canonOf is obj's canonical JSON as source would store it.
func (w *crashWorld) canonOf(obj model.Object, source string) string {
	obj.GetMeta().ManagedBy = source // ignored in requests
	b, err := json.Marshal(obj)
	if err != nil {
		w.t.Fatal(err)
	}
	_, o := canonJSON(w.t, obj.ObjectKind(), b)
	return o.json
}

// object decodes the acknowledged object ref.
func (w *crashWorld) object(ref string) model.Object {
	kind, _, _ := strings.Cut(ref, "/")
	obj, _ := canonJSON(w.t, model.Kind(kind), []byte(w.acked[ref].json))
	return obj
}

// names lists the acknowledged objects of kind that source manages.
func (w *crashWorld) names(kind model.Kind, source string) []string {
	var out []string
	for ref, o := range w.acked {
		if name, ok := strings.CutPrefix(ref, string(kind)+"/"); ok && o.source == source {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func (w *crashWorld) pick(names []string) string { return names[w.rng.IntN(len(names))] }

// location is a new place for each write, so that an update changes
// what it updates.
func (w *crashWorld) location() model.Location {
	return model.Location{Lat: float64(w.seq%3000)*0.05 - 75, Lon: float64(w.seq%360) - 180}
}

// crashZone is a zone with n A records whose TTLs and addresses depend
// on variant.
func crashZone(name string, variant, n int) *model.Zone {
	return &model.Zone{Name: name, Nameservers: []model.Nameserver{{Name: "ns1.example.net."}}, Records: crashRecords(name, variant, n)}
}

func crashRecords(zone string, variant, n int) []model.Record {
	recs := make([]model.Record, n)
	for i := range recs {
		recs[i] = model.Record{Name: fmt.Sprintf("h%04d.%s", i, zone), Type: "A", TTL: uint32(60 + variant%1000),
			Data: fmt.Sprintf("10.%d.%d.%d", variant%250, i/250, i%250+1)}
	}
	return recs
}

// service is an A service of 1 to 3 endpoints in dcs.
func (w *crashWorld) service(name string, dcs []string) *model.Service {
	s := &model.Service{Name: name, Type: "A", TTL: uint32(10 + w.seq), Policy: model.Policy{Preset: "weighted"}}
	for i, dc := range w.rng.Perm(len(dcs))[:1+w.rng.IntN(min(3, len(dcs)))] {
		s.Endpoints = append(s.Endpoints, model.Endpoint{Datacenter: dcs[dc],
			Address: fmt.Sprintf("192.0.2.%d", (w.seq*3+i)%250+1), Weight: 1 + w.rng.IntN(5)})
	}
	return s
}

// unused lists the API's data centers no API service uses.
func (w *crashWorld) unused(dcs []string) []string {
	for _, key := range w.names(model.KindService, model.SourceAPI) {
		for _, e := range w.object(crashRef(model.KindService, key)).(*model.Service).Endpoints {
			dcs = slices.DeleteFunc(dcs, func(dc string) bool { return dc == e.Datacenter })
		}
	}
	return dcs
}

// next makes a valid write: a create, an update or a delete of a data
// center, a service or a zone of a few hundred records, a replacement
// of a zone's records, or an apply of a whole state.
func (w *crashWorld) next() *crashWrite {
	if _, ok := w.acked[crashRef(model.KindZone, crashZoneName)]; !ok {
		return w.create(crashZone(crashZoneName, 0, 2))
	}
	for {
		w.seq++
		dcs, svcs := w.names(model.KindDatacenter, model.SourceAPI), w.names(model.KindService, model.SourceAPI)
		zones := slices.DeleteFunc(w.names(model.KindZone, model.SourceAPI), func(z string) bool { return z == crashZoneName })
		switch w.rng.IntN(10) {
		case 0:
			if len(dcs) < 8 {
				return w.create(&model.Datacenter{Name: fmt.Sprintf("dc-%d", w.seq), Location: w.location()})
			}
		case 1:
			if len(dcs) > 0 {
				return w.replace(&model.Datacenter{Name: w.pick(dcs), Location: w.location()})
			}
		case 2:
			if free := w.unused(dcs); len(free) > 0 {
				return w.remove(model.KindDatacenter, w.pick(free))
			}
		case 3:
			if len(dcs) > 0 && len(svcs) < 10 {
				return w.create(w.service(fmt.Sprintf("s%d.%s", w.seq, crashZoneName), dcs))
			}
		case 4:
			if len(svcs) > 0 && len(dcs) > 0 {
				return w.replace(w.service(strings.TrimSuffix(w.pick(svcs), "/A"), dcs))
			}
		case 5:
			if len(svcs) > 0 {
				return w.remove(model.KindService, w.pick(svcs))
			}
		case 6:
			if len(zones) < 3 {
				return w.create(crashZone(fmt.Sprintf("big%d.test.", w.seq), w.seq, 200+w.rng.IntN(300)))
			}
		case 7:
			if len(zones) > 0 {
				z := w.pick(zones)
				return w.setRecords(z, crashRecords(z, w.seq, 200+w.rng.IntN(300)))
			}
		case 8:
			if len(zones) > 0 {
				return w.remove(model.KindZone, w.pick(zones))
			}
		case 9:
			return w.apply(w.applyState())
		}
	}
}

func (w *crashWorld) write(op string, req client.Request, after map[string]string) *crashWrite {
	return &crashWrite{op: op, what: req.Method + " " + req.Path, req: req, after: after}
}

func (w *crashWorld) create(obj model.Object) *crashWrite {
	return w.write("create", client.Request{Method: http.MethodPost, Path: client.CollectionPath(obj.ObjectKind()), Body: obj},
		map[string]string{crashRef(obj.ObjectKind(), obj.ObjectName()): w.canonOf(obj, model.SourceAPI)})
}

func (w *crashWorld) replace(obj model.Object) *crashWrite {
	path, q := client.ObjectPath(obj.ObjectKind(), obj.ObjectName())
	return w.write("update", client.Request{Method: http.MethodPut, Path: path, Query: q, Body: obj},
		map[string]string{crashRef(obj.ObjectKind(), obj.ObjectName()): w.canonOf(obj, model.SourceAPI)})
}

func (w *crashWorld) remove(kind model.Kind, name string) *crashWrite {
	path, q := client.ObjectPath(kind, name)
	return w.write("delete", client.Request{Method: http.MethodDelete, Path: path, Query: q}, map[string]string{crashRef(kind, name): ""})
}

// setRecords replaces a zone's records through the records route.
func (w *crashWorld) setRecords(zone string, recs []model.Record) *crashWrite {
	ref := crashRef(model.KindZone, zone)
	z := w.object(ref).(*model.Zone)
	z.Records = recs
	path, _ := client.ObjectPath(model.KindZone, zone)
	return w.write("records", client.Request{Method: http.MethodPut, Path: path + "/records", Body: map[string]any{"records": recs}},
		map[string]string{ref: w.canonOf(z, model.SourceAPI)})
}

// applyState is a whole state for /apply: a zone of a few hundred
// records, two to four data centers and a service in each of some.
func (w *crashWorld) applyState() *model.State {
	st := &model.State{Zones: []model.Zone{*crashZone("apply.test.", w.seq, 300+w.rng.IntN(300))}}
	dcs := 2 + w.rng.IntN(3)
	for i := range dcs {
		st.Datacenters = append(st.Datacenters, model.Datacenter{Name: fmt.Sprintf("ap-%d", i), Location: w.location()})
	}
	for i := range 1 + w.rng.IntN(dcs) {
		st.Services = append(st.Services, *w.service(fmt.Sprintf("w%d.apply.test.", i), []string{fmt.Sprintf("ap-%d", i)}))
	}
	return st
}

// apply sets what source apply manages to st: its objects, and none of
// the others.
func (w *crashWorld) apply(st *model.State) *crashWrite {
	after := map[string]string{}
	for _, kind := range []model.Kind{model.KindZone, model.KindRegion, model.KindDatacenter, model.KindService} {
		for _, name := range w.names(kind, api.SourceApply) {
			after[crashRef(kind, name)] = ""
		}
	}
	for _, obj := range st.Objects() {
		after[crashRef(obj.ObjectKind(), obj.ObjectName())] = w.canonOf(obj, api.SourceApply)
	}
	return w.write("apply", client.Request{Method: http.MethodPost, Path: "/api/v1/apply", Body: st}, after)
}

// ack records an acknowledged write, after checking that the answer
// names what was sent and a newer revision.
func (w *crashWorld) ack(wr *crashWrite, resp *client.Response) {
	w.writes[wr.op]++
	if wr.op == "apply" {
		var res client.ApplyResult
		if err := json.Unmarshal(resp.Body, &res); err != nil {
			w.t.Fatalf("%s: %v", wr.what, err)
		}
		if len(res.Changes) > 0 && res.Revision <= w.maxRev {
			w.t.Fatalf("%s: committed at revision %d, not after %d", wr.what, res.Revision, w.maxRev)
		}
		changed := map[string]json.RawMessage{}
		for _, c := range res.Changes {
			changed[crashRef(c.Kind, c.Name)] = c.After
		}
		for ref, want := range wr.after {
			after, ok := changed[ref]
			delete(changed, ref)
			if !ok && w.acked[ref].json != want {
				w.t.Fatalf("%s: the answer lists no change of %s, which it changes", wr.what, ref)
			}
			if ok {
				w.stored(wr, ref, after, res.Revision)
			}
		}
		if len(changed) > 0 {
			w.t.Fatalf("%s changed objects it does not name: %v", wr.what, changed)
		}
		w.maxRev = max(w.maxRev, res.Revision)
		return
	}
	for ref := range wr.after { // one object
		w.stored(wr, ref, resp.Body, 0)
	}
}

// stored records that wr wrote ref: answered as data (nothing for a
// delete) at revision rev (an apply's, checked by the caller), or at
// the revision data names, which must be newer than any before, when
// rev is 0.
func (w *crashWorld) stored(wr *crashWrite, ref string, data []byte, rev int64) {
	want := wr.after[ref]
	if want == "" {
		delete(w.acked, ref)
		return
	}
	kind, _, _ := strings.Cut(ref, "/")
	_, got := canonJSON(w.t, model.Kind(kind), data)
	if got.json != want {
		w.t.Fatalf("%s: the server answered %s other than sent: %v\nsent %s\ngot  %s", wr.what, ref,
			jsonDiff(json.RawMessage(want), json.RawMessage(got.json)), want, got.json)
	}
	if rev == 0 {
		if got.rev <= w.maxRev {
			w.t.Fatalf("%s: %s stored at revision %d, not after %d", wr.what, ref, got.rev, w.maxRev)
		}
		w.maxRev = got.rev
	}
	got.rev = cmp.Or(rev, got.rev)
	w.acked[ref] = got
}

// settle finds out what became of the write that had no answer when the
// server was killed, from what the server holds now: all of it or none
// of it, never a part. It reports whether it was applied.
func (w *crashWorld) settle(wr *crashWrite, got map[string]crashObj) bool {
	all, none := true, true
	for ref, want := range wr.after {
		all = all && got[ref].json == want
		none = none && got[ref] == w.acked[ref]
	}
	if none {
		return false
	}
	if !all {
		var lines []string
		for ref, want := range wr.after {
			lines = append(lines, fmt.Sprintf("%s: content as before %t, as after %t; revision %d, acknowledged %d",
				ref, got[ref].json == w.acked[ref].json, got[ref].json == want, got[ref].rev, w.acked[ref].rev))
		}
		slices.Sort(lines)
		w.t.Fatalf("the write in flight at the kill (%s) is half-applied:\n%s", wr.what, strings.Join(lines, "\n"))
	}
	var rev int64 // of the commit: the same for everything it changed
	for ref, want := range wr.after {
		g := got[ref]
		switch {
		case g == w.acked[ref]: // an apply leaves what it does not change
		case want == "":
			delete(w.acked, ref)
		case g.rev <= w.maxRev || rev != 0 && g.rev != rev:
			w.t.Fatalf("the write in flight at the kill (%s) left %s at revision %d (last acknowledged %d, others of it %d)",
				wr.what, ref, g.rev, w.maxRev, rev)
		default:
			rev = g.rev
			w.acked[ref] = g
		}
	}
	w.maxRev = max(w.maxRev, rev)
	return true
}

// compare fails unless the server holds exactly what was acknowledged,
// at the acknowledged revisions.
func (w *crashWorld) compare(got map[string]crashObj) {
	for ref, want := range w.acked {
		g, ok := got[ref]
		switch {
		case !ok:
			w.t.Errorf("%s was acknowledged at revision %d and is missing", ref, want.rev)
		case g.json != want.json:
			w.t.Errorf("%s differs from what was acknowledged: %v\nwant %s\ngot  %s", ref,
				jsonDiff(json.RawMessage(want.json), json.RawMessage(g.json)), want.json, g.json)
		case g.rev != want.rev:
			w.t.Errorf("%s is at revision %d, acknowledged at %d", ref, g.rev, want.rev)
		}
	}
	for ref := range got {
		if _, ok := w.acked[ref]; !ok {
			w.t.Errorf("%s is there: deleted, or never created, as far as acknowledged", ref)
		}
	}
	if w.t.Failed() {
		w.t.FailNow()
	}
}

// readBack reads every zone, region, data center and service through the
// API.
func readBack(t *testing.T, c *client.Client) map[string]crashObj {
	t.Helper()
	got := map[string]crashObj{}
	for _, kind := range []model.Kind{model.KindZone, model.KindRegion, model.KindDatacenter, model.KindService} {
		items, err := c.List(t.Context(), client.CollectionPath(kind), nil, 0)
		if err != nil {
			t.Fatalf("listing %ss: %v", kind, err)
		}
		for _, raw := range items {
			obj, o := canonJSON(t, kind, raw)
			got[crashRef(kind, obj.ObjectName())] = o
		}
	}
	return got
}

// writeUntilKilled writes, each write after the last one's answer, and
// kills the server with SIGKILL once delay has passed: at a random point
// of the write then sent, up to 1.5 times as long as the write before it
// took (so that the kill lands inside writes, some of them inside their
// commit, and sometimes just after). It returns the write that got no
// answer and whether a request was out at the kill.
func (w *crashWorld) writeUntilKilled(p *proc, c *client.Client, delay time.Duration) (*crashWrite, bool) {
	var out, killed, during atomic.Bool
	kill := func() {
		during.Store(out.Load())
		killed.Store(true)
		_ = p.cmd.Process.Signal(syscall.SIGKILL) // this process, by its PID
	}
	start, last, armed := time.Now(), 10*time.Millisecond, false
	for {
		wr := w.next()
		if !armed && time.Since(start) >= delay {
			armed = true
			defer time.AfterFunc(time.Duration(w.rng.Int64N(int64(last)*3/2)), kill).Stop()
		}
		sent := time.Now()
		out.Store(true)
		resp, err := c.Do(context.Background(), wr.req)
		out.Store(false)
		last = time.Since(sent)
		if err == nil {
			w.ack(wr, resp)
			continue
		}
		var netErr *client.NetworkError
		if !errors.As(err, &netErr) || !killed.Load() {
			w.t.Fatalf("%s: %v\n%s", wr.what, err, p.Logs())
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			w.t.Fatalf("meridian still running 10s after SIGKILL")
		}
		if ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			w.t.Fatalf("meridian ended with %v, not by the kill:\n%s", p.cmd.ProcessState, p.Logs())
		}
		return wr, during.Load()
	}
}

// checkBoltFile runs bbolt's consistency check over the data file,
// opened read-only.
func checkBoltFile(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("opening %s after the kill: %v", path, err)
	}
	defer db.Close()
	var errs []error
	_ = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("bbolt check of %s after the kill: %v", path, err)
	}
}

// logProblems lists p's log lines that are not JSON or are errors: a
// store that opened badly, a failed snapshot build, a panic.
func logProblems(p *proc) []string {
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(p.Logs()), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) != nil || e["level"] == "ERROR" {
			bad = append(bad, line)
		}
	}
	return bad
}

// TestCrashSafetyAPI kills `meridian serve` with SIGKILL at random
// moments while an API client writes (creates, updates and deletes of
// data centers, services and zones of hundreds of records, and applies
// of whole states), and checks after each restart on the same data
// directory that the file passes bbolt's check, the server starts
// ready with no error logged, and holds exactly what was acknowledged,
// with the write in flight at the kill all there or not at all.
func TestCrashSafetyAPI(t *testing.T) {
	rounds := 8
	if testing.Short() {
		rounds = 3
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	dir := t.TempDir()
	cfg, data := filepath.Join(dir, "meridian.yaml"), filepath.Join(dir, "data")
	writeFile(t, cfg, "checker: {embedded: false}\n")
	args := []string{"--config", cfg, "--data-dir", data}
	t.Setenv("MERIDIAN_ADMIN_TOKEN", testAdminToken)

	w := &crashWorld{t: t, rng: rand.New(rand.NewPCG(seed, seed>>1)),
		acked: map[string]crashObj{}, writes: map[string]int{}}
	during, applied := 0, 0
	var restarts time.Duration
	p := startServe(t, args...)
	c := crashClient(t, p)
	for round := range rounds {
		ackedBefore := crashTotal(w.writes)
		delay := time.Duration(50+w.rng.IntN(700)) * time.Millisecond
		wr, out := w.writeUntilKilled(p, c, delay)
		if bad := logProblems(p); len(bad) > 0 {
			t.Fatalf("round %d: the killed server logged:\n%s", round, strings.Join(bad, "\n"))
		}
		checkBoltFile(t, filepath.Join(data, "meridian.db"))

		start := time.Now()
		p = startServe(t, args...) // fails with the logs if the store does not open
		took := time.Since(start)
		restarts += took
		c = crashClient(t, p)
		if _, err := c.Do(t.Context(), client.Request{Method: http.MethodGet, Path: "/readyz"}); err != nil {
			t.Fatalf("round %d: /readyz after the restart: %v\n%s", round, err, p.Logs())
		}
		if rev := int64(readyEntry(t, p)["revision"].(float64)); rev < w.maxRev {
			t.Fatalf("round %d: restarted at revision %d, %d was acknowledged", round, rev, w.maxRev)
		}
		got := readBack(t, c)
		inFlight, outcome := w.settle(wr, got), "not applied"
		if inFlight {
			outcome = "applied"
		}
		switch {
		case !out:
			outcome = "sent after the kill, " + outcome
		case inFlight:
			during, applied = during+1, applied+1
		default:
			during++
		}
		w.compare(got)
		if bad := logProblems(p); len(bad) > 0 {
			t.Fatalf("round %d: the restarted server logged:\n%s", round, strings.Join(bad, "\n"))
		}
		t.Logf("round %d: %d writes acknowledged, then the kill (armed at %v); in flight: %s, %s; restarted in %v; %d objects at revision %d",
			round, crashTotal(w.writes)-ackedBefore, delay, wr.what, outcome, took.Round(time.Millisecond), len(got), w.maxRev)
	}
	p.stop(t)
	checkBoltFile(t, filepath.Join(data, "meridian.db"))
	t.Logf("%d writes acknowledged %v over %d kills; %d kills landed during a write, whose write was found applied %d times; mean restart %v",
		crashTotal(w.writes), w.writes, rounds, during, applied, (restarts / time.Duration(rounds)).Round(time.Millisecond))
	if crashTotal(w.writes) < 2*rounds {
		t.Errorf("only %d writes acknowledged in %d rounds: the test exercised little", crashTotal(w.writes), rounds)
	}
}

func crashClient(t *testing.T, p *proc) *client.Client {
	t.Helper()
	c, err := client.New("http://"+p.http, testAdminToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func crashTotal(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
