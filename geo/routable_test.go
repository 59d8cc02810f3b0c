package geo

import (
	"net/netip"
	"testing"
)

func TestRoutable(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"2.2.3.4", true},
		{"81.2.69.142", true},
		{"8.8.8.8", true},
		{"100.63.255.255", true},
		{"100.128.0.0", true},
		{"172.32.0.1", true},
		{"192.0.3.1", true},
		{"223.255.255.255", true},
		{"2001:218::1", true},
		{"2a02:d000::1", true},
		{"2001:dba::1", true},
		{"64:ff9b::808:808", true}, // NAT64 of a public address
		{"::ffff:2.2.3.4", true},

		{"10.1.2.3", false},        // RFC 1918
		{"172.16.0.1", false},      // RFC 1918
		{"172.31.255.255", false},  // RFC 1918
		{"192.168.1.1", false},     // RFC 1918
		{"127.0.0.1", false},       // loopback
		{"169.254.1.1", false},     // link-local
		{"224.0.0.1", false},       // multicast
		{"239.255.255.250", false}, // multicast
		{"0.0.0.0", false},         // unspecified
		{"0.1.2.3", false},         // this network
		{"100.64.0.1", false},      // CGNAT
		{"100.127.255.255", false}, // CGNAT
		{"192.0.0.8", false},       // IETF protocol assignments
		{"192.0.2.1", false},       // TEST-NET-1
		{"198.18.0.1", false},      // benchmarking
		{"198.51.100.7", false},    // TEST-NET-2
		{"203.0.113.9", false},     // TEST-NET-3
		{"240.0.0.1", false},       // reserved
		{"255.255.255.255", false}, // broadcast
		{"::", false},
		{"::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"3fff::1", false},
		{"100::1", false},
		{"fec0::1", false},
		{"::ffff:10.1.2.3", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:192.0.2.1", false},
		{"::ffff:100.64.0.1", false},
	}
	for _, tt := range tests {
		if got := Routable(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Routable(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if Routable(netip.Addr{}) {
		t.Error("Routable(invalid) = true")
	}
}
