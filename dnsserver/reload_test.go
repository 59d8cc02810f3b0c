package dnsserver

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// reloadCase is a client network and the data centers a geo service gives
// it with the City and with the Country test database (which has no
// coordinates, so nearest keeps the whole region, and fewer networks).
type reloadCase struct {
	ecs             string
	city, countryDB []string
}

var reloadCases = []reloadCase{
	{"175.16.199.0/24", []string{"sin"}, []string{"sin", "syd"}},
	{"2001:218::/48", []string{"sin"}, []string{"sin", "syd"}},
	{"81.2.69.142/32", []string{"fra"}, []string{"fra"}},
	{"214.78.120.0/24", []string{"iad"}, []string{"iad"}},
	{"2.2.3.0/24", []string{"fra"}, []string{"fra", "iad", "sin", "syd"}},
}

// TestReloadUnderLoad swaps the database file 100 times, the way
// geoipupdate does (write a temporary file, rename it over the path), and
// reloads, while clients query a real server without pause: every query
// is answered, with an answer one of the two databases gives. After each
// reload a query shows the new database in use; a corrupt file (every
// tenth swap) fails to reload and the previous database keeps answering.
func TestReloadUnderLoad(t *testing.T) {
	city, err := os.ReadFile(testDB)
	if err != nil {
		t.Fatal(err)
	}
	country, err := os.ReadFile("testdata/geoip/GeoIP2-Country-Test.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "GeoIP2-City.mmdb")
	swap := func(data []byte) {
		t.Helper()
		tmp := filepath.Join(dir, "GeoIP2-City.mmdb.tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	swap(city)
	db := openDB(t, path)
	s := startServer(t, Config{}, buildState(t, geoState(t), db))
	a := addr(t, s)

	done := make(chan struct{})
	var wg sync.WaitGroup
	var answered atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			network := []string{"udp", "tcp"}[g%2]
			c := &dns.Client{Net: network, Timeout: 2 * time.Second}
			for i := g; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				tc := reloadCases[i%len(reloadCases)]
				r, _, err := c.Exchange(ecsQuery(t, "geo.gslb.example.test. A", tc.ecs), a)
				if err != nil {
					t.Errorf("%s query %s: %v", network, tc.ecs, err)
					return
				}
				got := dcsOf(answerData(r))
				if r.Rcode != dns.RcodeSuccess || !slices.Equal(got, tc.city) && !slices.Equal(got, tc.countryDB) {
					t.Errorf("%s %s: %s %v, want %v or %v", network, tc.ecs, dns.RcodeToString[r.Rcode], got, tc.city, tc.countryDB)
					return
				}
				answered.Add(1)
			}
		}()
	}

	// probe asks for the network whose answer tells the databases apart.
	probe := func() []string {
		t.Helper()
		return dcsOf(answerData(exchange(t, "udp", a, ecsQuery(t, "geo.gslb.example.test. A", reloadCases[0].ecs))))
	}
	loaded := reloadCases[0].city
	corrupt := city[:len(city)/2]
	for i := range 100 {
		switch {
		case i%10 == 9:
			swap(corrupt)
			if err := db.Reload(); err == nil {
				t.Fatalf("swap %d: a corrupt file reloaded", i)
			}
		case i%2 == 0:
			swap(country)
			if err := db.Reload(); err != nil {
				t.Fatalf("swap %d: %v", i, err)
			}
			loaded = reloadCases[0].countryDB
		default:
			swap(city)
			if err := db.Reload(); err != nil {
				t.Fatalf("swap %d: %v", i, err)
			}
			loaded = reloadCases[0].city
		}
		if got := probe(); !slices.Equal(got, loaded) {
			t.Fatalf("swap %d: %v, want %v from the database in use", i, got, loaded)
		}
	}
	close(done)
	wg.Wait()
	st := db.Stats()
	t.Logf("%d queries answered during 100 swaps; %d reloads, %d failed", answered.Load(), st.Reloads, st.ReloadFailures)
	if st.Reloads != 90 || st.ReloadFailures != 10 {
		t.Errorf("%d reloads and %d failures, want 90 and 10", st.Reloads, st.ReloadFailures)
	}
	if answered.Load() < 100 {
		t.Errorf("only %d queries answered while swapping", answered.Load())
	}
}
