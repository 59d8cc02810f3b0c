package model

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPolicyFromValue(t *testing.T) {
	tests := []struct {
		name string
		json string // the value as JSON; YAML decodes to the same shapes (ints instead of floats)
		want Policy
		err  string
	}{
		{"preset", `"geo"`, Policy{Preset: "geo"}, ""},
		{"default", `null`, Policy{}, ""},
		{"steps", `["healthy", {"region": {"europe": ["fra", "lon"]}}, "nearest", {"first": 2}]`, Policy{Steps: []PolicyStep{
			{Step: StepHealthy}, {Step: StepRegion, Region: map[string][]string{"europe": {"fra", "lon"}}}, {Step: StepNearest}, {Step: StepFirst, First: 2}}}, ""},
		{"region without map", `["region"]`, Policy{Steps: []PolicyStep{{Step: StepRegion}}}, ""},
		{"a step as a preset", `"nearest"`, Policy{}, `"nearest" is a step, not a preset`},
		{"first without count", `["first"]`, Policy{}, "first needs a count"},
		{"first not a number", `[{"first": "two"}]`, Policy{}, `first: want a whole number, not "two"`},
		{"first fraction", `[{"first": 1.5}]`, Policy{}, "want a whole number"},
		{"two keys", `[{"first": 1, "region": {}}]`, Policy{}, "a mapping with one key"},
		{"args on a plain step", `[{"nearest": 1}]`, Policy{}, `"nearest" takes no arguments`},
		{"region not a map", `[{"region": ["fra"]}]`, Policy{}, "want a mapping of region to data centers"},
		{"region dc not a list", `[{"region": {"eu": "fra"}}]`, Policy{}, `region "eu": want a list`},
		{"empty list", `[]`, Policy{}, "an empty list"},
		{"a number", `3`, Policy{}, "want a preset name or a list of steps"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(tt.json), &v); err != nil {
				t.Fatal(err)
			}
			got, err := PolicyFromValue(v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	for _, p := range []Policy{
		{}, {Preset: "sticky"},
		{Steps: []PolicyStep{{Step: StepHealthy}, {Step: StepRegion, Region: map[string][]string{"eu": {"fra"}}}, {Step: StepRegion}, {Step: StepFirst, First: 3}}},
	} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var got Policy
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("%s does not round-trip (-want +got):\n%s", b, diff)
		}
	}
	var p Policy
	if err := json.Unmarshal([]byte(`"closest"`), &p); err != nil {
		t.Fatal(err) // decoding accepts any name; Validate rejects it
	}
	if err := (&Service{Name: "a.test.", Type: "A", Policy: p, Endpoints: []Endpoint{{Datacenter: "x", Address: "192.0.2.1"}}}).Validate(); err == nil || !strings.Contains(err.Error(), "unknown preset") {
		t.Errorf("unknown preset accepted: %v", err)
	}
}

func TestPolicyChain(t *testing.T) {
	if got := (Policy{}).Chain(); len(got) != 1 || got[0].Step != StepHealthy {
		t.Errorf("default chain = %v, want [healthy]", got)
	}
	for _, name := range PolicyPresets {
		chain := Policy{Preset: name}.Chain()
		if len(chain) == 0 || chain[0].Step != StepHealthy {
			t.Errorf("preset %s = %v: every preset starts with healthy", name, chain)
		}
		if err := (Policy{Steps: chain}).validate(); err != "" {
			t.Errorf("preset %s expands to an invalid chain: %s", name, err)
		}
	}
	if got := (Policy{Preset: "geo"}).String(); got != "geo" {
		t.Errorf("String = %q", got)
	}
}

func TestFallbackCodec(t *testing.T) {
	for in, want := range map[string]Fallback{
		`"all"`: {Mode: FallbackAll}, `"none"`: {Mode: FallbackNone}, `null`: {},
		`{"backup": ["192.0.2.1", "192.0.2.2"]}`: {Mode: FallbackBackup, Backup: []string{"192.0.2.1", "192.0.2.2"}},
	} {
		var got Fallback
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", in, diff)
		}
		b, _ := json.Marshal(got)
		var again Fallback
		if err := json.Unmarshal(b, &again); err != nil || !cmp.Equal(got, again) {
			t.Errorf("%s does not round-trip: %s", in, b)
		}
	}
	for in, want := range map[string]string{
		`"backup"`: "backup needs addresses", `{"backup": "x"}`: "want all, none or {backup",
		`{"backup": [1]}`: "backup addresses are strings", `[1]`: "want all, none",
	} {
		var f Fallback
		if err := json.Unmarshal([]byte(in), &f); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

func TestEndpointWeightJSON(t *testing.T) {
	var eps []Endpoint
	if err := json.Unmarshal([]byte(`[{"datacenter":"fra","address":"192.0.2.1"},{"datacenter":"fra","address":"192.0.2.2","weight":0},{"datacenter":"fra","address":"192.0.2.3","weight":5}]`), &eps); err != nil {
		t.Fatal(err)
	}
	if eps[0].Weight != 1 || eps[1].Weight != 0 || eps[2].Weight != 5 {
		t.Errorf("weights = %d %d %d, want 1 (absent) 0 5", eps[0].Weight, eps[1].Weight, eps[2].Weight)
	}
	b, _ := json.Marshal(eps[1])
	var again Endpoint
	if err := json.Unmarshal(b, &again); err != nil || again.Weight != 0 {
		t.Errorf("weight 0 lost in a round trip: %s -> %d", b, again.Weight)
	}
}
