package geo

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Two versions of a City and an ASN database that answer 2.2.3.1
// differently, in every field, Network included, so that a result mixing
// the two (a torn read) cannot pass for either.
var (
	cityA = []fixtureNet{{cidr: "2.2.0.0/16", country: "GB", continent: "EU", subdiv: "ENG", lat: 51.5074, lon: -0.1278}}
	cityB = []fixtureNet{{cidr: "2.2.3.0/24", country: "JP", continent: "AS", subdiv: "13", lat: 35.6895, lon: 139.6917}}
	asnA  = []fixtureNet{{cidr: "2.2.0.0/16", asn: 64500, asOrg: "Alpha Net"}}
	asnB  = []fixtureNet{{cidr: "2.2.3.0/24", asn: 64511, asOrg: "Bravo Net"}}

	wantA = Result{Found: true, Network: pfx("2.2.0.0/16"), ASNNetwork: pfx("2.2.0.0/16"), Location: Location{
		Country: "GB", Continent: "EU", Subdivision: "GB-ENG", Lat: 51.5074, Lon: -0.1278, HasCoords: true, ASN: 64500, ASOrg: "Alpha Net"}}
	wantB = Result{Found: true, Network: pfx("2.2.3.0/24"), ASNNetwork: pfx("2.2.3.0/24"), Location: Location{
		Country: "JP", Continent: "AS", Subdivision: "JP-13", Lat: 35.6895, Lon: 139.6917, HasCoords: true, ASN: 64511, ASOrg: "Bravo Net"}}
	cityOnlyA = Result{Found: true, Network: wantA.Network, Location: Location{
		Country: "GB", Continent: "EU", Subdivision: "GB-ENG", Lat: 51.5074, Lon: -0.1278, HasCoords: true}}
	cityOnlyB = Result{Found: true, Network: wantB.Network, Location: Location{
		Country: "JP", Continent: "AS", Subdivision: "JP-13", Lat: 35.6895, Lon: 139.6917, HasCoords: true}}
)

// swapFiles holds the bytes of both versions and writes them into dir.
type swapFiles struct {
	city, asn         string
	cityA, cityB      []byte
	asnA, asnB        []byte
	cityJunk, asnJunk []byte
}

func newSwapFiles(t testing.TB) *swapFiles {
	dir := t.TempDir()
	f := &swapFiles{
		city:  filepath.Join(dir, "GeoIP2-City.mmdb"),
		asn:   filepath.Join(dir, "GeoLite2-ASN.mmdb"),
		cityA: buildDB(t, "GeoIP2-City", cityA...),
		cityB: buildDB(t, "GeoIP2-City", cityB...),
		asnA:  buildDB(t, "GeoLite2-ASN", asnA...),
		asnB:  buildDB(t, "GeoLite2-ASN", asnB...),
	}
	f.cityJunk, f.asnJunk = corrupt(f.cityB), corrupt(f.asnB)
	f.write(t, 'A')
	return f
}

func (f *swapFiles) write(t testing.TB, v byte) {
	t.Helper()
	if v == 'A' {
		writeAtomic(t, f.city, f.cityA)
		writeAtomic(t, f.asn, f.asnA)
	} else {
		writeAtomic(t, f.city, f.cityB)
		writeAtomic(t, f.asn, f.asnB)
	}
}

