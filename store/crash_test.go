package store_test

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/model"
)

const (
	crashSource = "state:crash.yaml"
	crashEnv    = "MERIDIAN_STORE_CRASH_CHILD" // the data file, in the child
)

// crashSize is the size of the crash test's states: big enough that one
// reconcile takes tens of milliseconds, so kills land inside writes. The
// race detector makes everything slower, so a third is enough under it.
func crashSize() (zones, records, dcs int) {
	if raceEnabled {
		return 3, 1000, 100
	}
	return 3, 3000, 250 // records per zone; as many services as data centers
}

// bigState builds a valid desired state. Variants 0 and 1 differ in every
// object they share (record TTLs, locations, countries, weights) and each
// has data centers and services of its own, so any mixture of the two is
// visible.
func bigState(variant, zones, records, dcs int) *model.State {
	st := &model.State{}
	for z := range zones {
		zone := model.Zone{Name: fmt.Sprintf("z%d.crash.test.", z), Nameservers: []model.Nameserver{{Name: "ns1.crash.net."}}}
		for r := range records {
			zone.Records = append(zone.Records, model.Record{
				Name: fmt.Sprintf("h%05d.%s", r, zone.Name), Type: "A", TTL: uint32(300 + variant),
				Data: fmt.Sprintf("10.%d.%d.%d", z, r/250, r%250),
			})
		}
		st.Zones = append(st.Zones, zone)
	}
	for r := range 10 {
		st.Regions = append(st.Regions, model.Region{Name: fmt.Sprintf("reg%02d", r), Countries: []string{fmt.Sprintf("%c%c", 'A'+variant, 'A'+r)}}) // one region per country
	}
	own := dcs / 10 // data centers and services only this variant has
	for d := range dcs + own {
		name := fmt.Sprintf("dc%04d", d)
		if d >= dcs {
			name = fmt.Sprintf("dc-v%d-%04d", variant, d)
		}
		st.Datacenters = append(st.Datacenters, model.Datacenter{
			Name: name, Region: fmt.Sprintf("reg%02d", d%10),
			Location: model.Location{Lat: float64(d%90) + float64(variant)/10, Lon: float64(d % 180)},
		})
	}
	for i, dc := range st.Datacenters {
		other := st.Datacenters[(i+1)%len(st.Datacenters)].Name
		st.Services = append(st.Services, model.Service{
			Name: fmt.Sprintf("svc-%s.z%d.crash.test.", dc.Name, i%zones), Type: "A", Policy: model.Policy{Preset: "weighted"},
			Endpoints: []model.Endpoint{
				{Datacenter: dc.Name, Address: fmt.Sprintf("192.0.%d.%d", i/250, i%250+1), Weight: 1 + variant},
				{Datacenter: other, Address: "198.51.100.1", Weight: 2 + variant},
			},
		})
	}
	byName := func(a, b model.Datacenter) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(st.Datacenters, byName)
	slices.SortFunc(st.Services, func(a, b model.Service) int { return cmp.Compare(a.Name, b.Name) })
	return st // zones and regions are built in name order
}

func crashStates() map[string]*model.State {
	zones, records, dcs := crashSize()
	return map[string]*model.State{
		"":  {},
		"A": bigState(0, zones, records, dcs),
		"B": bigState(1, zones, records, dcs),
	}
}

