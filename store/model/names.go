package model

import (
	"strings"
)

// CanonicalName returns name in the canonical form used as a key everywhere
// in the store: lower case, absolute (with the trailing dot). It does not
// validate; see ValidName.
func CanonicalName(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// ValidName reports whether name is a syntactically valid absolute or
// relative domain name in presentation form: labels of 1 to 63 octets, 255
// octets in all. Letters, digits, '-', '_' and a leading '*' label are
// accepted; escapes are not (static records with exotic owner names go
// through a zone file, whose parser handles escapes).
func ValidName(name string) bool {
	if name == "." {
		return true
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for i, label := range strings.Split(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		if label == "*" && i == 0 {
			continue
		}
		if !allLabelBytes(label) {
			return false
		}
	}
	return true
}

// InZone reports whether the canonical name is zone or below it.
func InZone(name, zone string) bool {
	name, zone = CanonicalName(name), CanonicalName(zone)
	if zone == "." {
		return true
	}
	return name == zone || strings.HasSuffix(name, "."+zone)
}
