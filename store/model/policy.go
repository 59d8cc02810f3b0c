package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
)

// Policy steps, each taking the candidate endpoints and returning fewer or
// reordered ones. dnsserver implements them; see its README.
const (
	StepHealthy    = "healthy"    // drop endpoints that are down, drained or forced down
	StepRegion     = "region"     // prefer data centers of the client's region
	StepNearest    = "nearest"    // keep the nearest data center(s) by great-circle distance
	StepPriority   = "priority"   // keep the lowest priority group
	StepWeighted   = "weighted"   // order by weighted random draw
	StepSticky     = "sticky"     // order by rendezvous hash of the client subnet
	StepLeastLoad  = "leastload"  // order by reported load, lowest first
	StepRoundRobin = "roundrobin" // rotate the order per query
	StepFirst      = "first"      // keep the first N
)

// PolicySteps lists the step names.
var PolicySteps = []string{StepHealthy, StepRegion, StepNearest, StepPriority, StepWeighted, StepSticky, StepLeastLoad, StepRoundRobin, StepFirst}

// presets maps each preset name to its chain.
var presets = map[string][]PolicyStep{
	"geo":        {{Step: StepHealthy}, {Step: StepRegion}, {Step: StepNearest}},
	"failover":   {{Step: StepHealthy}, {Step: StepPriority}},
	"weighted":   {{Step: StepHealthy}, {Step: StepWeighted}, {Step: StepFirst, First: 1}},
	"roundrobin": {{Step: StepHealthy}, {Step: StepRoundRobin}},
	"sticky":     {{Step: StepHealthy}, {Step: StepSticky}, {Step: StepFirst, First: 1}},
	"leastload":  {{Step: StepHealthy}, {Step: StepLeastLoad}, {Step: StepFirst, First: 1}},
	"all":        {{Step: StepHealthy}},
}

// PolicyPresets lists the preset names, sorted.
var PolicyPresets = slices.Sorted(maps.Keys(presets))

// DefaultPreset is the policy of a service that names none: every healthy
// endpoint.
const DefaultPreset = "all"

// Chain returns the steps the policy runs: its own, or its preset's.
func (p Policy) Chain() []PolicyStep {
	if len(p.Steps) > 0 {
		return p.Steps
	}
	name := p.Preset
	if name == "" {
		name = DefaultPreset
	}
	return presets[name]
}

