package geo

import (
	"math"
	"testing"
)

// The reference distances are geodesics on the WGS84 ellipsoid (Vincenty's
// inverse formula, computed separately), so the test also bounds the error
// of the spherical model.
func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		km                     float64
	}{
		{"London–Frankfurt", 51.5074, -0.1278, 50.1109, 8.6821, 639.7},
		{"New York–Singapore", 40.7128, -74.0060, 1.3521, 103.8198, 15340.6},
		{"Sydney–London", -33.8688, 151.2093, 51.5074, -0.1278, 16989.3},
		{"San Francisco–Tokyo (across 180°)", 37.7749, -122.4194, 35.6762, 139.6503, 8293.4},
		{"São Paulo–Johannesburg", -23.5505, -46.6333, -26.2041, 28.0473, 7441.8},
		{"Quito–Singapore (nearly antipodal)", -0.1807, -78.4678, 1.3521, 103.8198, 19743.4},
	}
	for _, tt := range tests {
		got := Distance(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
		if math.Abs(got-tt.km)/tt.km > 0.01 {
			t.Errorf("%s: Distance = %.1f km, want %.1f km ± 1%%", tt.name, got, tt.km)
		}
		if back := Distance(tt.lat2, tt.lon2, tt.lat1, tt.lon1); math.Abs(back-got) > 1e-9 {
			t.Errorf("%s: not symmetric: %v and %v", tt.name, got, back)
		}
	}
	// The haversine values themselves, to the metre.
	if got := Distance(51.5074, -0.1278, 50.1109, 8.6821); math.Abs(got-637.8) > 0.1 {
		t.Errorf("London–Frankfurt = %.2f km, want the haversine 637.8 km", got)
	}
	if got := Distance(48.85, 2.35, 48.85, 2.35); got != 0 {
		t.Errorf("same point: %v", got)
	}
	// Half the circumference between antipodes, and no NaN from rounding.
	if got := Distance(0, 0, 0, 180); math.Abs(got-math.Pi*EarthRadiusKm) > 1e-6 {
		t.Errorf("antipodes: %v, want %v", got, math.Pi*EarthRadiusKm)
	}
	if got := Distance(90, 0, -90, 0); math.IsNaN(got) || math.Abs(got-math.Pi*EarthRadiusKm) > 1e-6 {
		t.Errorf("pole to pole: %v", got)
	}
}