// syncBuffer is a log sink for tests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestReloadSwitches(t *testing.T) {
	f := newSwapFiles(t)
	d := openTest(t, f.city, f.asn, Options{})
	p := pfx("2.2.3.0/24")
	if got := d.LookupPrefix(p); got != wantA {
		t.Fatalf("before: LookupPrefix = %+v, want %+v", got, wantA)
	}
	f.write(t, 'B')
	if got := d.LookupPrefix(p); got != wantA {
		t.Fatalf("file replaced, not reloaded: LookupPrefix = %+v, want the loaded A", got)
	}
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := d.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries after Reload, want 0", n)
	}
	if got := d.LookupPrefix(p); got != wantB {
		t.Errorf("after: LookupPrefix = %+v, want %+v", got, wantB)
	}
	if got := d.Lookup(ip("2.2.3.1")); got != wantB {
		t.Errorf("after: Lookup = %+v, want %+v", got, wantB)
	}
	if s := d.Stats(); s.Reloads != 1 || s.ReloadFailures != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestReloadFailureKeepsOld(t *testing.T) {
	f := newSwapFiles(t)
	var logs syncBuffer
	d := openTest(t, f.city, f.asn, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	steps := []struct {
		name    string
		prepare func()
		want    error
		path    string
	}{
		{"corrupt city", func() { writeAtomic(t, f.city, f.cityJunk) }, ErrInvalidDatabase, f.city},
		{"text file", func() { writeAtomic(t, f.city, []byte("not a database")) }, ErrInvalidDatabase, f.city},
		{"wrong type", func() { writeAtomic(t, f.city, f.asnB) }, ErrUnsupportedType, f.city},
		{"missing city", func() { _ = os.Remove(f.city) }, fs.ErrNotExist, f.city},
		{"corrupt asn, valid city", func() {
			writeAtomic(t, f.city, f.cityB)
			writeAtomic(t, f.asn, f.asnJunk)
		}, ErrInvalidDatabase, f.asn},
	}
	for i, s := range steps {
		s.prepare()
		err := d.Reload()
		if !errors.Is(err, s.want) || !strings.Contains(err.Error(), s.path) {
			t.Errorf("%s: Reload = %v, want %v naming %s", s.name, err, s.want, s.path)
		}
		if got := d.LookupPrefix(pfx("2.2.3.0/24")); got != wantA {
			t.Errorf("%s: LookupPrefix = %+v, want the old %+v", s.name, got, wantA)
		}
		if got := d.Lookup(ip("2.2.3.1")); got != wantA {
			t.Errorf("%s: Lookup = %+v, want the old %+v", s.name, got, wantA)
		}
		if st := d.Stats(); st.ReloadFailures != uint64(i+1) || st.Reloads != 0 {
			t.Errorf("%s: Stats = %+v", s.name, st)
		}
	}
	if got := logs.String(); strings.Count(got, "reload failed") != len(steps) || !strings.Contains(got, f.asn) {
		t.Errorf("log:\n%s", got)
	}
	f.write(t, 'B')
	if err := d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := d.Lookup(ip("2.2.3.1")); got != wantB {
		t.Errorf("after a good file: Lookup = %+v, want %+v", got, wantB)
	}
}

// TestHotReloadUnderLoad swaps both files 100 times between two valid
// versions, with a corrupt file now and then, while goroutines look up
// without pause. Every lookup must return one of the two complete answers.
func TestHotReloadUnderLoad(t *testing.T) {
	for _, mmap := range []bool{false, true} {
		t.Run(fmt.Sprintf("mmap=%v", mmap), func(t *testing.T) {
			f := newSwapFiles(t)
			d := openTest(t, f.city, f.asn, Options{MMap: mmap, CacheSize: 256})

			const readers = 8
			var (
				stop    atomic.Bool
				total   atomic.Uint64
				bad     atomic.Uint64
				seen    [2]atomic.Uint64
				wg      sync.WaitGroup
				queries = []func() Result{
					func() Result { return d.Lookup(ip("2.2.3.1")) },
					func() Result { return d.LookupPrefix(pfx("2.2.3.0/24")) },
					func() Result { return d.LookupPrefix(pfx("2.2.3.77/32")) },
					func() Result { return d.LookupPrefix(pfx("::ffff:2.2.3.0/120")) },
				}
			)
			for g := range readers {
				wg.Go(func() {
					for i := g; !stop.Load(); i++ {
						got := queries[i%len(queries)]()
						switch got {
						case wantA:
							seen[0].Add(1)
						case wantB:
							seen[1].Add(1)
						default:
							if bad.Add(1) <= 5 {
								t.Errorf("torn or failed lookup: %+v", got)
							}
						}
						total.Add(1)
						runtime.Gosched() // let the swapping goroutine in on few CPUs
					}
				})
			}
			// waitReaders lets the readers do some lookups on the current
			// generation, without sleeping.
			waitReaders := func() {
				for n := total.Load() + 200; total.Load() < n && bad.Load() == 0; {
					runtime.Gosched()
				}
			}

			failures := 0
			want := wantA
			for i := range 100 {
				if i%10 == 5 {
					junk := f.cityJunk
					if i%20 == 5 {
						junk = f.asnJunk
					}
					path := f.city
					if i%20 == 5 {
						path = f.asn
					}
					writeAtomic(t, path, junk)
					if err := d.Reload(); err == nil {
						t.Fatalf("swap %d: Reload of a corrupt %s succeeded", i, path)
					}
					failures++
					if got := d.Lookup(ip("2.2.3.1")); got != want {
						t.Fatalf("swap %d: after a corrupt file Lookup = %+v, want %+v", i, got, want)
					}
					waitReaders()
				}
				v, next := byte('B'), wantB
				if want == wantB {
					v, next = 'A', wantA
				}
				f.write(t, v)
				if err := d.Reload(); err != nil {
					t.Fatalf("swap %d: %v", i, err)
				}
				want = next
				if got := d.LookupPrefix(pfx("2.2.3.0/24")); got != want {
					t.Fatalf("swap %d: LookupPrefix = %+v, want %+v", i, got, want)
				}
				waitReaders()
			}
			stop.Store(true)
			wg.Wait()

			s := d.Stats()
			if s.Reloads != 100 || s.ReloadFailures != uint64(failures) || s.LookupErrors != 0 {
				t.Errorf("Stats = %+v, want 100 reloads and %d failures", s, failures)
			}
			if bad.Load() != 0 || seen[0].Load() == 0 || seen[1].Load() == 0 {
				t.Errorf("lookups: %d A, %d B, %d bad", seen[0].Load(), seen[1].Load(), bad.Load())
			}
			t.Logf("%d lookups: %d A, %d B; %d cache hits", total.Load(), seen[0].Load(), seen[1].Load(), s.CacheHits)
			if mmap {
				checkUnmapped(t, filepath.Dir(f.city))
			}
		})
	}
}

// checkUnmapped checks that retired readers release their mappings once
// the garbage collector finds them unused: at most the two loaded files
// stay mapped.
func checkUnmapped(t *testing.T, dir string) {
	t.Helper()
	count := func() int {
		maps, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			t.Skip("no /proc/self/maps:", err)
		}
		return strings.Count(string(maps), dir)
	}
	deadline := time.Now().Add(5 * time.Second)
	n := count()
	t.Logf("%d mappings of %s before collecting", n, dir)
	for n > 2 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
		n = count()
	}
	if n > 2 || n == 0 {
		t.Errorf("%d mappings of %s remain, want the 2 in use", n, dir)
	}
}
