package geo

import "math"

// EarthRadiusKm is the mean Earth radius (IUGG) used by Distance.
const EarthRadiusKm = 6371.0088

// Distance returns the great-circle distance in kilometres between two
// points given in degrees, by the haversine formula on a sphere of radius
// EarthRadiusKm. On the real, flattened Earth the error is below 0.5 %,
// far less than the error of locating a client by its address.
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ, dλ := (lat2-lat1)*rad, (lon2-lon1)*rad
	s1, s2 := math.Sin(dφ/2), math.Sin(dλ/2)
	h := s1*s1 + math.Cos(φ1)*math.Cos(φ2)*s2*s2
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(min(h, 1)))
}
