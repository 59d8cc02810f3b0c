package model

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"
)

// Override is an operator's decision that sits above the health verdict
// of a data center or of one endpoint: drain it (planned maintenance),
// force it down or force it up, with a reason. There is at most one
// override per target.
type Override struct {
	Meta
	// Target names what is overridden: "datacenter/<name>" or
	// "endpoint/<service name>/<type>/<address>", as in
	// "endpoint/app.gslb.example.com./A/192.0.2.1". See DatacenterTarget
	// and EndpointTarget.
	Target string `json:"target"`
	// Action is OverrideDrain, OverrideForceDown or OverrideForceUp.
	Action string `json:"action"`
	// Reason says why, for the next operator; it is required.
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Override actions.
const (
	OverrideDrain     = "drain"      // out of answers while anything else is left
	OverrideForceDown = "force_down" // treated as down whatever the checks say
	OverrideForceUp   = "force_up"   // treated as up whatever the checks say
)

// OverrideActions lists the actions.
var OverrideActions = []string{OverrideDrain, OverrideForceDown, OverrideForceUp}

// Kinds of override target (OverrideTarget.Kind).
const (
	TargetDatacenter = "datacenter"
	TargetEndpoint   = "endpoint"
)

// MaxReasonLength bounds an override's reason, in bytes.
const MaxReasonLength = 1024

// OverrideTarget is a parsed Override.Target.
type OverrideTarget struct {
	Kind       string // TargetDatacenter or TargetEndpoint
	Datacenter string // for a data center
	// For an endpoint: the service's canonical name and type, and the
	// endpoint's address as the service lists it.
	Service, Type, Address string
}

// DatacenterTarget is the override target of the data center name.
func DatacenterTarget(name string) string { return TargetDatacenter + "/" + name }

// EndpointTarget is the override target of the endpoint with address of
// the service of that name and type.
func EndpointTarget(service, typ, address string) string {
	return TargetEndpoint + "/" + CanonicalName(service) + "/" + typ + "/" + address
}

// String is the target in its stored form.
func (t OverrideTarget) String() string {
	if t.Kind == TargetDatacenter {
		return DatacenterTarget(t.Datacenter)
	}
	return EndpointTarget(t.Service, t.Type, t.Address)
}

// ParseOverrideTarget reads a target. It accepts only the canonical form
// (service names lower case and absolute, addresses as netip prints them),
// so that one target has one spelling and one override. Errors wrap
// ErrInvalid.
func ParseOverrideTarget(s string) (OverrideTarget, error) {
	t, msg := parseTarget(s)
	if msg != "" {
		return OverrideTarget{}, invalid(KindOverride, s, "target", "%s", msg)
	}
	return t, nil
}

func parseTarget(s string) (OverrideTarget, string) {
	kind, rest, _ := strings.Cut(s, "/")
	switch kind {
	case TargetDatacenter:
		if !validIdent(rest) {
			return OverrideTarget{}, "datacenter/NAME: " + quote(rest) + " is not a data center name"
		}
		return OverrideTarget{Kind: kind, Datacenter: rest}, ""
	case TargetEndpoint:
		parts := strings.Split(rest, "/")
		if len(parts) != 3 {
			return OverrideTarget{}, "want endpoint/SERVICE/TYPE/ADDRESS, as in endpoint/app.example.com./A/192.0.2.1"
		}
		t := OverrideTarget{Kind: kind, Service: parts[0], Type: parts[1], Address: parts[2]}
		if !ValidName(t.Service) || t.Service != CanonicalName(t.Service) {
			return OverrideTarget{}, "service " + quote(t.Service) + " is not a lower-case absolute domain name"
		}
		svc := Service{Name: t.Service, Type: t.Type}
		switch t.Type {
		case "A", "AAAA", "CNAME":
		default:
			return OverrideTarget{}, "type " + quote(t.Type) + " is not A, AAAA or CNAME"
		}
		if msg := svc.validAddress(t.Address); msg != "" {
			return OverrideTarget{}, msg
		}
		if t.Type != "CNAME" {
			if a := netip.MustParseAddr(t.Address); a.String() != t.Address {
				return OverrideTarget{}, "write the address as " + a.String()
			}
		}
		return t, ""
	}
	return OverrideTarget{}, "want datacenter/NAME or endpoint/SERVICE/TYPE/ADDRESS"
}

func (o *Override) ObjectKind() Kind { return KindOverride }

// ObjectName is the target: one override per target.
func (o *Override) ObjectName() string { return o.Target }

func (o *Override) Validate() error {
	if _, err := ParseOverrideTarget(o.Target); err != nil {
		return err
	}
	switch o.Action {
	case OverrideDrain, OverrideForceDown, OverrideForceUp:
	default:
		return invalid(KindOverride, o.Target, "action", "%q is not drain, force_down or force_up", o.Action)
	}
	if strings.TrimSpace(o.Reason) == "" {
		return invalid(KindOverride, o.Target, "reason", "required: say why, for the next operator")
	}
	if len(o.Reason) > MaxReasonLength || !utf8.ValidString(o.Reason) {
		return invalid(KindOverride, o.Target, "reason", "must be UTF-8 text of at most %d bytes", MaxReasonLength)
	}
	if o.CreatedAt.IsZero() {
		return invalid(KindOverride, o.Target, "created_at", "required")
	}
	return nil
}
