package model

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseOverrideTarget(t *testing.T) {
	for _, c := range []struct {
		in   string
		want OverrideTarget
		err  string
	}{
		{"datacenter/fra", OverrideTarget{Kind: TargetDatacenter, Datacenter: "fra"}, ""},
		{"endpoint/app.example.com./A/192.0.2.1", OverrideTarget{Kind: TargetEndpoint, Service: "app.example.com.", Type: "A", Address: "192.0.2.1"}, ""},
		{"endpoint/app.example.com./AAAA/2001:db8::1", OverrideTarget{Kind: TargetEndpoint, Service: "app.example.com.", Type: "AAAA", Address: "2001:db8::1"}, ""},
		{"endpoint/www.example.com./CNAME/edge.cdn.example.", OverrideTarget{Kind: TargetEndpoint, Service: "www.example.com.", Type: "CNAME", Address: "edge.cdn.example."}, ""},
		{"datacenter/", OverrideTarget{}, "not a data center name"},
		{"datacenter/fra/x", OverrideTarget{}, "not a data center name"},
		{"rack/12", OverrideTarget{}, "want datacenter/NAME"},
		{"endpoint/app.example.com./A", OverrideTarget{}, "want endpoint/SERVICE/TYPE/ADDRESS"},
		{"endpoint/App.example.com/A/192.0.2.1", OverrideTarget{}, "lower-case absolute"},
		{"endpoint/app.example.com./MX/192.0.2.1", OverrideTarget{}, "not A, AAAA or CNAME"},
		{"endpoint/app.example.com./A/2001:db8::1", OverrideTarget{}, "not an IPv4 address"},
		{"endpoint/app.example.com./AAAA/2001:DB8::1", OverrideTarget{}, "write the address as 2001:db8::1"},
	} {
		got, err := ParseOverrideTarget(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, ErrInvalid)):
			t.Errorf("%s: error %v, want one containing %q", c.in, err, c.err)
		case got != c.want:
			t.Errorf("%s = %+v, want %+v", c.in, got, c.want)
		case c.err == "" && got.String() != c.in:
			t.Errorf("%s: String() = %s", c.in, got.String())
		}
	}
	if got := EndpointTarget("App.Example.com", "A", "192.0.2.1"); got != "endpoint/app.example.com./A/192.0.2.1" {
		t.Errorf("EndpointTarget = %s", got)
	}
}

func TestOverrideValidate(t *testing.T) {
	ok := func() *Override {
		return &Override{Target: "datacenter/fra", Action: OverrideDrain, Reason: "maintenance", CreatedAt: time.Now()}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field  string
		mutate func(*Override)
	}{
		{"target", func(o *Override) { o.Target = "datacenter/f r a" }},
		{"action", func(o *Override) { o.Action = "pause" }},
		{"reason", func(o *Override) { o.Reason = "  " }},
		{"reason", func(o *Override) { o.Reason = strings.Repeat("x", MaxReasonLength+1) }},
		{"reason", func(o *Override) { o.Reason = "\xff" }},
		{"created_at", func(o *Override) { o.CreatedAt = time.Time{} }},
	} {
		o := ok()
		c.mutate(o)
		err := o.Validate()
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ": "+c.field+": ") {
			t.Errorf("%s: error %v", c.field, err)
		}
	}
	if o := ok(); o.ObjectName() != o.Target || o.ObjectKind() != KindOverride {
		t.Errorf("identity = %s %s", o.ObjectKind(), o.ObjectName())
	}
}
