package geo

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// The MaxMind test databases, copied from MaxMind-DB's test-data (see
// testdata/README.md).
const (
	cityTestDB    = "testdata/GeoIP2-City-Test.mmdb"
	countryTestDB = "testdata/GeoIP2-Country-Test.mmdb"
	liteCityDB    = "testdata/GeoLite2-City-Test.mmdb"
	asnTestDB     = "testdata/GeoLite2-ASN-Test.mmdb"
)

// fixtureNet is one network of a database generated with mmdbwriter.
type fixtureNet struct {
	cidr      string
	country   string
	continent string
	subdiv    string // ISO code within the country, e.g. "ENG"
	lat, lon  float64
	noCoords  bool
	asn       uint32 // for ASN-layout databases
	asOrg     string
}

// buildDB returns a MaxMind DB of the given metadata type. City-layout
// records carry continent, country, subdivisions and location as GeoIP2
// and DB-IP do; an ASN-layout type ("...ASN...") gets ASN records.
func buildDB(t testing.TB, dbType string, nets ...fixtureNet) []byte {
	t.Helper()
	return buildDBWith(t, mmdbwriter.Options{DatabaseType: dbType, RecordSize: 24, IncludeReservedNetworks: true}, nets...)
}

// buildIPv4DB returns an IPv4-only City database: 2.2.3.0/24 in FR.
func buildIPv4DB(t testing.TB) []byte {
	t.Helper()
	return buildDBWith(t, mmdbwriter.Options{DatabaseType: "GeoIP2-City", IPVersion: 4, RecordSize: 24},
		fixtureNet{cidr: "2.2.3.0/24", country: "FR", continent: "EU", lat: 48.86, lon: 2.35})
}

func buildDBWith(t testing.TB, opts mmdbwriter.Options, nets ...fixtureNet) []byte {
	t.Helper()
	dbType := opts.DatabaseType
	opts.Description = map[string]string{"en": "Meridian geo test fixture"}
	opts.Languages = []string{"en"}
	w, err := mmdbwriter.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		_, ipnet, err := net.ParseCIDR(n.cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{}
		if isASNType(dbType) {
			rec["autonomous_system_number"] = mmdbtype.Uint32(n.asn)
			rec["autonomous_system_organization"] = mmdbtype.String(n.asOrg)
		} else {
			names := mmdbtype.Map{"en": mmdbtype.String(n.country + " name")}
			rec["continent"] = mmdbtype.Map{"code": mmdbtype.String(n.continent), "names": names}
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.country), "names": names}
			if n.subdiv != "" {
				rec["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(n.subdiv), "names": names}}
			}
			if !n.noCoords {
				rec["location"] = mmdbtype.Map{
					"latitude":        mmdbtype.Float64(n.lat),
					"longitude":       mmdbtype.Float64(n.lon),
					"accuracy_radius": mmdbtype.Uint16(100),
				}
			}
		}
		if err := w.Insert(ipnet, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeAtomic replaces path the way geoipupdate does: write a temporary
// file next to it, then rename it over.
func writeAtomic(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// corrupt returns a copy of a valid database with its search tree and
// data section overwritten by junk and its metadata intact: it still opens,
// and only Verify (or a lookup) finds out.
func corrupt(valid []byte) []byte {
	b := bytes.Clone(valid)
	end := bytes.LastIndex(b, []byte("\xab\xcd\xefMaxMind.com"))
	for i := range end {
		b[i] = byte(i*7 + 3)
	}
	return b
}