// stateJSON is st in JSON with Meta left out: equal for equal content,
// and much faster than a reflective comparison of 10,000 records.
func stateJSON(st *model.State) string {
	c := model.State{
		Zones: slices.Clone(st.Zones), Regions: slices.Clone(st.Regions),
		Datacenters: slices.Clone(st.Datacenters), Services: slices.Clone(st.Services),
	}
	for _, o := range c.Objects() {
		*o.GetMeta() = model.Meta{}
	}
	b, err := json.Marshal(c)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestBoltCrashChild is the process TestBoltCrashSafety kills. It
// reconciles A and B in turn, forever, and reports on stdout: "begin X"
// before each reconcile, "writing X" once the writes are staged and the
// commit starts, and "commit X <revision> <changes> <commit ns> <total ns>"
// after it.
func TestBoltCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process of TestBoltCrashSafety")
	}
	go func() { // exit if the parent goes away without killing us
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	fail := func(err error) {
		fmt.Println("error", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(2)
	}
	states := crashStates()
	ctx := context.Background()
	s, err := store.OpenBolt(path, store.BoltOptions{LockTimeout: 10 * time.Second})
	if err != nil {
		fail(err)
	}
	cur, _, err := store.LoadState(ctx, s)
	if err != nil {
		fail(err)
	}
	next := "A" // start with whichever state is not already stored
	if stateJSON(cur) == stateJSON(states["A"]) {
		next = "B"
	}
	fmt.Println("ready")
	for {
		fmt.Println("begin", next)
		start, writing := time.Now(), time.Time{}
		announce := announcingStore{Store: s, staged: func() {
			writing = time.Now()
			fmt.Println("writing", next)
		}}
		d, rev, err := store.Reconcile(ctx, announce, crashSource, states[next], store.ReconcileOptions{})
		if err != nil {
			fail(err)
		}
		fmt.Println("commit", next, rev, len(d.Changes), time.Since(writing).Nanoseconds(), time.Since(start).Nanoseconds())
		next = map[string]string{"A": "B", "B": "A"}[next]
	}
}

// announcingStore calls staged when an Update's fn has returned without
// error: the writes are staged and the backend is about to commit them.
type announcingStore struct {
	store.Store
	staged func()
}

func (a announcingStore) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	return a.Store.Update(ctx, func(tx store.Tx) error {
		err := fn(tx)
		if err == nil {
			a.staged()
		}
		return err
	})
}

// crashRun is what the parent learned from one child's output.
type crashRun struct {
	commits  int
	last     string // state of the last reported commit
	lastRev  int64
	pending  string // state begun after the last reported commit, if any
	staged   bool   // and its commit had started
	commitNS int64  // slowest commit phase
	totalNS  int64  // slowest reconcile
}

func (r *crashRun) line(t *testing.T, l string) {
	f := strings.Fields(l)
	switch {
	case len(f) == 2 && f[0] == "begin":
		r.pending, r.staged = f[1], false
	case len(f) == 2 && f[0] == "writing":
		r.staged = true
	case len(f) == 6 && f[0] == "commit":
		rev, _ := strconv.ParseInt(f[2], 10, 64)
		commitNS, _ := strconv.ParseInt(f[4], 10, 64)
		totalNS, _ := strconv.ParseInt(f[5], 10, 64)
		r.commits++
		r.last, r.lastRev, r.pending, r.staged = f[1], rev, "", false
		r.commitNS, r.totalNS = max(r.commitNS, commitNS), max(r.totalNS, totalNS)
	case len(f) > 0 && f[0] == "error":
		t.Fatalf("child: %s", l)
	}
}