// String is the policy as it is written in a state file (JSON flow style).
func (p Policy) String() string {
	if p.Preset == "" && len(p.Steps) == 0 {
		return DefaultPreset
	}
	if len(p.Steps) == 0 {
		return p.Preset
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func (p Policy) validate() string {
	if p.Preset != "" && len(p.Steps) > 0 {
		return "give a preset or steps, not both"
	}
	if p.Preset != "" && presets[p.Preset] == nil {
		return fmt.Sprintf("unknown preset %q (want one of %s, or a list of steps)", p.Preset, strings.Join(PolicyPresets, ", "))
	}
	for i, st := range p.Steps {
		if !slices.Contains(PolicySteps, st.Step) {
			return fmt.Sprintf("step %d: unknown step %q (want one of %s)", i+1, st.Step, strings.Join(PolicySteps, ", "))
		}
		if st.Step == StepFirst && st.First < 1 {
			return fmt.Sprintf("step %d: first needs a count of at least 1, as in {first: 2}", i+1)
		}
		if st.Step != StepFirst && st.First != 0 || st.Step != StepRegion && st.Region != nil {
			return fmt.Sprintf("step %d: %s takes no arguments", i+1, st.Step)
		}
		for region, dcs := range st.Region {
			if len(dcs) == 0 {
				return fmt.Sprintf("step %d: region %q maps to no data centers", i+1, region)
			}
		}
	}
	return ""
}

// PolicyFromValue reads a policy from a generically decoded YAML or JSON
// value: a preset name, or a list whose items are step names or one-key
// mappings {region: {REGION: [DC, ...]}} and {first: N}.
func PolicyFromValue(v any) (Policy, error) {
	switch v := v.(type) {
	case nil:
		return Policy{}, nil
	case string:
		if presets[v] == nil && slices.Contains(PolicySteps, v) {
			return Policy{}, fmt.Errorf("%q is a step, not a preset: write a list, as in [%s]", v, v)
		}
		return Policy{Preset: v}, nil
	case []any:
		if len(v) == 0 {
			return Policy{}, fmt.Errorf("an empty list of steps")
		}
		p := Policy{Steps: make([]PolicyStep, 0, len(v))}
		for i, item := range v {
			st, err := stepFromValue(item)
			if err != nil {
				return Policy{}, fmt.Errorf("step %d: %w", i+1, err)
			}
			p.Steps = append(p.Steps, st)
		}
		return p, nil
	}
	return Policy{}, fmt.Errorf("want a preset name or a list of steps, not %s", describe(v))
}

func stepFromValue(v any) (PolicyStep, error) {
	switch v := v.(type) {
	case string:
		if v == StepFirst {
			return PolicyStep{}, fmt.Errorf("first needs a count, as in {first: 2}")
		}
		return PolicyStep{Step: v}, nil
	case map[string]any:
		if len(v) != 1 {
			return PolicyStep{}, fmt.Errorf("a step with arguments is a mapping with one key, as in {first: 2}")
		}
		for name, arg := range v {
			switch name {
			case StepFirst:
				n, ok := wholeNumber(arg)
				if !ok {
					return PolicyStep{}, fmt.Errorf("first: want a whole number, not %s", describe(arg))
				}
				return PolicyStep{Step: StepFirst, First: n}, nil
			case StepRegion:
				m, ok := arg.(map[string]any)
				if !ok {
					return PolicyStep{}, fmt.Errorf("region: want a mapping of region to data centers, as in {region: {europe: [fra, lon]}}")
				}
				st := PolicyStep{Step: StepRegion, Region: map[string][]string{}}
				for region, dcs := range m {
					list, ok := dcs.([]any)
					if !ok {
						return PolicyStep{}, fmt.Errorf("region %q: want a list of data centers, not %s", region, describe(dcs))
					}
					for _, dc := range list {
						name, ok := dc.(string)
						if !ok {
							return PolicyStep{}, fmt.Errorf("region %q: data center names are strings, not %s", region, describe(dc))
						}
						st.Region[region] = append(st.Region[region], name)
					}
				}
				return st, nil
			default:
				return PolicyStep{}, fmt.Errorf("%q takes no arguments (only region and first do)", name)
			}
		}
	}
	return PolicyStep{}, fmt.Errorf("want a step name or a mapping, not %s", describe(v))
}

// value is the policy as a generic value, the inverse of PolicyFromValue:
// nil for the zero policy (the default), so that encoding round-trips
// exactly.
func (p Policy) value() any {
	if len(p.Steps) == 0 {
		if p.Preset == "" {
			return nil
		}
		return p.Preset
	}
	out := make([]any, len(p.Steps))
	for i, st := range p.Steps {
		switch {
		case st.Step == StepFirst:
			out[i] = map[string]any{StepFirst: st.First}
		case st.Step == StepRegion && st.Region != nil:
			out[i] = map[string]any{StepRegion: st.Region}
		default:
			out[i] = st.Step
		}
	}
	return out
}

func (p Policy) MarshalJSON() ([]byte, error) { return json.Marshal(p.value()) }

func (p *Policy) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	pol, err := PolicyFromValue(v)
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	*p = pol
	return nil
}

// FallbackFromValue reads a fallback from a generically decoded value:
// "all", "none" or {backup: [ADDRESS, ...]}.
func FallbackFromValue(v any) (Fallback, error) {
	switch v := v.(type) {
	case nil:
		return Fallback{}, nil
	case string:
		if v == FallbackBackup {
			return Fallback{}, fmt.Errorf("backup needs addresses, as in {backup: [192.0.2.1]}")
		}
		return Fallback{Mode: v}, nil
	case map[string]any:
		list, ok := v[FallbackBackup].([]any)
		if len(v) != 1 || !ok {
			return Fallback{}, fmt.Errorf("want all, none or {backup: [addresses]}")
		}
		f := Fallback{Mode: FallbackBackup}
		for _, a := range list {
			s, ok := a.(string)
			if !ok {
				return Fallback{}, fmt.Errorf("backup addresses are strings, not %s", describe(a))
			}
			f.Backup = append(f.Backup, s)
		}
		return f, nil
	}
	return Fallback{}, fmt.Errorf("want all, none or {backup: [addresses]}, not %s", describe(v))
}

func (f Fallback) value() any {
	switch f.Mode {
	case FallbackBackup:
		return map[string]any{FallbackBackup: f.Backup}
	case "":
		return nil // the default, all
	}
	return f.Mode
}

func (f Fallback) MarshalJSON() ([]byte, error) { return json.Marshal(f.value()) }

func (f *Fallback) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	fb, err := FallbackFromValue(v)
	if err != nil {
		return fmt.Errorf("fallback: %w", err)
	}
	*f = fb
	return nil
}

// wholeNumber accepts the integer forms YAML (int) and JSON (float64)
// decoders produce.
func wholeNumber(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), n <= math.MaxInt32
	case float64:
		return int(n), n == math.Trunc(n) && math.Abs(n) <= math.MaxInt32
	}
	return 0, false
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "nothing"
	case string:
		return fmt.Sprintf("%q", v)
	case []any:
		return "a list"
	case map[string]any:
		keys := slices.Collect(maps.Keys(v))
		sort.Strings(keys)
		return "a mapping with keys " + strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%v", v)
}
