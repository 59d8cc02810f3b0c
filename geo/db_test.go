package geo

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTest(t testing.TB, city, asn string, opts Options) *DB {
	t.Helper()
	d, err := Open(city, asn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// The facts below are from testdata/GeoIP2-City-Test.json (MaxMind's
// source of the test database); networks are as the .mmdb stores them.
func TestLookupCity(t *testing.T) {
	d := openTest(t, cityTestDB, "", Options{})
	london := Location{Country: "GB", Continent: "EU", Subdivision: "GB-ENG", Lat: 51.5142, Lon: -0.0931, HasCoords: true}
	tests := []struct {
		addr string
		want Result
	}{
		{"2.2.3.1", Result{Found: true, Network: pfx("2.2.3.0/24"), Location: Location{
			Country: "GB", Continent: "EU", Subdivision: "GB-WBK", Lat: 51.75, Lon: -1.25, HasCoords: true}}},
		{"214.78.120.5", Result{Found: true, Network: pfx("214.78.120.0/22"), Location: Location{
			Country: "US", Continent: "NA", Subdivision: "US-CA", Lat: 32.7405, Lon: -117.0935, HasCoords: true}}},
		{"214.78.123.255", Result{Found: true, Network: pfx("214.78.120.0/22"), Location: Location{
			Country: "US", Continent: "NA", Subdivision: "US-CA", Lat: 32.7405, Lon: -117.0935, HasCoords: true}}},
		{"175.16.199.7", Result{Found: true, Network: pfx("175.16.199.0/24"), Location: Location{
			Country: "CN", Continent: "AS", Subdivision: "CN-22", Lat: 43.88, Lon: 125.3228, HasCoords: true}}},
		{"214.0.1.200", Result{Found: true, Network: pfx("214.0.1.0/24"), Location: Location{
			Country: "AU", Continent: "OC", Subdivision: "AU-VIC", Lat: -37.8159, Lon: 144.9669, HasCoords: true}}},
		{"214.0.0.1", Result{Found: true, Network: pfx("214.0.0.0/24"), Location: Location{
			Country: "SG", Continent: "AS", Lat: 1.336, Lon: 103.7716, HasCoords: true}}},
		{"81.2.69.142", Result{Found: true, Network: pfx("81.2.69.142/31"), Location: london}},
		{"81.2.69.143", Result{Found: true, Network: pfx("81.2.69.142/31"), Location: london}},
		{"89.160.20.115", Result{Found: true, Network: pfx("89.160.20.112/28"), Location: Location{
			Country: "SE", Continent: "EU", Subdivision: "SE-E", Lat: 58.4167, Lon: 15.6167, HasCoords: true}}},
		{"2001:218::1", Result{Found: true, Network: pfx("2001:218::/32"), Location: Location{
			Country: "JP", Continent: "AS", Lat: 35.68536, Lon: 139.75309, HasCoords: true}}},
		{"2001:480:10::77", Result{Found: true, Network: pfx("2001:480:10::/48"), Location: Location{
			Country: "US", Continent: "NA", Subdivision: "US-CA", Lat: 32.7203, Lon: -117.1552, HasCoords: true}}},
		// IPv4-mapped addresses are unmapped and give IPv4 networks.
		{"::ffff:2.2.3.1", Result{Found: true, Network: pfx("2.2.3.0/24"), Location: Location{
			Country: "GB", Continent: "EU", Subdivision: "GB-WBK", Lat: 51.75, Lon: -1.25, HasCoords: true}}},
		// Continent and coordinates without a country.
		{"2a02:d500::1", Result{Found: true, Network: pfx("2a02:d500::/29"), Location: Location{
			Continent: "EU", Lat: 48.69096, Lon: 9.14062, HasCoords: true}}},
		// In the database but without any location.
		{"214.1.1.1", Result{Found: true, Network: pfx("214.1.1.0/24")}},
		// Not found: the empty network around the address.
		{"81.2.69.141", Result{Network: pfx("81.2.69.140/31")}},
		{"10.1.2.3", Result{Network: pfx("10.0.0.0/8")}},
		{"1.1.1.1", Result{Network: pfx("1.0.0.0/8")}},
		{"2001:db8::1", Result{Network: pfx("2001:db8::/32")}},
	}
	for _, tt := range tests {
		if got := d.Lookup(ip(tt.addr)); got != tt.want {
			t.Errorf("Lookup(%s)\n got %+v\nwant %+v", tt.addr, got, tt.want)
		}
	}
	if got := d.Lookup(netip.Addr{}); got != (Result{}) {
		t.Errorf("Lookup(invalid) = %+v, want the zero Result", got)
	}
	s := d.Stats()
	if s.Lookups != uint64(len(tests)+1) || s.CityType != "GeoIP2-City" || s.CityBuild.IsZero() || s.ASNType != "" || s.LookupErrors != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestLookupCountryDB(t *testing.T) {
	d := openTest(t, countryTestDB, "", Options{})
	tests := []struct {
		addr string
		want Result
	}{
		// A Country database fills country and continent only.
		{"81.2.69.142", Result{Found: true, Network: pfx("81.2.69.142/31"), Location: Location{Country: "GB", Continent: "EU"}}},
		{"214.78.120.1", Result{Found: true, Network: pfx("214.78.120.0/22"), Location: Location{Country: "US", Continent: "NA"}}},
		{"175.16.199.1", Result{Found: true, Network: pfx("175.16.199.0/24"), Location: Location{Country: "CN", Continent: "AS"}}},
		{"2001:218::1", Result{Found: true, Network: pfx("2001:218::/32"), Location: Location{Country: "JP", Continent: "AS"}}},
		{"89.160.20.115", Result{Found: true, Network: pfx("89.160.20.112/28"), Location: Location{Country: "SE", Continent: "EU"}}},
	}
	for _, tt := range tests {
		if got := d.Lookup(ip(tt.addr)); got != tt.want {
			t.Errorf("Lookup(%s)\n got %+v\nwant %+v", tt.addr, got, tt.want)
		}
	}
	if got := d.Stats().CityType; got != "GeoIP2-Country" {
		t.Errorf("CityType = %q", got)
	}
}

func TestLookupLiteCityDB(t *testing.T) {
	d := openTest(t, liteCityDB, "", Options{})
	got := d.Lookup(ip("81.2.69.142"))
	if !got.Found || got.Country != "GB" || got.Subdivision != "GB-ENG" || !got.HasCoords || got.Network != pfx("81.2.69.142/31") {
		t.Errorf("Lookup(81.2.69.142) = %+v", got)
	}
	if got := d.Stats().CityType; got != "GeoLite2-City" {
		t.Errorf("CityType = %q", got)
	}
}

// The ASN facts are from GeoLite2-ASN-Test.json; the .mmdb merges
// neighbouring networks with equal data, so its networks can be larger
// than the JSON's (89.160.20.112/29 is inside the stored 89.160.0.0/17).
func TestLookupASN(t *testing.T) {
	d := openTest(t, cityTestDB, asnTestDB, Options{})
	tests := []struct {
		addr    string
		asn     uint32
		org     string
		asnNet  string
		country string
		network string
	}{
		{"89.160.20.115", 29518, "Bredband2 AB", "89.160.0.0/17", "SE", "89.160.20.112/28"},
		{"214.78.120.1", 721, "DoD Network Information Center", "214.0.0.0/8", "US", "214.78.120.0/22"},
		{"1.128.0.1", 1221, "Telstra Pty Ltd", "1.128.0.0/11", "", "1.0.0.0/8"},
		{"2.2.3.1", 0, "", "2.0.0.0/7", "GB", "2.2.3.0/24"}, // in the City db only
	}
	for _, tt := range tests {
		got := d.Lookup(ip(tt.addr))
		if got.ASN != tt.asn || got.ASOrg != tt.org || got.ASNNetwork != pfx(tt.asnNet) ||
			got.Country != tt.country || got.Network != pfx(tt.network) {
			t.Errorf("Lookup(%s) = %+v, want AS%d %q in %s, country %q in %s",
				tt.addr, got, tt.asn, tt.org, tt.asnNet, tt.country, tt.network)
		}
	}
	if s := d.Stats(); s.ASNType != "GeoLite2-ASN" || s.ASNBuild.IsZero() {
		t.Errorf("Stats = %+v", s)
	}
}

// DB-IP's layouts and type names, and an IPv4-only database.
func TestLookupGeneratedLayouts(t *testing.T) {
	dir := t.TempDir()
	nets := []fixtureNet{{cidr: "2.2.3.0/24", country: "DE", continent: "EU", subdiv: "HE", lat: 50.11, lon: 8.68}}
	for _, tt := range []struct {
		dbType string
		want   Location
	}{
		{"DBIP-City-Lite", Location{Country: "DE", Continent: "EU", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68, HasCoords: true}},
		{"dbip-city-lite", Location{Country: "DE", Continent: "EU", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68, HasCoords: true}},
		{"DBIP-Location (compat=City)", Location{Country: "DE", Continent: "EU", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68, HasCoords: true}},
		{"DBIP-Country-Lite", Location{Country: "DE", Continent: "EU"}},
		{"GeoLite2-Country", Location{Country: "DE", Continent: "EU"}},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tt.dbType, " ", "_")+".mmdb")
		writeAtomic(t, path, buildDB(t, tt.dbType, nets...))
		d := openTest(t, path, "", Options{})
		got := d.Lookup(ip("2.2.3.4"))
		if !got.Found || got.Location != tt.want || got.Network != pfx("2.2.3.0/24") {
			t.Errorf("%s: Lookup = %+v, want %+v", tt.dbType, got, tt.want)
		}
	}

	// IPv4-only: IPv6 addresses are simply not found, anywhere in ::/0.
	w := buildIPv4DB(t)
	path := filepath.Join(dir, "v4.mmdb")
	writeAtomic(t, path, w)
	d := openTest(t, path, "", Options{})
	if got := d.Lookup(ip("2.2.3.4")); got.Country != "FR" || got.Network != pfx("2.2.3.0/24") {
		t.Errorf("IPv4-only db: Lookup(2.2.3.4) = %+v", got)
	}
	if got := d.Lookup(ip("2001:218::1")); got.Found || got.Network != pfx("::/0") {
		t.Errorf("IPv4-only db: Lookup(2001:218::1) = %+v, want not found in ::/0", got)
	}
	if n := d.Stats().LookupErrors; n != 0 {
		t.Errorf("LookupErrors = %d", n)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notMMDB := filepath.Join(dir, "city.txt")
	if err := os.WriteFile(notMMDB, []byte("this is not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk-tree.mmdb")
	if err := os.WriteFile(junk, corrupt(buildDB(t, "GeoIP2-City", fixtureNet{cidr: "2.2.3.0/24", country: "GB", continent: "EU"})), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		city, asn string
		want      error // for errors.Is
	}{
		{"testdata/missing.mmdb", "", fs.ErrNotExist},
		{cityTestDB, "testdata/missing-asn.mmdb", fs.ErrNotExist},
		{notMMDB, "", ErrInvalidDatabase},
		{empty, "", ErrInvalidDatabase},
		{dir, "", ErrInvalidDatabase}, // a directory
		{junk, "", ErrInvalidDatabase},
		// Opens, but verification finds a broken double.
		{"testdata/GeoIP2-City-Test-Broken-Double-Format.mmdb", "", ErrInvalidDatabase},
		{"testdata/GeoIP2-City-Test-Invalid-Node-Count.mmdb", "", ErrInvalidDatabase},
		{"testdata/bad/cyclic-data-structure.mmdb", "", ErrInvalidDatabase},
		{"testdata/bad/invalid-data-record-offset.mmdb", "", ErrInvalidDatabase},
		{"testdata/bad/libmaxminddb-offset-integer-overflow.mmdb", "", ErrInvalidDatabase},
		{"testdata/bad/metadata-is-an-uint128.mmdb", "", ErrInvalidDatabase},
		{"testdata/bad/unexpected-bytes.mmdb", "", ErrInvalidDatabase},
		// Valid files in the wrong role.
		{"testdata/bad/libmaxminddb-corrupt-search-tree.mmdb", "", ErrUnsupportedType},
		{asnTestDB, "", ErrUnsupportedType},
		{cityTestDB, countryTestDB, ErrUnsupportedType},
		{cityTestDB, "testdata/GeoIP2-City-Test-Broken-Double-Format.mmdb", ErrUnsupportedType},
	}
	for _, tt := range tests {
		d, err := Open(tt.city, tt.asn, Options{})
		if err == nil {
			_ = d.Close()
			t.Errorf("Open(%q, %q) succeeded", tt.city, tt.asn)
			continue
		}
		bad := tt.city
		if tt.asn != "" {
			bad = tt.asn
		}
		if !strings.Contains(err.Error(), bad) || !strings.HasPrefix(err.Error(), "geo: ") {
			t.Errorf("Open(%q, %q): error %q does not name %s", tt.city, tt.asn, err, bad)
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("Open(%q, %q): error %q is not %v", tt.city, tt.asn, err, tt.want)
		}
	}
	if _, err := Open("", "", Options{}); !errors.Is(err, ErrNoPath) {
		t.Errorf("Open(\"\") = %v, want ErrNoPath", err)
	}
	// Verification is what catches the broken double and the junk tree.
	for _, path := range []string{"testdata/GeoIP2-City-Test-Broken-Double-Format.mmdb", junk} {
		d, err := Open(path, "", Options{SkipVerify: true})
		if err != nil {
			t.Errorf("Open(%s, SkipVerify) = %v, want it to open", path, err)
			continue
		}
		_ = d.Close()
	}
}

func TestCityKind(t *testing.T) {
	for typ, want := range map[string]kind{
		"GeoIP2-City": kindCity, "GeoLite2-City": kindCity, "GeoIP2-Precision-City": kindCity,
		"GeoIP2-Enterprise": kindCity, "DBIP-City-Lite": kindCity, "dbip-city-lite": kindCity,
		"DBIP-Location (compat=City)": kindCity, "DBIP-Location-ISP (compat=Enterprise)": kindCity,
		"GeoIP2-Country": kindCountry, "GeoLite2-Country": kindCountry, "DBIP-Country-Lite": kindCountry,
		"DBIP-Country": kindCountry, "GeoLite2-ASN": 0, "GeoIP2-ISP": 0, "Test": 0, "": 0,
	} {
		if got, ok := cityKind(typ); got != want || ok != (want != 0) {
			t.Errorf("cityKind(%q) = %v, %v; want %v", typ, got, ok, want)
		}
	}
	for typ, want := range map[string]bool{
		"GeoLite2-ASN": true, "DBIP-ASN-Lite (compat=GeoLite2-ASN)": true, "dbip-asn-lite": true,
		"GeoIP2-ISP": true, "GeoIP2-City": false, "DBIP-Location-ISP (compat=Enterprise)": false, "Test": false,
	} {
		if got := isASNType(typ); got != want {
			t.Errorf("isASNType(%q) = %v, want %v", typ, got, want)
		}
	}
}

func TestNilAndClosedDB(t *testing.T) {
	var d *DB
	if got := d.Lookup(ip("2.2.3.1")); got.Found || got.Network != pfx("0.0.0.0/0") {
		t.Errorf("nil DB: Lookup = %+v", got)
	}
	if got := d.LookupPrefix(pfx("2001:218::/32")); got.Found || got.Network != pfx("::/0") {
		t.Errorf("nil DB: LookupPrefix = %+v", got)
	}
	if d.Stats() != (Stats{}) || d.Close() != nil {
		t.Error("nil DB: Stats or Close")
	}

	d = openTest(t, cityTestDB, asnTestDB, Options{})
	if !d.LookupPrefix(pfx("2.2.3.0/24")).Found {
		t.Fatal("not found before Close")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := d.LookupPrefix(pfx("2.2.3.0/24")); got.Found || got.Network != pfx("0.0.0.0/0") {
		t.Errorf("closed DB: LookupPrefix = %+v", got)
	}
	if got := d.Lookup(ip("2.2.3.1")); got.Found {
		t.Errorf("closed DB: Lookup = %+v", got)
	}
	if err := d.Reload(); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close = %v", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