// TestBoltCrashSafety kills a process in the middle of large reconciles,
// again and again, and checks after each kill that the file holds exactly
// the last committed state — A, B or empty, never a mixture — at a
// consistent revision, with one event per commit and a sound bbolt file.
func TestBoltCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses; skipped in -short")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	want := map[string]string{}
	for name, st := range crashStates() {
		want[name] = stateJSON(st)
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	known, knownRev := "", int64(0) // what the file holds between runs
	commitTime, totalTime := 5*time.Millisecond, 50*time.Millisecond
	outcomes := map[string]int{}
	const runs = 10
	for run := range runs {
		// Run 0 dies as soon as its first reconcile begins. Every third run
		// dies at a random point of a whole reconcile; the others at a
		// random point of a commit, between "writing" and its slowest
		// duration so far.
		k := kill{on: "begin"}
		switch {
		case run%3 != 0:
			k = kill{on: "writing", after: 1 + rng.IntN(3), delay: time.Duration(rng.Float64() * float64(commitTime))}
		case run > 0:
			k = kill{on: "begin", after: 1 + rng.IntN(2), delay: time.Duration(rng.Float64() * 1.2 * float64(totalTime))}
		}
		r := killChild(t, path, k)
		if r.commits > 0 {
			commitTime, totalTime = time.Duration(r.commitNS), time.Duration(r.totalNS)
		}

		s, err := store.OpenBolt(path, store.BoltOptions{})
		if err != nil {
			t.Fatalf("run %d: reopening after the kill: %v", run, err)
		}
		if err := store.CheckBolt(s); err != nil {
			t.Fatalf("run %d: bbolt check: %v", run, err)
		}
		got, rev, err := store.LoadState(t.Context(), s)
		if err != nil {
			t.Fatal(err)
		}
		before, beforeRev := known, knownRev
		if r.commits > 0 {
			before, beforeRev = r.last, r.lastRev
		}
		for _, o := range got.Objects() {
			if m := o.GetMeta(); m.Revision != rev || m.ManagedBy != crashSource {
				t.Fatalf("run %d: %s %s has meta %+v, want revision %d by %s", run, o.ObjectKind(), o.ObjectName(), *m, rev, crashSource)
			}
		}
		gotJSON := stateJSON(got)
		match := func(name string) bool { return gotJSON == want[name] }
		outcome := ""
		switch {
		case match(before) && rev == beforeRev:
			known, outcome = before, "no write under way"
			if r.staged {
				outcome = "commit interrupted, old state kept"
			} else if r.pending != "" {
				outcome = "reconcile interrupted before its commit"
			}
		case r.staged && match(r.pending) && rev == beforeRev+1:
			known, outcome = r.pending, "committed, killed before reporting"
		default:
			t.Fatalf("run %d: after the kill the file is at revision %d with %d zones, %d data centers, %d services; "+
				"want state %q at revision %d or (a commit of %q had started: %v) %q at %d",
				run, rev, len(got.Zones), len(got.Datacenters), len(got.Services), before, beforeRev, r.pending, r.staged, r.pending, beforeRev+1)
		}
		outcomes[outcome]++
		knownRev = rev
		ev, err := store.ListEvents(t.Context(), s, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Each commit writes its changes' audit events and ends with one
		// reconcile summary: as many summaries as commits, the last event
		// a summary.
		var summaries int64
		for _, e := range ev {
			if e.Type == "reconcile" {
				summaries++
			}
		}
		if summaries != rev || (rev > 0 && ev[len(ev)-1].Type != "reconcile") {
			t.Fatalf("run %d: %d reconcile summaries at revision %d, want one per commit, last", run, summaries, rev)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("run %d: %d commits (slowest commit %s, reconcile %s), killed %s after %q: %s; file holds %q at revision %d",
			run, r.commits, commitTime.Round(time.Microsecond), totalTime.Round(time.Millisecond),
			k.delay.Round(time.Microsecond), k.on, outcome, known, knownRev)
	}
	fi, _ := os.Stat(path)
	t.Logf("outcomes %v; file size %d KiB", outcomes, fi.Size()/1024)
	if knownRev < 3 {
		t.Fatalf("only %d commits in all: the test did not exercise anything", knownRev)
	}
}

// kill says when killChild kills: delay after the first line starting
// with on that comes once the child has reported after commits.
type kill struct {
	on    string
	after int
	delay time.Duration
}

// killChild starts the child on path, kills it with SIGKILL as k says and
// returns everything the child reported, read to the end.
func killChild(t *testing.T, path string, k kill) *crashRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltCrashChild$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe() // closes when we exit: the child follows
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed { // a failure below: do not leave the child running
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	r := &crashRun{}
	for !killed {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child exited early: %v\n%s", cmd.Wait(), stderr.String())
			}
			r.line(t, l)
			if strings.HasPrefix(l, k.on+" ") && r.commits >= k.after {
				// The random moment inside the write. Spin: Sleep may
				// overshoot by more than a whole commit lasts.
				for deadline := time.Now().Add(k.delay); time.Now().Before(deadline); {
				}
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("child silent for 2 minutes\n%s", stderr.String())
		}
	}
	for l := range lines { // what it wrote before dying
		r.line(t, l)
	}
	_ = cmd.Wait() // "signal: killed"
	return r
}
