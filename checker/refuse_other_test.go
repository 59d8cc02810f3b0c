//go:build !unix

package checker

import "testing"

// refusingAddr is a loopback address that refuses connections: here a
// closed listener's port.
func refusingAddr(t *testing.T) string { return closedPort(t) }
