package model

import (
	"net"
	"net/netip"
	"strconv"
)

// validIdent reports whether s can name a region, data center, checker or
// token: the characters of a DNS label, 1 to 63 of them.
func validIdent(s string) bool {
	return s != "" && len(s) <= 63 && allLabelBytes(s)
}

// allLabelBytes reports whether s holds only letters, digits, '-' and '_'.
func allLabelBytes(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

func isLetters(s string) bool {
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

func validHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536 && (validIP(host) || ValidName(host))
}

func atoiPositive(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

func quote(s string) string { return strconv.Quote(s) }
