package geo

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzOpenMMDB writes arbitrary bytes to a file and opens it as the City
// database and as the ASN database (beside a valid City one), verified,
// unverified and mapped. Open gives an error that names the file and is
// ErrInvalidDatabase or ErrUnsupportedType, or a database that answers
// lookups; never both, never neither, never a panic. What opens verified
// opens unverified. Seeded with the test databases and MaxMind-DB's broken
// ones (testdata/bad).
func FuzzOpenMMDB(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.mmdb")
	if err != nil {
		f.Fatal(err)
	}
	bad, err := filepath.Glob("testdata/bad/*.mmdb")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range append(seeds, bad...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	small := buildDB(f, "GeoIP2-City",
		fixtureNet{cidr: "2.2.3.0/24", country: "GB", continent: "EU", subdiv: "ENG", lat: 51.5, lon: -0.1},
		fixtureNet{cidr: "2001:218::/32", country: "JP", continent: "AS", noCoords: true})
	f.Add(small)
	f.Add(buildDB(f, "GeoLite2-ASN", fixtureNet{cidr: "2.2.3.0/24", asn: 64500, asOrg: "Example"}))
	f.Add(buildIPv4DB(f))
	f.Add(corrupt(small))
	f.Add([]byte{})

	city := filepath.Join(f.TempDir(), "city.mmdb")
	if err := os.WriteFile(city, small, 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.mmdb")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, files := range [][2]string{{path, ""}, {city, path}} {
			// A small cache: making the default one costs more than
			// verifying a test database.
			verified := openChecked(t, files, Options{CacheSize: 64})
			unverified := openChecked(t, files, Options{SkipVerify: true, CacheSize: -1})
			mapped := openChecked(t, files, Options{MMap: true, CacheSize: 64})
			if verified && !unverified || verified != mapped {
				t.Fatalf("Open(%q, %q): verified %v, unverified %v, mapped %v", files[0], files[1], verified, unverified, mapped)
			}
		}
	})
}

// fuzzAddrs are looked up in every database FuzzOpenMMDB opens: IPv4,
// IPv4-mapped and IPv6 addresses in and out of the test databases.
var fuzzAddrs = []netip.Addr{
	netip.MustParseAddr("2.2.3.4"), netip.MustParseAddr("81.2.69.142"), netip.MustParseAddr("::ffff:81.2.69.142"),
	netip.MustParseAddr("2001:218::1"), netip.MustParseAddr("1.0.0.1"), netip.MustParseAddr("0.0.0.0"),
	netip.MustParseAddr("255.255.255.255"), netip.MustParseAddr("::"), netip.MustParseAddr("2a02:cf40::1"),
	netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
}

// openChecked opens files (City, ASN) with opts and reports whether it
// opened. An error names the file under test (the last one given) and
// says why; a database answers every fuzzAddrs lookup with a Result that
// holds together, the same through the cache, and nothing after Close.
func openChecked(t *testing.T, files [2]string, opts Options) bool {
	t.Helper()
	d, err := Open(files[0], files[1], opts)
	bad := files[0]
	if files[1] != "" {
		bad = files[1]
	}
	if err != nil {
		if d != nil {
			t.Fatalf("Open(%q, %q, %+v): a database and an error: %v", files[0], files[1], opts, err)
		}
		if !strings.HasPrefix(err.Error(), "geo: ") || !strings.Contains(err.Error(), bad) {
			t.Fatalf("Open(%q, %q, %+v): error %q does not name %s", files[0], files[1], opts, err, bad)
		}
		if !errors.Is(err, ErrInvalidDatabase) && !errors.Is(err, ErrUnsupportedType) {
			t.Fatalf("Open(%q, %q, %+v): error %q is neither ErrInvalidDatabase nor ErrUnsupportedType", files[0], files[1], opts, err)
		}
		return false
	}
	if d == nil {
		t.Fatalf("Open(%q, %q, %+v): neither a database nor an error", files[0], files[1], opts)
	}
	st := d.Stats()
	if _, ok := cityKind(st.CityType); !ok || (files[1] != "") != isASNType(st.ASNType) {
		t.Fatalf("Open(%q, %q, %+v): opened types %q and %q", files[0], files[1], opts, st.CityType, st.ASNType)
	}
	for _, a := range fuzzAddrs {
		r := d.Lookup(a)
		checkResult(t, a, r, files[1] != "")
		if p := d.LookupPrefix(netip.PrefixFrom(a, a.BitLen())); p != r {
			t.Fatalf("LookupPrefix(%v) = %+v, Lookup = %+v", a, p, r)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := d.Lookup(fuzzAddrs[0]); r.Found || r.ASN != 0 {
		t.Fatalf("Lookup after Close = %+v", r)
	}
	return true
}

// checkResult checks what Result documents: networks of the address's
// family (IPv4 for IPv4-mapped) that contain it, the ASN network only
// with an ASN database, a location only when found, coordinates on
// Earth.
func checkResult(t *testing.T, a netip.Addr, r Result, asn bool) {
	t.Helper()
	u := a.Unmap()
	if !r.Network.IsValid() || r.Network.Addr().Is4() != u.Is4() || !r.Network.Contains(u) {
		t.Fatalf("Lookup(%v): network %v", a, r.Network)
	}
	if asn != r.ASNNetwork.IsValid() || asn && (r.ASNNetwork.Addr().Is4() != u.Is4() || !r.ASNNetwork.Contains(u)) {
		t.Fatalf("Lookup(%v): ASN network %v with an ASN database %v", a, r.ASNNetwork, asn)
	}
	if !asn && (r.ASN != 0 || r.ASOrg != "") {
		t.Fatalf("Lookup(%v): ASN %d %q without an ASN database", a, r.ASN, r.ASOrg)
	}
	if !r.Found && (r.Country != "" || r.Continent != "" || r.Subdivision != "" || r.HasCoords) {
		t.Fatalf("Lookup(%v): not found, but located: %+v", a, r)
	}
	if r.HasCoords && !validCoords(r.Lat, r.Lon) {
		t.Fatalf("Lookup(%v): coordinates %v, %v", a, r.Lat, r.Lon)
	}
}
