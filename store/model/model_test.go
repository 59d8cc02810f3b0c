package model

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"example.test.": true, "example.test": true, ".": true, "*.a.test.": true, "_sip._udp.a.test.": true,
		"": false, "a..test.": false, "a.*.test.": false, "a b.test.": false,
		strings.Repeat("a", 64) + ".test.": false, strings.Repeat("a.", 127) + "test.": false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestInZone(t *testing.T) {
	for _, tt := range []struct {
		name, zone string
		want       bool
	}{
		{"www.a.test.", "a.test.", true}, {"A.TEST", "a.test.", true}, {"a.test.", "a.test.", true},
		{"xa.test.", "a.test.", false}, {"b.test.", "a.test.", false}, {"anything.", ".", true},
	} {
		if got := InZone(tt.name, tt.zone); got != tt.want {
			t.Errorf("InZone(%q, %q) = %v, want %v", tt.name, tt.zone, got, tt.want)
		}
	}
}

func TestHostmasterName(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "hostmaster.a.test.",
		"ops@example.test":        "ops.example.test.",
		"first.last@example.test": `first\.last.example.test.`,
		"dns.example.test":        "dns.example.test.",
	} {
		z := Zone{Name: "a.test.", Hostmaster: in}
		if got := z.HostmasterName(); got != want {
			t.Errorf("HostmasterName(%q) = %q, want %q", in, got, want)
		}
	}
}

func validZone() Zone {
	return Zone{Name: "a.test.", Nameservers: []Nameserver{{Name: "ns1.a.test.", Address: "192.0.2.53"}},
		Records: []Record{{Name: "www.a.test.", Type: "A", TTL: 60, Data: "192.0.2.1"}}}
}

func TestZoneValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Zone)
		want   string // "" for valid
	}{
		{"valid", func(z *Zone) {}, ""},
		{"NS in records instead of nameservers", func(z *Zone) {
			z.Nameservers = nil
			z.Records = append(z.Records, Record{Name: "a.test.", Type: "NS", TTL: 60, Data: "ns.example.net."})
		}, ""},
		{"relative name", func(z *Zone) { z.Name = "a.test" }, "must be lower case and absolute"},
		{"upper case", func(z *Zone) { z.Name = "A.test." }, "must be lower case and absolute"},
		{"root", func(z *Zone) { z.Name = "." }, "not a valid zone name"},
		{"no name servers", func(z *Zone) { z.Nameservers = nil }, "has no NS records"},
		{"in-zone NS without glue", func(z *Zone) { z.Nameservers[0].Address = "" }, "needs an address (glue)"},
		{"in-zone NS with an A record", func(z *Zone) {
			z.Nameservers[0].Address = ""
			z.Records = append(z.Records, Record{Name: "ns1.a.test.", Type: "A", TTL: 60, Data: "192.0.2.53"})
		}, ""},
		{"bad glue", func(z *Zone) { z.Nameservers[0].Address = "nowhere" }, "not an IP address"},
		{"record outside", func(z *Zone) { z.Records[0].Name = "www.b.test." }, "outside the zone"},
		{"SOA below apex", func(z *Zone) {
			z.Records = append(z.Records, Record{Name: "x.a.test.", Type: "SOA", TTL: 60, Data: "ns1.a.test. h.a.test. 1 2 3 4 5"})
		}, "not at the apex"},
		{"two SOAs", func(z *Zone) {
			soa := Record{Name: "a.test.", Type: "SOA", TTL: 60, Data: "ns1.a.test. h.a.test. 1 2 3 4 5"}
			z.Records = append(z.Records, soa, soa)
		}, "more than one SOA"},
		{"retry above refresh", func(z *Zone) { z.SOA = SOATimers{Refresh: 60, Retry: 120} }, "should not exceed refresh"},
		{"expire below refresh", func(z *Zone) { z.SOA = SOATimers{Refresh: 7200, Expire: 3600} }, "must be at least refresh"},
		{"bad hostmaster", func(z *Zone) { z.Hostmaster = "not a mailbox" }, "neither a mailbox nor a domain name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := validZone()
			tt.mutate(&z)
			checkErr(t, z.Validate(), tt.want)
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("accepted, want an error containing %q", want)
	case want != "" && (!strings.Contains(err.Error(), want) || !errors.Is(err, ErrInvalid)):
		t.Errorf("error = %v, want ErrInvalid containing %q", err, want)
	}
}

func validState() State {
	return State{
		Zones:       []Zone{validZone()},
		Regions:     []Region{{Name: "europe", Continents: []string{"EU"}, Countries: []string{"GB"}, Networks: []string{"10.0.0.0/8"}}},
		Datacenters: []Datacenter{{Name: "fra", Region: "europe", Location: Location{Lat: 50.1, Lon: 8.7}}},
		Services: []Service{{Name: "app.a.test.", Type: "A", Policy: Policy{Preset: "geo"},
			Endpoints: []Endpoint{{Datacenter: "fra", Address: "192.0.2.10", Weight: 1}},
			Check:     &Check{Type: "http", Port: 80, Interval: Duration(time.Second), Timeout: Duration(500 * time.Millisecond)}}},
	}
}

func TestStateValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*State)
		want   string
	}{
		{"valid", func(s *State) {}, ""},
		{"duplicate zone", func(s *State) { s.Zones = append(s.Zones, s.Zones[0]) }, "defined twice"},
		{"unknown region", func(s *State) { s.Datacenters[0].Region = "asia" }, `unknown region "asia"`},
		{"unknown data center", func(s *State) { s.Services[0].Endpoints[0].Datacenter = "lon" }, `unknown data center "lon"`},
		{"service outside zones", func(s *State) { s.Services[0].Name = "app.b.test." }, "not inside any served zone"},
		{"A and AAAA services share a name", func(s *State) {
			s.Services = append(s.Services, Service{Name: "app.a.test.", Type: "AAAA",
				Endpoints: []Endpoint{{Datacenter: "fra", Address: "2001:db8::10"}}})
		}, ""},
		{"two A services", func(s *State) { s.Services = append(s.Services, s.Services[0]) }, "A service defined twice"},
		{"CNAME service beside another", func(s *State) {
			s.Services = append(s.Services, Service{Name: "app.a.test.", Type: "CNAME",
				Endpoints: []Endpoint{{Datacenter: "fra", Address: "www.a.test."}}})
		}, "cannot share its name"},
		{"service shadows a record", func(s *State) { s.Services[0].Name = "www.a.test." }, "a static A record of the same name exists"},
		{"bad continent", func(s *State) { s.Regions[0].Continents = []string{"EUR"} }, "is not one of"},
		{"bad country", func(s *State) { s.Regions[0].Countries = []string{"gb"} }, "ISO 3166"},
		{"network with host bits", func(s *State) { s.Regions[0].Networks = []string{"10.0.0.1/8"} }, "host bits"},
		{"bad location", func(s *State) { s.Datacenters[0].Location.Lat = 91 }, "lat must be within"},
		{"country in two regions", func(s *State) {
			s.Regions = append(s.Regions, Region{Name: "uk", Countries: []string{"GB"}})
		}, `GB is already in region "europe"`},
		{"network in two regions", func(s *State) {
			s.Regions = append(s.Regions, Region{Name: "lab", Networks: []string{"10.0.0.0/8"}})
		}, `10.0.0.0/8 is already in region "europe"`},
		{"region step with unknown dc", func(s *State) {
			s.Services[0].Policy = Policy{Steps: []PolicyStep{{Step: StepRegion, Region: map[string][]string{"europe": {"lon"}}}}}
		}, `unknown data center "lon"`},
		{"backup of the wrong family", func(s *State) {
			s.Services[0].Fallback = Fallback{Mode: FallbackBackup, Backup: []string{"2001:db8::1"}}
		}, "backup address"},
		{"bad service type", func(s *State) { s.Services[0].Type = "MX" }, "is not A, AAAA or CNAME"},
		{"AAAA address for A", func(s *State) { s.Services[0].Endpoints[0].Address = "2001:db8::1" }, "not an IPv4 address"},
		{"unknown preset", func(s *State) { s.Services[0].Policy.Preset = "closest" }, "unknown preset"},
		{"preset and steps", func(s *State) { s.Services[0].Policy.Steps = []PolicyStep{{Step: "healthy"}} }, "not both"},
		{"backup without addresses", func(s *State) { s.Services[0].Fallback.Mode = "backup" }, "at least one address"},
		{"no endpoints", func(s *State) { s.Services[0].Endpoints = nil }, "at least one endpoint"},
		{"check interval too short", func(s *State) { s.Services[0].Check.Interval = Duration(100 * time.Millisecond) }, "at least 1s"},
		{"check timeout too long", func(s *State) { s.Services[0].Check.Timeout = Duration(2 * time.Second) }, "shorter than the interval"},
		{"bad quorum", func(s *State) { s.Services[0].Check.Quorum = "most" }, "quorum"},
		{"numeric quorum", func(s *State) { s.Services[0].Check.Quorum = "2" }, ""},
		{"bad check target", func(s *State) { s.Services[0].Endpoints[0].CheckTarget = "10.0.0.1" }, "is not host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validState()
			tt.mutate(&s)
			checkErr(t, s.Validate(), tt.want)
		})
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1500ms")); err != nil || d.D() != 1500*time.Millisecond {
		t.Errorf("1500ms = %v, %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "1.5s" {
		t.Errorf("MarshalText = %s", b)
	}
	if err := d.UnmarshalText([]byte("5 seconds")); err == nil || !strings.Contains(err.Error(), "Go duration") {
		t.Errorf("bad duration accepted or unclear: %v", err)
	}
}

func TestNewObjectCoversEveryKind(t *testing.T) {
	for _, kind := range Kinds {
		obj, ok := NewObject(kind)
		if !ok || obj.ObjectKind() != kind {
			t.Errorf("NewObject(%s) = %v, %v", kind, obj, ok)
		}
	}
	if _, ok := NewObject("nope"); ok {
		t.Error("NewObject accepted an unknown kind")
	}
}
