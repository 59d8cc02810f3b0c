package geo

import (
	"fmt"
	"math"
	"net/netip"
	"sync"

	geoip2 "github.com/oschwald/geoip2-golang/v2"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is what Meridian knows about where a client is.
type Location struct {
	Country     string // ISO 3166-1 alpha-2, "" if unknown
	Continent   string // AF AN AS EU NA OC SA, "" if unknown
	Subdivision string // ISO 3166-2 code of the most specific subdivision ("GB-ENG"), "" if unknown
	Lat, Lon    float64
	HasCoords   bool
	ASN         uint32 // 0 without an ASN database or no match
	ASOrg       string
}

// Result is the outcome of a lookup.
type Result struct {
	Location
	// Found reports whether the address is in the City or Country database.
	Found bool
	// Network is the City or Country database network the address falls
	// in: every address inside it gets the same Location (ASN aside).
	// When Found is false it is the largest network around the address
	// that the database has no data for (the whole address family for a
	// nil or closed DB), or the host prefix when the reader cannot tell.
	// IPv4 and IPv4-mapped addresses give IPv4 networks.
	Network netip.Prefix
	// ASNNetwork is the ASN database network the address falls in (or the
	// empty network around it); the zero Prefix without an ASN database.
	// ASN and ASOrg are the same for every address inside it.
	ASNNetwork netip.Prefix
}

// The records are decoded into geoip2-golang's models, whose generated
// decoders know the GeoIP2 layout (which DB-IP's databases share) and
// bound what they read. geoip2-golang's own Reader is not used: it rejects
// type spellings such as DB-IP's "dbip-city-lite", cannot Verify a file,
// and Meridian wants the maxminddb Reader's lifetime in its own hands (see
// state in db.go).

// cityPool recycles the (about 1 KiB) geoip2.City that a decode fills.
var cityPool = sync.Pool{New: func() any { return new(geoip2.City) }}

// cityLocation decodes a City (or Enterprise) record.
func cityLocation(res maxminddb.Result) (Location, error) {
	rec := cityPool.Get().(*geoip2.City)
	defer cityPool.Put(rec)
	*rec = geoip2.City{}
	if err := res.Decode(rec); err != nil {
		return Location{}, err
	}
	loc := Location{Country: rec.Country.ISOCode, Continent: rec.Continent.Code}
	if n := len(rec.Subdivisions); n > 0 && loc.Country != "" {
		if code := rec.Subdivisions[n-1].ISOCode; code != "" {
			loc.Subdivision = loc.Country + "-" + code
		}
	}
	lat, lon := rec.Location.Latitude, rec.Location.Longitude
	if lat != nil && lon != nil && validCoords(*lat, *lon) {
		loc.Lat, loc.Lon, loc.HasCoords = *lat, *lon, true
	}
	return loc, nil
}

// countryLocation decodes a Country record: country and continent only.
func countryLocation(res maxminddb.Result) (Location, error) {
	var rec geoip2.Country
	if err := res.Decode(&rec); err != nil {
		return Location{}, err
	}
	return Location{Country: rec.Country.ISOCode, Continent: rec.Continent.Code}, nil
}

// asnOf decodes an ASN (GeoLite2-ASN, DB-IP ASN, GeoIP2-ISP) record.
func asnOf(res maxminddb.Result) (uint32, string, error) {
	var rec geoip2.ASN
	if err := res.Decode(&rec); err != nil {
		return 0, "", err
	}
	if rec.AutonomousSystemNumber > math.MaxUint32 {
		return 0, "", fmt.Errorf("autonomous system number %d out of range", rec.AutonomousSystemNumber)
	}
	return uint32(rec.AutonomousSystemNumber), rec.AutonomousSystemOrganization, nil
}

func validCoords(lat, lon float64) bool {
	return !math.IsNaN(lat) && !math.IsNaN(lon) &&
		lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180
}
